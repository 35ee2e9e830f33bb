"""Tests of the worker benchmark's pure parts: /proc parsing, percentiles, events, report."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from prometheus_client import generate_latest

from bench.cpu import (
    LOOP,
    MACHINE,
    POSTGRES,
    SUBJECT,
    CpuSample,
    cpu_seconds,
    parse_machine_stat,
    parse_stat,
)
from bench.logs import logged_trouble
from bench.worker.downstream import Collector, parse
from bench.worker.phases import PhaseResult, percentile, work_item
from bench.worker.report import Measured, render, valid
from bench.worker.seed import Credential
from bench.worker.stages import Totals, scrape, totals
from shared.vocabulary import Flow
from shared.work import WorkItem
from worker.metrics import WorkerMetrics


def _stat(comm: str, utime: int, stime: int) -> str:
    rest = ["S", "1", "1", "1", "0", "-1", "0", "0", "0", "0", "0", str(utime), str(stime)]
    return f"42 ({comm}) {' '.join(rest)} 0 0"


def test_parse_stat_survives_odd_command_names() -> None:
    """utime + stime are read after the last ')', whatever the command name holds."""
    ticks = os.sysconf("SC_CLK_TCK")
    assert parse_stat(_stat("a) b (c", 150, 50)) == 200 / ticks


def test_cpu_sample_counts_own_process_and_its_loop_thread() -> None:
    """A sample of this process is positive and its main thread is part of its total, but for
    the kernel's rounding: it truncates utime and stime to clock ticks, each on its own and
    for the thread apart from the process, so the thread can show up to two ticks more."""
    sample = CpuSample.take({SUBJECT: [os.getpid()], "gone": [2**22 + 12345]})
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert sample.seconds[LOOP] > 0
    assert sample.seconds[LOOP] - sample.seconds[SUBJECT] < 2.5 * tick
    assert sample.seconds["gone"] == 0.0
    assert cpu_seconds(2**22 + 12345) is None


def test_machine_busy_time_counts_all_but_idle_and_iowait() -> None:
    """user + nice + system + irq + softirq + steal of the ``cpu`` line, in seconds; a sample
    carries it, and anything else is refused."""
    ticks = os.sysconf("SC_CLK_TCK")
    text = f"cpu  {ticks} 0 {ticks} 5000 700 0 {ticks} {ticks} 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"
    assert parse_machine_stat(text) == 4.0
    assert CpuSample.take({}).seconds[MACHINE] > 0
    with pytest.raises(ValueError, match="proc/stat"):
        parse_machine_stat("intr 1 2 3")


def test_percentile_is_nearest_rank() -> None:
    """p50 of 1..100 is 50, p99 is 99, p100 the maximum; an empty list gives 0."""
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0, 99.0, 100.0,
    )  # fmt: skip
    assert percentile([], 99) == 0.0


def _event(subject: str, outcome: str = "verified", event_id: str = "") -> bytes:
    return orjson.dumps({
        "id": event_id or f"id-{subject}", "type": f"wxface.identity.{outcome}",
        "subject": subject, "time": "2026-01-01T00:00:01Z",
    })  # fmt: skip


def test_parse_reads_id_subject_outcome_and_time() -> None:
    """The downstream view of an event: out_seq_no, id, outcome and decision time (unix s)."""
    arrival = parse(_event("seq1", "rejected"), 1767225602.0)
    assert (arrival.out_seq_no, arrival.outcome) == ("seq1", "rejected")
    assert arrival.event_id == "id-seq1"
    assert arrival.decided_at == 1767225601.0


class _Message:
    def __init__(self, body: bytes) -> None:
        self.body = body


def test_collector_counts_duplicates_and_signals_completion() -> None:
    """The phase is done at the expected number of distinct sessions; repeats are duplicates,
    and those with another event id than the first (a second decision) conflicts too."""
    collector = Collector()
    collector.expect(2)
    for subject, event_id in (("a", ""), ("a", ""), ("b", ""), ("b", "other")):
        collector.on_message(_Message(_event(subject, event_id=event_id)))  # type: ignore[arg-type]
    assert collector.done.is_set()
    assert (len(collector.arrivals), collector.duplicates, collector.conflicts) == (2, 2, 1)


def _result(
    outcomes: dict[str, int], duplicates: int = 0, conflicts: int = 0, busy_s: float = 0.5
) -> PhaseResult:
    return PhaseResult(
        name="burst", messages=2, seconds=1.0, enqueue_seconds=0.5,
        cpu={SUBJECT: 0.001, LOOP: 0.0008, MACHINE: busy_s}, push_to_outcome=[0.1, 0.2],
        enqueue_to_decision=[0.05, 0.15], outcomes=outcomes, duplicates=duplicates,
        conflicts=conflicts,
    )  # fmt: skip


def test_warnings_and_errors_in_the_workers_logs_are_counted(tmp_path: Path) -> None:
    """Warning and error entries of every worker log count by event, as does output that is
    no JSON log entry; info entries and other processes' logs do not."""
    (tmp_path / "worker0.log").write_bytes(b"\n".join([
        orjson.dumps({"event": "consumer_started", "level": "info"}),
        orjson.dumps({"event": "broker_channel_closed", "level": "warning"}),
        orjson.dumps({"event": "Got frame for closed channel 1", "level": "error"}),
        orjson.dumps({"event": "Got frame for closed channel 1", "level": "error"}),
        b"Traceback (most recent call last):",
    ]))  # fmt: skip
    (tmp_path / "worker1.log").write_bytes(orjson.dumps({"event": "x", "level": "info"}))
    (tmp_path / "standin.log").write_bytes(orjson.dumps({"event": "y", "level": "error"}))
    assert logged_trouble(tmp_path, "worker*.log") == {
        "broker_channel_closed": 1, "Got frame for closed channel 1": 2, "unstructured output": 1,
    }  # fmt: skip


