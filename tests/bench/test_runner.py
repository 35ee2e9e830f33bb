"""Tests of the runner's choices, the report's verdict, and the ``python -m bench`` dispatcher."""

from __future__ import annotations

from dataclasses import replace

from bench.__main__ import main as bench_main
from bench.cpu import RABBITMQ, SUBJECT
from bench.receiver.openloop import OpenLoopResult
from bench.receiver.phases import FixedRate, Saturation
from bench.receiver.process import ProcessRss
from bench.receiver.report import VariantResult, ratio, render
from bench.receiver.runner import fixed_rate_for
from bench.receiver.variants import Kind
from bench.receiver.wrk import WrkResult


def _result(
    kind: Kind, ok_per_10s: int, queued: int | None, fixed_queued: int | None
) -> VariantResult:
    wrk = WrkResult(10.0, ok_per_10s, ok_per_10s + 5, ok_per_10s, 0, 0, 0, 1.0, 9.0)
    sat = Saturation(wrk, [ProcessRss(1, "python", 60.0)], queued)
    fixed = FixedRate(OpenLoopResult(100, 1000, 1000, 0, 0, [0.002] * 1000, 0.0), fixed_queued)
    return VariantResult(kind, sat, fixed, "")


def test_fixed_rate_is_half_of_d_then_common_unless_too_slow() -> None:
    """(d) sets half its saturation; others use it, or half their own if they cannot keep up."""
    assert fixed_rate_for(5000, None) == (2500, "")
    assert fixed_rate_for(9000, 2500) == (2500, "")
    rate, note = fixed_rate_for(2600, 2500)
    assert rate == 1300
    assert "cannot sustain 2,500/s" in note


def test_queue_checks_bound_the_depth() -> None:
    """Saturation allows only the cut-off extra; the fixed phase must match exactly."""
    assert _result(Kind.WXFACE, 1000, 1003, 1000).saturation.valid
    assert not _result(Kind.WXFACE, 1000, 999, 1000).saturation.valid  # a message lost
    assert not _result(Kind.WXFACE, 1000, 1006, 1000).saturation.valid  # more than was sent
    short = _result(Kind.WXFACE, 1000, 1000, 999).fixed
    assert short is not None
    assert not short.valid


def test_report_states_ratios_and_targets() -> None:
    """The report gives same-run ratios and says which targets were met."""
    results = {
        Kind.WXFACE: _result(Kind.WXFACE, 60000, 60000, 1000),
        Kind.AIOHTTP: _result(Kind.AIOHTTP, 25000, 25000, 1000),
        Kind.FLASK: _result(Kind.FLASK, 6500, 6500, 1000),
    }
    assert ratio(results, Kind.WXFACE, Kind.AIOHTTP) == 2.4
    text = render(results, 3000, "context")
    assert "(d)/(b) = 2.40× (target ≥ 1.5×): met" in text
    assert "(d)/(c) = 9.23× (target ≥ 6×): met" in text
    assert "queue checks: all passed" in text
    results[Kind.FLASK] = _result(Kind.FLASK, 6500, 6400, 1000)
    assert "FAILED" in render(results, 3000, "context")


def test_a_receiver_that_logged_warnings_makes_the_run_invalid() -> None:
    """(d)'s warnings and errors are named with their counts, and the run is not valid."""
    clean = _result(Kind.WXFACE, 60000, 60000, 1000)
    assert clean.valid
    troubled = replace(clean, logged={"broker_channel_closed": 1, "unstructured output": 2})
    assert not troubled.valid
    text = render({Kind.WXFACE: troubled}, 3000, "context")
    assert (
        "(d) logged warnings or errors: broker_channel_closed ×1, unstructured output ×2 "
        "(results invalid)"
    ) in text
    assert "logged" not in render({Kind.WXFACE: clean}, 3000, "context")


def test_report_gives_cpu_per_push_of_server_and_broker() -> None:
    """CPU seconds of the phase over its success count, in µs; a dash when not measured."""
    wrk = WrkResult(10.0, 20000, 20005, 20000, 0, 0, 0, 1.0, 9.0)
    sat = Saturation(wrk, [], 20000, {SUBJECT: 5.0, RABBITMQ: 3.0})
    assert (sat.cpu_us_per_push(SUBJECT), sat.cpu_us_per_push(RABBITMQ)) == (250.0, 150.0)
    text = render({Kind.WXFACE: VariantResult(Kind.WXFACE, sat, None, "")}, 1000, "context")
    assert "| 250, 150 |" in text
    assert _result(Kind.BARE, 1000, None, None).saturation.cpu_us_per_push(SUBJECT) is None


def test_dispatcher_refuses_unknown_benchmarks() -> None:
    """``python -m bench nope`` exits 2; --help lists the benchmarks."""
    assert bench_main(["nope"]) == 2
    assert bench_main(["--help"]) == 0
