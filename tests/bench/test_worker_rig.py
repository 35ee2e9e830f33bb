"""Tests of the worker benchmark on the real RabbitMQ: rig, seeding, the bare loop, clean-up."""

from __future__ import annotations

from pathlib import Path

import aio_pika
import aiormq
import pytest

from bench.child import Child, ChildError, child_env
from bench.cpu import RABBITMQ, STANDIN, SUBJECT
from bench.worker.children import WorkerLaunch, start_workers
from bench.worker.phases import drain, steady
from bench.worker.rig import open_rig
from bench.worker.runner import parse_args, run
from bench.worker.seed import APPID, DATA_KEY, SECRET
from shared.vocabulary import Flow

pytestmark = pytest.mark.broker


async def test_bare_loop_decides_each_seeded_credential_and_names_are_deleted(
    amqp_url: str, tmp_path: Path
) -> None:
    """Three seeded credentials through the bare loop: three verified outcomes, CPU counted."""
    async with open_rig(amqp_url, tmp_path, 0, f"sqlite:///{tmp_path / 'wxface.db'}") as rig:
        args = ["--amqp-url", amqp_url, "--prefix", rig.topology.prefix, "--api-base",
                rig.api_base, "--appid", APPID, "--secret", SECRET, "--prefetch", "4"]  # fmt: skip
        child = Child("bare", ["-m", "bench.worker.bare", *args], child_env(),
                      tmp_path / "bare.log", pipe_stdout=True)  # fmt: skip
        await child.start()
        try:
            assert (await child.first_line())["event"] == "bare_ready"
            rig.subject = [child.pid]
            result = await drain("t", rig.publisher, rig.collector, await rig.seed(3), rig.groups)
        finally:
            await child.stop()
        prefix = rig.topology.prefix
    assert (dict(result.outcomes), result.duplicates, len(result.push_to_outcome)) == (
        {"verified": 3}, 0, 3,
    )  # fmt: skip
    assert {SUBJECT, STANDIN, RABBITMQ} <= set(result.cpu)
    await _assert_deleted(amqp_url, f"{prefix}.verify")


@pytest.mark.parametrize("flow", list(Flow))
async def test_worker_process_decides_a_steady_trickle(
    amqp_url: str, tmp_path: Path, flow: Flow
) -> None:
    """A real ``python -m worker`` turns four paced work items of either flow into four
    verified outcomes."""
    async with open_rig(amqp_url, tmp_path, 0, f"sqlite:///{tmp_path / 'wxface.db'}") as rig:
        workers = await start_workers(rig.launch(prefetch=4), 1, tmp_path)
        try:
            rig.subject = [workers[0][0].pid]
            creds = await rig.seed(4, flow)
            assert {c.flow for c in creds} == {flow}
            result = await steady("t", rig.publisher, rig.collector, creds, rig.groups, 50.0)
        finally:
            await workers[0][0].stop()
    assert dict(result.outcomes) == {"verified": 4}
    assert result.cpu[SUBJECT] >= 0.0
    assert result.rate > 0


async def _assert_deleted(amqp_url: str, queue: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
            await channel.declare_queue(queue, passive=True)
    finally:
        await connection.close()


async def test_runner_measures_every_phase_at_tiny_sizes(amqp_url: str, tmp_path: Path) -> None:
    """The whole benchmark at tiny sizes: every phase reported, steady at its own prefetch."""
    args = parse_args([
        "--messages", "6", "--burst", "6", "--steady-rate", "40", "--steady-seconds", "0.2",
        "--warmup", "2", "--latency-ms", "5", "--prefetch", "4", "--steady-prefetch", "8",
        "--no-profile", "--output", str(tmp_path / "report.md"),
    ])  # fmt: skip
    assert await run(args, amqp_url) == 0  # one verified outcome per session in every phase
    report = (tmp_path / "report.md").read_text()
    assert "prefetch 4 per worker (steady phase: 16 for one worker, 8 each for two)" in report
    rows = [line for line in report.splitlines() if line.startswith("| ") and "|---" not in line]
    phases = [row.split("|")[1].strip() for row in rows[1:]]
    assert phases == ["throughput, 1 worker(s)", "steady 40/s, 1 worker(s)",
                      "throughput, 2 worker(s)", "burst", "steady 40/s, 2 worker(s)",
                      "throughput, bare loop ×1", "steady 40/s, bare loop ×1",
                      "throughput, bare loop ×2", "steady 40/s, bare loop ×2"]  # fmt: skip
    bounds = [row.split("|")[5].strip() for row in rows[1:]]
    assert bounds[0] == "800"  # prefetch 4 × one worker / 5 ms
    # the steady window, 16 × 1 or 8 × 2, / 5 ms: the workers' and the bare loop's
    assert bounds[1] == bounds[4] == bounds[6] == bounds[8] == "3,200"
    assert report.count("slots turned over every") == 5  # the drains: ×1, ×2, burst, bare ×1, ×2


async def test_runner_runs_only_the_phases_asked_for(amqp_url: str, tmp_path: Path) -> None:
    """``--phases steady``: the two steady rows and nothing else, no bare loop to compare."""
    args = parse_args([
        "--phases", "steady", "--steady-rate", "40", "--steady-seconds", "0.2", "--warmup", "2",
        "--latency-ms", "5", "--steady-prefetch", "8", "--no-profile",
        "--output", str(tmp_path / "report.md"),
    ])  # fmt: skip
    assert await run(args, amqp_url) == 0
    report = (tmp_path / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "|---" not in line]
    phases = [row.split("|")[1].strip() for row in rows[1:]]
    assert phases == ["steady 40/s, 1 worker(s)", "steady 40/s, 2 worker(s)"]
    assert "bare loop" not in report


def test_phases_must_be_known() -> None:
    """A misspelt or empty phase list is refused before anything starts."""
    assert parse_args(["--phases", "bare, steady"]).phases == ("bare", "steady")
    for bad in ("stedy", ","):
        with pytest.raises(SystemExit):
            parse_args(["--phases", bad])


async def test_workers_that_do_not_get_ready_are_stopped(tmp_path: Path) -> None:
    """No broker to reach: start_workers raises, and leaves no worker process behind."""
    launch = WorkerLaunch(
        "amqp://guest:guest@127.0.0.1:1/", "wxbench-unready", f"sqlite:///{tmp_path / 'w.db'}",
        "http://127.0.0.1:1", APPID, SECRET, DATA_KEY, prefetch=4,
    )  # fmt: skip
    started: list[Child] = []
    real_start = Child.start

    async def start(child: Child) -> None:
        started.append(child)
        await real_start(child)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Child, "start", start)
        with pytest.raises(ChildError, match="not ready"):
            await start_workers(launch, 2, tmp_path, ready_within_s=1.0)
    assert len(started) == 2
    assert all(child.returncode is not None for child in started)
