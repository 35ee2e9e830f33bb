"""``make demo`` (``python -m bench.demo``): the scripted mix, the verdict, and real short runs."""

from __future__ import annotations

import asyncio
import io
import random
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import aio_pika
import aiohttp
import pytest

from bench.demo.collect import Arrival, Collector
from bench.demo.drive import Submission
from bench.demo.people import make_applicant
from bench.demo.progress import render
from bench.demo.report import MISSING, STEP_FAILED, Summary, check, percentile, reason_table
from bench.demo.run import Options, run_demo
from bench.demo.scenario import CASES, plan
from shared.amqp.topology import Topology
from shared.vocabulary import Outcome, Reason
from shared.wechat.applicant import valid_id_card_number

REPO = Path(__file__).resolve().parents[1]
RUN_RE = re.compile(r"run (wxdemo-[0-9a-f]+)")


def test_plan_is_deterministic_and_covers_every_case() -> None:
    """The same seed gives the same mix; every case appears once there is room for it."""
    first, again = plan(200, seed=7, tag="t"), plan(200, seed=7, tag="t")
    assert [(p.out_seq_no, p.case, p.applicant) for p in first] == [
        (p.out_seq_no, p.case, p.applicant) for p in again
    ]
    assert {p.case.label for p in first} == {case.label for case in CASES}
    assert len({p.out_seq_no for p in first}) == 200
    assert plan(200, seed=8, tag="t") != first


def test_made_up_applicants_have_valid_id_numbers() -> None:
    """Every generated ID number passes the GB 11643 check the business API applies."""
    rng = random.Random(3)
    assert all(valid_id_card_number(make_applicant(rng).id_card_number) for _ in range(500))


def _arrival(
    out_seq_no: str, outcome: str, reason: str | None, at: float, mid: str = "m"
) -> Arrival:
    return Arrival(out_seq_no, f"{mid}-{out_seq_no}", outcome, reason, at)


def test_check_flags_wrong_missing_conflicting_and_failed_verifications() -> None:
    """Only one event with the scripted outcome and reason counts as a match."""
    planned = plan(5, seed=1, tag="c", cases=CASES[:1] * 5)  # five clean passes
    subs = {p.out_seq_no: Submission(answered_at=10.0) for p in planned}
    a, b, _, d, e = (p.out_seq_no for p in planned)
    subs[e].error = "registration answered HTTP 502"
    arrivals = {
        a: [_arrival(a, "verified", None, 10.5)],
        b: [_arrival(b, "rejected", Reason.NOT_PASSED.value, 10.5)],
        d: [_arrival(d, "verified", None, 10.5), _arrival(d, "verified", None, 11, mid="x")],
    }
    checked = check(planned, subs, arrivals)
    assert [x.ok for x in checked] == [True, False, False, False, False]
    assert [x.got for x in checked][2:] == [MISSING, "(conflicting events)", STEP_FAILED]
    assert checked[0].latency_s == pytest.approx(0.5)
    summary = Summary(checked, elapsed_s=2.0, repeats=0, register_retries=0, token_resets=1)
    assert not summary.passed
    assert any("MISMATCH" in line for line in reason_table(checked))


def test_summary_passes_only_without_problems() -> None:
    """A run whose outcomes all match still fails when something else went wrong."""
    [p] = plan(1, seed=1, tag="s")
    arrival = _arrival(p.out_seq_no, p.case.outcome.value, p.case.reason, 1.0)
    checked = check([p], {p.out_seq_no: Submission(answered_at=1.0)}, {p.out_seq_no: [arrival]})
    summary = Summary(checked, elapsed_s=1.0, repeats=0, register_retries=0, token_resets=1)
    assert summary.passed
    assert not replace(summary, problems=("worker-1 exited with 1",)).passed


def test_percentile_is_nearest_rank() -> None:
    """p50 and p99 pick an observed value (nearest rank), None without values."""
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile([], 50)) == (50, 99, None)


