"""``python -m bench worker``: the worker's throughput, CPU per confirmation and latency.

With the stand-in answering every WeChat call after ``--latency-ms`` (100):
1. one worker process, ``--messages`` work items enqueued at once: outcomes/s against the bound
   prefetch × processes / latency, and CPU per message of the worker, the stand-in, RabbitMQ
   and the benchmark process itself;
2. the same with two worker processes;
3. a burst of ``--burst`` items at once (two workers): how long until each was decided;
4. a steady ``--steady-rate`` per second for ``--steady-seconds``, after 1 and after 2: push→outcome
   and CPU per message. The workers are restarted with a larger window (``--steady-prefetch``
   each for two, twice that for one), sized so that the rate is about half of what they turn
   over, as docs/operations.md advises; at a bound barely above the rate a backlog would
   build, and the phase would measure the queue instead of the pipeline. One worker at the
   whole rate and two at half of it show what the split costs: a worker's messages share
   store batches, wake-ups and writes only with its own;
5. the bare hand-written loop (``bench.worker.bare``), as in 1 and 2 and, with the steady
   phase, as in 4, for the ratios: a worker's CPU per message and share of the bound against
   the bare loop's in as many processes, a drain against a drain and the steady rate against
   the steady rate (at a steady rate every process does more per message than in a drain,
   whose messages arrive and leave together).
Each worker phase also reports where a message's time went inside the workers, from their own
histograms read before and after the phase (``bench.worker.stages``): the WeChat call, the
store batches and the publish confirms.
Each configuration first drains ``--warmup`` unreported items. ``--full`` uses the issue's sizes.
``--flow v2`` gives the workers v2 sessions (``queryverifyinfo``, the current API generation)
instead of legacy pushes (``getinfo``); the bare loop, which reads no session, stays legacy.
``--phases steady,bare`` (say) runs only those: for experiments that need one phase.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import uvloop

from bench.child import Child, child_env
from bench.cpu import cpu_seconds
from bench.databases import BACKENDS, POSTGRES_DSN, database
from bench.logs import logged_trouble
from bench.receiver import profile
from bench.worker.children import start_workers
from bench.worker.phases import PhaseResult, drain, steady
from bench.worker.report import Measured, render, valid
from bench.worker.rig import Rig, open_rig
from bench.worker.seed import APPID, SECRET
from bench.worker.stages import scrape
from shared.log import configure_logging
from shared.settings import AmqpSettings, load_settings
from shared.vocabulary import Flow

FULL = {"messages": 10_000, "burst": 20_000, "steady_seconds": 20.0}
PHASES = ("throughput", "burst", "steady", "bare")


def _phases(text: str) -> tuple[str, ...]:
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(chosen) - set(PHASES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(PHASES)}; got {text!r}")
    return chosen


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench worker", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--messages", type=int, default=3000, help="per throughput phase")
    p.add_argument("--burst", type=int, default=5000, help="items of the burst phase")
    p.add_argument("--steady-rate", type=float, default=1000.0, help="per second")
    p.add_argument("--steady-seconds", type=float, default=3.0)
    p.add_argument("--latency-ms", type=float, default=100.0, help="the stand-in's latency")
    p.add_argument("--prefetch", type=int, default=64, help="WXFACE_WORKER_PREFETCH")
    p.add_argument(
        "--steady-prefetch",
        type=int,
        default=128,
        help="the same, steady phase, each of two workers (one alone: twice it)",
    )
    p.add_argument("--batch-linger-ms", type=float, default=None,
                   help="WXFACE_WORKER_BATCH_LINGER_MS (default: the worker's)")  # fmt: skip
    p.add_argument("--backlog-linger-ms", type=float, default=None,
                   help="WXFACE_WORKER_BACKLOG_LINGER_MS (default: the worker's)")  # fmt: skip
    p.add_argument("--warmup", type=int, default=200, help="unreported items per configuration")
    p.add_argument("--no-profile", action="store_true", help="skip the py-spy run")
    p.add_argument("--full", action="store_true", help="the issue's sizes: " + str(FULL))
    p.add_argument("--output", type=Path, help="also write the Markdown report here")
    p.add_argument("--store", choices=BACKENDS, default="sqlite", help="the workers' store")
    p.add_argument("--flow", type=Flow, choices=list(Flow), default=Flow.LEGACY,
                   help="the workers' sessions: legacy (pushes, getinfo) or v2 (results, "
                        "queryverifyinfo); the bare loop always runs legacy")  # fmt: skip
    p.add_argument("--postgres-dsn", default=POSTGRES_DSN, help="with --store postgres")
    p.add_argument("--phases", type=_phases, default=PHASES,
                   help=f"comma-separated, from {','.join(PHASES)} (default: all)")  # fmt: skip
    args = p.parse_args(argv)
    if args.full:
        vars(args).update(FULL)
    return args


def main(argv: list[str]) -> int:
    """Entry point; 0 when every phase ended in one verified outcome per session."""
    args = parse_args(argv)
    configure_logging(level="warning")
    amqp_url = load_settings(AmqpSettings).amqp_url.get_secret_value()
    return uvloop.run(run(args, amqp_url))  # the benchmark's own cost per message kept low


async def run(args: argparse.Namespace, amqp_url: str) -> int:
    """Every phase in order; print (and maybe write) the report."""
    context = _context(args)
    print(context, flush=True)
    with tempfile.TemporaryDirectory(prefix="wxbench-worker-") as tmp:
        workdir = Path(tmp)
        async with (
            database(args.store, args.postgres_dsn, workdir) as database_url,
            open_rig(amqp_url, workdir, args.latency_ms, database_url) as rig,
        ):
            context += " " + await _broker_background(rig)
            rows = await _worker_phases(rig, args, 1) + await _worker_phases(rig, args, 2)
            bare = [m for n in (1, 2) if "bare" in args.phases for m in await _bare(rig, args, n)]
            text = await _profile(rig, args) if not args.no_profile else ""
        logged = logged_trouble(workdir, "worker*.log")
    rows += bare
    report = render(context, rows, bare, text, logged)
    print(report)
    if args.output is not None:
        args.output.write_text(report + "\n")
    return 0 if valid(rows, logged) else 1


async def _broker_background(rig: Rig, seconds: float = 3.0) -> str:
    """RabbitMQ's CPU while this benchmark is idle: the other jobs' share of each phase."""
    if rig.rabbitmq is None:
        return "RabbitMQ's process (beam.smp) was not found: its CPU is not reported."
    before = cpu_seconds(rig.rabbitmq) or 0.0
    await asyncio.sleep(seconds)  # measuring a rate over time
    used = (cpu_seconds(rig.rabbitmq) or 0.0) - before
    return f"RabbitMQ used {used / seconds * 1e3:.0f} ms CPU/s before the phases (other jobs)."


def _bound(prefetch: int, latency_ms: float, processes: int) -> float:
    return prefetch * processes / (latency_ms / 1000)


async def _worker_phases(rig: Rig, args: argparse.Namespace, n: int) -> list[Measured]:
    """Throughput and the steady rate with ``n`` workers; with two, the burst as well (each
    only when among ``--phases``)."""
    label = f"worker ×{n}"
    drains = [(f"throughput, {n} worker(s)", args.messages)] if "throughput" in args.phases else []
    if n == 2 and "burst" in args.phases:
        drains.append(("burst", args.burst))
    results: list[PhaseResult] = []
    if drains:
        async with _workers(rig, args, n, args.prefetch):
            results = [await _drain(rig, name, count, args.flow) for name, count in drains]
    bound, slots = _bound(args.prefetch, args.latency_ms, n), args.prefetch * n
    measured = [Measured(r, label, n, bound, slots) for r in results]  # drains: every slot busy
    if "steady" in args.phases:
        prefetch = args.steady_prefetch * 2 // n  # the same window, however many share it
        results.append(await _steady(rig, args, n, prefetch))
        measured.append(Measured(results[-1], label, n, _bound(prefetch, args.latency_ms, n)))
    for r in results:
        print(_line(r), flush=True)
    return measured


async def _steady(rig: Rig, args: argparse.Namespace, n: int, prefetch: int) -> PhaseResult:
    # seeded before the workers start, so that their warm-up comes right before the phase:
    # seeding a 20 s phase kept them idle for longer than they keep WeChat connections (15 s),
    # and the phase opened with a burst of slow WeChat calls (BENCHMARKS.md, session 6)
    creds = await rig.seed(round(args.steady_rate * args.steady_seconds), args.flow)
    async with _workers(rig, args, n, prefetch):
        name = f"steady {args.steady_rate:,.0f}/s, {n} worker(s)"
        return await _staged(rig, steady(name, rig.publisher, rig.collector, creds, rig.groups,
                                         args.steady_rate))  # fmt: skip


@contextlib.asynccontextmanager
async def _workers(
    rig: Rig, args: argparse.Namespace, n: int, prefetch: int
) -> AsyncIterator[None]:
    """``n`` warmed-up workers at ``prefetch`` under measurement, stopped afterwards."""
    launch = rig.launch(prefetch, args.batch_linger_ms, args.backlog_linger_ms)
    workers = await start_workers(launch, n, rig.workdir)
    rig.subject = [worker.pid for worker, _ in workers]
    rig.metrics = [metrics for _, metrics in workers]
    try:
        await _warm_up(rig, args, args.flow)
        yield
    finally:
        rig.metrics = []
        for worker, _ in workers:
            await worker.stop()


async def _drain(rig: Rig, name: str, count: int, flow: Flow) -> PhaseResult:
    creds = await rig.seed(count, flow)
    return await _staged(rig, drain(name, rig.publisher, rig.collector, creds, rig.groups))


async def _staged(rig: Rig, phase: Awaitable[PhaseResult]) -> PhaseResult:
    """``phase``'s result, with the workers' own histograms over it (bench/worker/stages.py)."""
    before = await scrape(rig.metrics)
    result = await phase
    after = await scrape(rig.metrics)
    if before is None or after is None:
        return result
    return dataclasses.replace(result, stages=after.since(before))


async def _warm_up(rig: Rig, args: argparse.Namespace, flow: Flow) -> None:
    if args.warmup > 0:
        await _drain(rig, "warm-up", args.warmup, flow)


async def _bare(rig: Rig, args: argparse.Namespace, n: int) -> list[Measured]:
    """The bare loop in ``n`` processes, as the ``n``-worker throughput phase and, when the
    steady phase runs, as the ``n``-worker steady phase (its window and rate)."""
    label = f"bare loop ×{n}"
    async with _bare_loops(rig, args, n, args.prefetch):
        result = await _drain(rig, f"throughput, {label}", args.messages, Flow.LEGACY)
    measured = [Measured(result, label, n, _bound(args.prefetch, args.latency_ms, n),
                         args.prefetch * n)]  # fmt: skip
    if "steady" in args.phases:
        prefetch = args.steady_prefetch * 2 // n  # as the workers' steady phase
        creds = await rig.seed(round(args.steady_rate * args.steady_seconds), Flow.LEGACY)
        async with _bare_loops(rig, args, n, prefetch):
            name = f"steady {args.steady_rate:,.0f}/s, {label}"
            result = await steady(name, rig.publisher, rig.collector, creds, rig.groups,
                                  args.steady_rate)  # fmt: skip
        measured.append(Measured(result, label, n, _bound(prefetch, args.latency_ms, n)))
    for m in measured:
        print(_line(m.result), flush=True)
    return measured


@contextlib.asynccontextmanager
async def _bare_loops(
    rig: Rig, args: argparse.Namespace, n: int, prefetch: int
) -> AsyncIterator[None]:
    """``n`` warmed-up bare loops at ``prefetch`` under measurement, stopped afterwards."""
    argv = ["-m", "bench.worker.bare", *_bare_args(rig, prefetch)]
    children = [Child(f"bare{i}", argv, child_env(), rig.workdir / f"bare{i}.log",
                      pipe_stdout=True) for i in range(n)]  # fmt: skip
    try:
        for child in children:
            await child.start()
            await child.first_line()
        rig.subject = [child.pid for child in children]
        await _warm_up(rig, args, Flow.LEGACY)  # it knows no session: getinfo only
        yield
    finally:
        for child in children:
            await child.stop()


def _bare_args(rig: Rig, prefetch: int) -> list[str]:
    return [
        "--amqp-url", rig.amqp_url, "--prefix", rig.topology.prefix, "--api-base", rig.api_base,
        "--appid", APPID, "--secret", SECRET, "--prefetch", str(prefetch),
    ]  # fmt: skip


async def _profile(rig: Rig, args: argparse.Namespace) -> str:
    """py-spy on one worker draining ``--messages`` items; the summary (figures not reported)."""
    if not profile.available():
        return "py-spy is not installed (pip install py-spy): no profile"
    out = rig.workdir / "profile.txt"
    async with _workers(rig, args, 1, args.prefetch):
        creds = await rig.seed(args.messages, args.flow)
        seconds = args.messages / _bound(args.prefetch, args.latency_ms, 1) + 1
        recording = asyncio.create_task(profile.record(rig.subject[0], seconds, out))
        await drain("profile", rig.publisher, rig.collector, creds, rig.groups)
        await recording
    if not out.exists():
        return "py-spy wrote no profile (needs ptrace permission)"
    return profile.summarize(out.read_text().splitlines()).render()


def _line(r: PhaseResult) -> str:
    cpu = ", ".join(f"{g} {r.cpu_us_per_message(g):,.0f}" for g in r.cpu)
    return f"{r.name}: {r.messages:,} in {r.seconds:.2f} s = {r.rate:,.0f}/s; CPU µs/msg: {cpu}"


def _context(args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    linger, backlog = (
        "default" if ms is None else f"{ms:g} ms"
        for ms in (args.batch_linger_ms, args.backlog_linger_ms)
    )
    return (
        f"worker benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}: {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), load average {load}; Python "
        f"{platform.python_version()}; stand-in latency {args.latency_ms:g} ms, prefetch "
        f"{args.prefetch} per worker (steady phase: {args.steady_prefetch * 2} for one worker, "
        f"{args.steady_prefetch} each for two); decision linger {linger}, in a backlog "
        f"{backlog}; {args.messages:,} items per throughput phase, burst "
        f"{args.burst:,}, steady {args.steady_rate:,.0f}/s for {args.steady_seconds:g} s; "
        f"store {args.store}; flow {args.flow}. "
        "Workers, stand-in, RabbitMQ (shared with other jobs) and the benchmark share the cores."
    )