def test_report_fails_a_run_whose_workers_logged_trouble() -> None:
    """A warning in the workers' logs is a problem of the run, named with its count."""
    good = Measured(_result({"verified": 2}), "worker ×1", 1, 640.0)
    assert valid([good], {})
    assert not valid([good], {"broker_channel_closed": 1})
    text = render("ctx", [good], [], "", {"broker_channel_closed": 1})
    assert "the workers logged warnings or errors: broker_channel_closed ×1" in text


def test_report_shows_cpu_per_message_and_flags_wrong_outcomes() -> None:
    """500 µs per message is printed; a rejected outcome or a duplicate makes the run invalid."""
    good = Measured(_result({"verified": 2}), "worker ×1", 1, 640.0)
    text = render("ctx", [good], [], "")
    assert "| 500 (400) |" in text
    assert "p99 0.1 s" in text
    assert valid([good])
    assert not valid([Measured(_result({"verified": 1, "rejected": 1}), "worker ×1", 1, 640.0)])
    republished = Measured(_result({"verified": 2}, duplicates=1), "worker ×1", 1, 640.0)
    assert not valid([republished])
    assert "1 duplicates (0 with another message_id)" in render("ctx", [republished], [], "")


def test_report_says_when_the_cores_saturated() -> None:
    """The cores' busy share over the phase is given; at 90% and above the phase is marked as
    measuring the machine's limit."""
    cores = os.cpu_count() or 1
    calm = render("ctx", [Measured(_result({"verified": 2}, busy_s=0.5 * cores), "worker ×1", 1,
                                   640.0)], [], "")  # fmt: skip
    assert "cores were 50% busy" in calm
    assert "saturated" not in calm
    full = render("ctx", [Measured(_result({"verified": 2}, busy_s=0.95 * cores), "worker ×1", 1,
                                   640.0)], [], "")  # fmt: skip
    assert "cores were 95% busy: the CPU saturated" in full


def test_report_says_when_a_steady_phase_fell_behind() -> None:
    """A steady phase whose last outcome came over a second after its last enqueue is marked
    as measuring a backlog; one that kept up is not."""
    kept = replace(_result({"verified": 2}), name="steady", seconds=3.2, enqueue_seconds=3.0)
    text = render("ctx", [Measured(kept, "worker ×1", 1, 640.0)], [], "")
    assert "last outcome came 0.20 s after the last enqueue\n" in text + "\n"
    behind = replace(kept, seconds=5.5)
    text = render("ctx", [Measured(behind, "worker ×1", 1, 640.0)], [], "")
    assert "2.50 s after the last enqueue: the pipeline fell behind" in text