async def test_collector_counts_distinct_events_and_repeats() -> None:
    """Handled lines become arrivals (first one resolves the waiter); duplicates are counted."""
    collector = Collector(clock=lambda: 5.0)
    waiter = collector.first("seq-1")
    for line in (
        b'{"event": "ready"}',
        b'{"event": "handled", "message_id": "m1", "out_seq_no": "seq-1",'
        b' "outcome": "rejected", "reason": "not_passed"}',
        b'{"event": "duplicate", "message_id": "m1"}',
        b"not json",
    ):
        collector.take_line(line)
    assert collector.ready.is_set()
    assert await waiter == Arrival("seq-1", "m1", "rejected", "not_passed", 5.0)
    assert (collector.distinct, collector.repeats) == (1, 1)
    assert collector.first("seq-1").done()


def test_progress_line_shows_outcomes_rate_and_time() -> None:
    """The bar fills in proportion to outcomes and shows the rate so far."""
    line = render(done=50, started=80, total=100, elapsed_s=10.0)
    assert line.startswith("[" + "#" * 15 + "." * 15 + "]")
    assert " 50/100 outcomes" in line
    assert "5.0/s" in line


@pytest.mark.broker
def test_make_demo_smoke_run_passes_and_cleans_up(amqp_url: str, tmp_path: Path) -> None:
    """``python -m bench.demo --count 60`` exits 0 with a PASS and leaves no queue behind."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.demo", "--count", "60", "--run-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "PASS: every outcome matches the script" in proc.stdout
    assert re.search(r"verified\s+\d+\s+\d+\s+ok", proc.stdout)
    prefix = RUN_RE.search(proc.stderr)
    assert prefix is not None
    assert asyncio.run(_leftover_queues(amqp_url, prefix.group(1))) == []
    assert (tmp_path / "receiver.log").stat().st_size > 0


async def _leftover_queues(amqp_url: str, prefix: str) -> list[str]:
    """The run's queues that still exist (passive declare fails for a deleted queue)."""
    names = [spec.name for spec in Topology(prefix).queue_specs()] + [f"{prefix}.demo-subscriber"]
    left = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        for name in names:
            channel = await connection.channel()
            try:
                await channel.declare_queue(name, passive=True)
                left.append(name)
            except aio_pika.exceptions.ChannelClosed:
                pass
    return left


@pytest.mark.broker
async def test_a_wrong_expectation_fails_the_run(amqp_url: str, tmp_path: Path) -> None:
    """When an outcome differs from the script the run exits 1 and names the mismatch."""
    wrong = replace(CASES[0], label="pass, expected as not passed", outcome=Outcome.REJECTED,
                    reason=Reason.NOT_PASSED)  # fmt: skip
    options = Options(count=12, seed=2, in_flight=12, outcome_timeout_s=30, amqp_url=amqp_url,
                      run_dir=tmp_path, cases=(wrong, *CASES[1:6]))  # fmt: skip
    out = io.StringIO()
    assert await run_demo(options, out) == 1
    report = out.getvalue()
    assert "MISMATCH" in report
    assert "expected rejected / not_passed, got verified" in report
    assert "FAIL" in report


@pytest.mark.broker
async def test_ctrl_c_stops_every_child_and_deletes_the_queues(
    amqp_url: str, tmp_path: Path
) -> None:
    """SIGINT mid-run: exit 130, children stopped (their ports closed), queues deleted."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.demo", "--count", "5000", "--run-dir", str(tmp_path),
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    seen: list[str] = []
    async with asyncio.timeout(60):
        while not any(line.startswith("[") for line in seen):  # the progress bar is up
            line = (await proc.stderr.readline()).decode()
            assert line, "".join(seen)
            seen.append(line)
    proc.send_signal(signal.SIGINT)
    rest = (await asyncio.wait_for(proc.stderr.read(), 60)).decode()
    assert await asyncio.wait_for(proc.wait(), 10) == 130, rest
    assert "stopped: receiver 0, worker-1 0, worker-2 0, standin 0, subscriber 0" in rest
    urls = re.findall(r"(?:receiver|worker \d) metrics\s+(http://\S+)", "".join(seen))
    assert len(urls) == 3
    async with aiohttp.ClientSession() as http:
        for url in urls:
            with pytest.raises(aiohttp.ClientConnectionError):
                async with http.get(url):
                    pass
    prefix = RUN_RE.search("".join(seen))
    assert prefix is not None
    assert await _leftover_queues(amqp_url, prefix.group(1)) == []
