"""bench.wakeups: a small run reports every round and gap, and bad sizes are refused."""

from __future__ import annotations

import pytest

from bench import wakeups


def test_a_small_run_reports_each_gap_against_back_to_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--units", "20", "--work", "2", "--gaps-ms", "0.1,0.5", "--rounds", "2"]
    assert wakeups.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["round 1"] * 3
    assert lines[1].startswith("round 1: after 0.1 ms asleep ")
    assert lines[2].startswith("round 1: after 0.5 ms asleep ")
    assert lines[-1].startswith("CPU per unit against back to back, median of 2 rounds: 0.1 ms ")
    assert ", 0.5 ms " in lines[-1]


def test_cpu_per_unit_grows_with_the_work() -> None:
    assert wakeups.cpu_per_unit(100, 0.0, 100) > wakeups.cpu_per_unit(1, 0.0, 100)


@pytest.mark.parametrize(
    "argv",
    [
        ["--units", "0"],
        ["--work", "0"],
        ["--rounds", "0"],
        ["--gaps-ms", "0"],
        ["--gaps-ms", "1,x"],
    ],
)
def test_bad_sizes_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        wakeups.parse_args(argv)


def test_gaps_parse_as_milliseconds() -> None:
    assert wakeups.parse_args(["--gaps-ms", "0.5,2"]).gaps_ms == (0.5, 2.0)
    assert wakeups.parse_args([]).gaps_ms == (0.1, 1.0, 5.0)