def test_a_steady_phase_reports_enqueue_to_decision_beside_push_to_outcome() -> None:
    """A steady phase's tail splits at the decision's own time: its p50 and p99 are reported;
    a drain's are not (the burst has its own line)."""
    steady = replace(_result({"verified": 2}), name="steady", enqueue_to_decision=[0.104, 0.131])
    text = render("ctx", [Measured(steady, "worker ×1", 1, 640.0)], [], "")
    assert "  - enqueue→decision p50 / p99 104 / 131 ms: the rest of push→outcome is" in text
    drain = replace(steady, name="throughput, 1 worker(s)")
    assert "enqueue→decision p50 / p99" not in render(
        "ctx", [Measured(drain, "w", 1, 640.0)], [], ""
    )


def test_report_says_when_rabbitmq_rolled_its_wal_over() -> None:
    """A phase during which RabbitMQ's quorum WAL moved to a new file says so; one without, or
    where the WAL could not be seen, does not."""
    base = _result({"verified": 2})
    for rolled in (False, None):
        text = render("ctx", [Measured(replace(base, broker_wal_rolled=rolled), "worker ×1", 1,
                                       640.0)], [], "")  # fmt: skip
        assert "WAL" not in text
    text = render("ctx", [Measured(replace(base, broker_wal_rolled=True), "worker ×1", 1,
                                   640.0)], [], "")  # fmt: skip
    assert "RabbitMQ rolled its quorum-queue WAL over during this phase" in text


def test_report_gives_postgres_cpu_only_when_measured() -> None:
    """A group's column has a figure when it was measured (PostgreSQL: with a PostgreSQL
    store), a dash otherwise."""
    sqlite = Measured(_result({"verified": 2}), "worker ×1", 1, 640.0)
    base = _result({"verified": 2})
    with_pg = PhaseResult(**{**base.__dict__, "cpu": {**base.cpu, POSTGRES: 0.0006}})
    postgres = Measured(with_pg, "worker ×1", 1, 640.0)
    rows = render("ctx", [sqlite, postgres], [], "").splitlines()
    burst = [line for line in rows if line.startswith("| burst")]
    assert "| 500 (400) | – | – | – | – |" in burst[0]  # groups not measured: dashes
    assert "| 500 (400) | – | – | 300 | – |" in burst[1]


def test_cycle_line_splits_each_slots_turn_into_latency_and_the_rest() -> None:
    """64 slots at 100 ms (bound 640/s) giving 470/s: each turned over in 136 ms, 36 over."""
    result = _result({"verified": 2})
    drained = Measured(replace(result, messages=470, seconds=1.0), "worker ×1", 1, 640.0, 64)
    assert drained.cycle_line() == (
        "  - each of the 64 slots turned over every 136 ms on average: "
        "WeChat's 100 ms and 36 ms more"
    )
    assert Measured(result, "worker ×2", 2, 1280.0).cycle_line() is None  # slots not all busy


def test_each_worker_phase_is_compared_with_the_bare_loop_in_as_many_processes() -> None:
    """Two workers against the two-process bare loop, one against one; with only the one-process
    loop measured, every phase is compared with it. The share of the bound is compared only
    for drains, where every slot was busy."""
    one = Measured(_result({"verified": 2}), "worker ×1", 1, 640.0, 64)
    two = Measured(replace(_result({"verified": 2}), name="steady"), "worker ×2", 2, 2560.0)
    # the bare loop: 1,000 µs per message and 90% of the bound in one process, 2,000 µs in two
    bare1 = Measured(replace(_result({"verified": 2}), messages=576, seconds=1.0,
                             cpu={SUBJECT: 0.576, MACHINE: 0.5}),
                     "bare loop ×1", 1, 640.0, 64)  # fmt: skip
    bare2 = Measured(replace(_result({"verified": 2}), cpu={SUBJECT: 0.004, MACHINE: 0.5}),
                     "bare loop ×2", 2, 1280.0, 128)  # fmt: skip
    text = render("ctx", [one, two, bare1, bare2], [bare1, bare2], "")
    assert (
        "0.50× the CPU per message of the bare loop ×1, within the issue's 0.725× (500 of its "
        "690 µs); its share of the bound 90%"
    ) in text
    assert "0.25× the CPU per message of the bare loop ×2, within the issue's 0.725× " in text
    assert "(500 of its 690 µs)\n" in text
    alone = render("ctx", [one, two, bare1], [bare1], "")
    assert alone.count("the CPU per message of the bare loop ×1") == 2
    assert "bare loop ×2" not in alone
    assert "CPU per message of" not in render("ctx", [one, two], [], "")


