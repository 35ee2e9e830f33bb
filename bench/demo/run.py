"""One demo run from start to finish: bring the pipeline up, drive the plan, judge, stop.

:func:`run_demo` returns the exit status (0 only if every outcome matches the script) after
everything it started has been stopped and the run's queues and exchanges deleted, also when
it is cancelled (Ctrl-C) or a child dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from yarl import URL

from bench.child import ChildError
from bench.demo.collect import Collector
from bench.demo.config import WORKERS, RunConfig
from bench.demo.drive import Driver
from bench.demo.pipeline import Pipeline
from bench.demo.progress import Progress
from bench.demo.report import Summary, check, render
from bench.demo.scenario import CASES, Case, Planned, plan

MANAGEMENT_PORT = 15672
PROMETHEUS_PORT = 15692


@dataclass(frozen=True)
class Options:
    """What the command line asks for."""

    count: int
    seed: int
    in_flight: int
    outcome_timeout_s: float
    amqp_url: str
    run_dir: Path | None = None  # default: <tmp>/wxdemo-<tag>
    keep_running: bool = False
    cases: tuple[Case, ...] = CASES


def say(text: str, stream: TextIO | None = None) -> None:
    """One line on stderr (or ``stream``)."""
    print(text, file=stream or sys.stderr, flush=True)


async def run_demo(options: Options, out: TextIO | None = None) -> int:
    """The whole run; the exit status (1 also when the pipeline could not be brought up)."""
    tag = secrets.token_hex(4)
    run_dir = options.run_dir or Path(tempfile.gettempdir()) / f"wxdemo-{tag}"
    run_dir.mkdir(parents=True, exist_ok=True)
    config = RunConfig(run_dir=run_dir.resolve(), amqp_url=options.amqp_url, tag=tag)
    pipeline = Pipeline(config, Collector())
    say(f"wxface demo: run {config.prefix}, logs in {config.run_dir}")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        try:
            return await _run(pipeline, http, options, out or sys.stdout)
        except ChildError as exc:
            say(f"demo failed: {exc}")
            return 1
        finally:
            statuses, deleted = await asyncio.shield(pipeline.stop())
            names = "deleted" if deleted else "NOT deleted (RabbitMQ unreachable)"
            stopped = ", ".join(f"{name} {code}" for name, code in statuses.items())
            say(f"stopped: {stopped}; queues and exchanges {config.prefix}.* {names}")


async def _run(
    pipeline: Pipeline, http: aiohttp.ClientSession, options: Options, out: TextIO
) -> int:
    say("starting the WeChat stand-in, a subscriber, the receiver and two workers…")
    await pipeline.start(http)
    links = await where_to_look(http, pipeline.config)
    say("ready; while it runs, look at:\n" + "\n".join(f"  {n:<28} {w}" for n, w in links))
    planned = plan(options.count, options.seed, pipeline.config.tag, options.cases)
    summary = await drive(pipeline, http, planned, options)
    say(render(summary, links), out)
    if options.keep_running:
        say("--keep-running: everything stays up until Ctrl-C")
        await asyncio.Event().wait()
    return 0 if summary.passed else 1


async def drive(
    pipeline: Pipeline, http: aiohttp.ClientSession, planned: list[Planned], options: Options
) -> Summary:
    """Drive the plan with a progress bar, watching the children; the judged run."""
    collector = pipeline.collector
    driver = Driver(http, pipeline.config, collector, in_flight=options.in_flight,
                    outcome_timeout_s=options.outcome_timeout_s)  # fmt: skip
    progress = Progress(len(planned), lambda: (len(collector.arrivals), driver.started), sys.stderr)
    started = time.monotonic()
    bar = asyncio.create_task(progress.run())
    try:
        problems = await _run_watched(pipeline, driver.run(planned))
    finally:
        bar.cancel()
        progress.finish()
    last = max((a[0].at for a in collector.arrivals.values()), default=time.monotonic())
    return Summary(
        checked=check(planned, driver.submissions, collector.arrivals),
        elapsed_s=max(0.0, last - started),
        repeats=collector.repeats,
        register_retries=sum(s.register_retries for s in driver.submissions.values()),
        token_resets=driver.global_invalidations,
        problems=(*problems, *driver.problems),
    )


async def _run_watched(pipeline: Pipeline, work: Coroutine[Any, Any, None]) -> list[str]:
    """Run ``work`` until done or a child dies; the problems met."""
    task = asyncio.create_task(work)
    watch = asyncio.create_task(pipeline.watch())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, watch):
            t.cancel()
        results = await asyncio.gather(task, watch, return_exceptions=True)
    return [f"{r}" for r in results if isinstance(r, ChildError | ExceptionGroup)]


async def where_to_look(http: aiohttp.ClientSession, config: RunConfig) -> list[tuple[str, str]]:
    """Management UI and /metrics URLs (the broker's only if its plugins answer)."""
    host = URL(config.amqp_url).host or "127.0.0.1"
    ui = f"http://{host}:{MANAGEMENT_PORT}/#/queues (guest/guest; filter {config.prefix})"
    prom = f"http://{host}:{PROMETHEUS_PORT}/metrics"
    if not await _answers(http, f"http://{host}:{MANAGEMENT_PORT}/"):
        ui = "not enabled: rabbitmq-plugins enable rabbitmq_management"
    if not await _answers(http, prom):
        prom = "not enabled: rabbitmq-plugins enable rabbitmq_prometheus"
    links = [("RabbitMQ management UI", ui), ("RabbitMQ metrics", prom),
             ("receiver metrics", f"{config.receiver_url}/metrics")]  # fmt: skip
    links += [
        (f"worker {n + 1} metrics", f"{config.worker_url(n)}/metrics") for n in range(WORKERS)
    ]
    return [*links, ("logs", str(config.run_dir))]


async def _answers(http: aiohttp.ClientSession, url: str) -> bool:
    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
            return response.status == 200
    return False