def test_a_steady_phase_is_compared_with_the_bare_loop_at_the_steady_rate() -> None:
    """With the bare loop measured in a drain and at the steady rate, each worker phase is
    compared with the bare loop's phase of its own kind; the bare steady phase is reported."""

    def phase(name: str, cpu_s: float) -> PhaseResult:
        return replace(_result({"verified": 2}), name=name, messages=1000, cpu={SUBJECT: cpu_s})

    worker_drain = Measured(phase("throughput, 2 worker(s)", 0.3), "worker ×2", 2, 1280.0, 128)
    worker_steady = Measured(phase("steady 1,000/s, 2 worker(s)", 0.6), "worker ×2", 2, 2560.0)
    bare_drain = Measured(phase("throughput, bare loop ×2", 0.5), "bare loop ×2", 2, 1280.0, 128)
    bare_steady = Measured(phase("steady 1,000/s, bare loop ×2", 1.2), "bare loop ×2", 2, 2560.0)
    bare = [bare_drain, bare_steady]
    text = render("ctx", [worker_drain, worker_steady, *bare], bare, "")
    assert "0.60× the CPU per message of the bare loop ×2" in text  # 300 of 500 µs
    assert "0.50× the CPU per message of the bare loop ×2" in text  # 600 of 1,200 µs
    assert "1.20×" not in text  # the worker's drain against the bare loop's steady phase
    assert "0.25×" not in text  # the steady phase against the drain
    assert "- steady 1,000/s, bare loop ×2:\n  - the machine's cores were" in text


def test_a_ratio_above_the_issues_is_said_to_be_above_it() -> None:
    """500 of 690 µs is 0.725×: a worker at 0.73× the bare loop is above it, at 0.72× within."""
    bare = Measured(replace(_result({"verified": 2}), messages=1000, cpu={SUBJECT: 1.0}),
                    "bare loop ×1", 1, 640.0, 64)  # fmt: skip
    for cpu_s, word in ((0.73, "above"), (0.72, "within")):
        worker = Measured(replace(_result({"verified": 2}), messages=1000, cpu={SUBJECT: cpu_s}),
                          "worker ×1", 1, 640.0, 64)  # fmt: skip
        text = render("ctx", [worker, bare], [bare], "")
        assert f"{cpu_s:.2f}× the CPU per message of the bare loop ×1, {word} the issue's" in text


def test_work_item_is_a_push_for_legacy_and_a_result_report_for_v2() -> None:
    """As the receiver and the business API enqueue them; both decode as the worker reads."""
    legacy = work_item(Credential("o1", Flow.LEGACY, "vr"))
    v2 = work_item(Credential("o2", Flow.V2))
    assert (legacy.kind, legacy.flow, legacy.verify_result) == ("push", Flow.LEGACY, "vr")
    assert (v2.kind, v2.flow, v2.verify_result, v2.openid) == ("result", Flow.V2, None, None)
    assert WorkItem.decode(v2.encode()) == v2


def _totals(workers: list[WorkerMetrics]) -> Totals:
    return totals(generate_latest(w.registry).decode() for w in workers)


def test_stage_means_cover_the_phase_over_every_worker() -> None:
    """The report's stage line: means of what two workers observed between the two scrapes,
    WeChat's per-message calls without the token fetches, and only the stages that ran."""
    workers = [WorkerMetrics(), WorkerMetrics()]
    workers[0].observe_wechat_call("getinfo", 0, 5.0)  # before the phase
    before = _totals(workers)
    for m in workers:
        m.observe_wechat_call("getinfo", 0, 0.1)
        m.observe_wechat_call("stable_token", 0, 1.0)
        m.observe_store_batch("decide", 4, 0.002)
        m.confirm_seconds.observe(0.003)
    workers[1].observe_wechat_call("queryverifyinfo", 0, 0.13)
    assert _totals(workers).since(before).line() == (
        "  - inside the workers, on average: WeChat call 110.0 ms, "
        "decision batch 2.0 ms (4.0 a batch), publish confirm 3.0 ms"
    )
    assert _totals(workers).since(_totals(workers)).line() is None  # nothing in between


async def test_stages_are_not_read_without_workers_that_answer() -> None:
    """The bare loop has no /metrics, and a worker that is gone cannot answer: no stage line."""
    assert await scrape([]) is None
    assert await scrape(["http://127.0.0.1:1/metrics"]) is None
