"""The verdict on a run: every verification's outcome against the script, and the summary table.

Pure: :func:`check` compares what the subscriber received (``collect.Arrival``) with what each
case expects; :func:`summarize` adds throughput and push-to-outcome latency; :func:`render`
draws the tables. A verification matches when exactly one distinct event (one ``message_id``)
arrived for it and its outcome and reason are the ones its case names.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.demo.collect import Arrival
from bench.demo.drive import Submission
from bench.demo.scenario import CASES, Planned

MISSING = "(no outcome)"
STEP_FAILED = "(step failed)"
CONFLICT = "(conflicting events)"


def outcome_key(outcome: str, reason: str | None) -> str:
    """``verified`` or ``rejected / not_passed``: one row of the by-reason table."""
    return outcome if reason is None else f"{outcome} / {reason}"


@dataclass(frozen=True)
class Checked:
    """One verification: what it should have ended in, what it did, and how fast."""

    planned: Planned
    expected: str
    got: str
    latency_s: float | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The outcome matches the script."""
        return self.got == self.expected


def check_one(planned: Planned, submission: Submission | None, arrivals: list[Arrival]) -> Checked:
    """Compare one verification's events with its case."""
    expected = outcome_key(planned.case.outcome.value, planned.case.reason)
    error = submission.error if submission is not None else "never started"
    if error is not None:
        return Checked(planned, expected, STEP_FAILED, None, error)
    if not arrivals:
        return Checked(planned, expected, MISSING, None)
    if len({a.message_id for a in arrivals}) > 1:
        return Checked(planned, expected, CONFLICT, None)
    first = arrivals[0]
    answered = submission.answered_at if submission is not None else None
    latency = None if answered is None else max(0.0, first.at - answered)
    return Checked(planned, expected, outcome_key(first.outcome, first.reason), latency)


def check(
    planned: Sequence[Planned],
    submissions: Mapping[str, Submission],
    arrivals: Mapping[str, list[Arrival]],
) -> list[Checked]:
    """Every planned verification, checked."""
    return [
        check_one(p, submissions.get(p.out_seq_no), arrivals.get(p.out_seq_no, [])) for p in planned
    ]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    """A run, judged."""

    checked: list[Checked]
    elapsed_s: float
    repeats: int  # repeated events the subscriber acknowledged without handling
    register_retries: int
    token_resets: int
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Every outcome matches the script and nothing else went wrong."""
        return all(c.ok for c in self.checked) and not self.problems

    @property
    def throughput(self) -> float:
        """Verifications decided per second, first registration to last outcome."""
        done = sum(1 for c in self.checked if c.latency_s is not None)
        return done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def latency_ms(self, q: float) -> float | None:
        """Push-to-outcome latency percentile in milliseconds."""
        value = percentile([c.latency_s for c in self.checked if c.latency_s is not None], q)
        return None if value is None else value * 1000


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _scripted_token_resets(checked: Sequence[Checked]) -> int:
    return sum(1 for c in checked if c.planned.case.script.get("invalidate_token"))


def reason_table(checked: Sequence[Checked]) -> list[str]:
    """Outcomes by reason: expected vs got counts."""
    expected = Counter(c.expected for c in checked)
    got = Counter(c.got for c in checked)
    rows = sorted(set(expected) | set(got), key=lambda k: (k.startswith("("), k != "verified", k))
    lines = [f"  {'outcome / reason':<34} {'expected':>9} {'got':>9}"]
    for key in rows:
        mark = "ok" if expected[key] == got[key] else "MISMATCH"
        lines.append(f"  {key:<34} {expected[key]:>9} {got[key]:>9}  {mark}")
    return lines


def case_table(checked: Sequence[Checked]) -> list[str]:
    """Per scenario: how many, how many matched, push-to-outcome p50/p99."""
    lines = [f"  {'scenario':<34} {'count':>6} {'matched':>8} {'p50 ms':>8} {'p99 ms':>8}"]
    order = {case.label: n for n, case in enumerate(CASES)}
    labels = sorted({c.planned.case.label for c in checked}, key=lambda k: order.get(k, len(order)))
    for label in labels:
        rows = [c for c in checked if c.planned.case.label == label]
        latencies = [c.latency_s * 1000 for c in rows if c.latency_s is not None]
        matched = sum(c.ok for c in rows)
        lines.append(
            f"  {label:<34} {len(rows):>6} {matched:>8} "
            f"{_ms(percentile(latencies, 50)):>8} {_ms(percentile(latencies, 99)):>8}"
        )
    return lines


def mismatches(checked: Sequence[Checked], limit: int = 10) -> list[str]:
    """The first few verifications that did not match (out_seq_no, expected, got, error)."""
    bad = [c for c in checked if not c.ok]
    lines = [
        f"  {c.planned.out_seq_no} ({c.planned.case.label}): expected {c.expected}, got {c.got}"
        + (f" — {c.error}" if c.error else "")
        for c in bad[:limit]
    ]
    if len(bad) > limit:
        lines.append(f"  … and {len(bad) - limit} more")
    return lines


def render(summary: Summary, links: Sequence[tuple[str, str]]) -> str:
    """The whole report."""
    s, n = summary, len(summary.checked)
    lines = [f"wxface demo: {n} verifications in {s.elapsed_s:.1f} s", ""]
    lines += ["Outcomes by reason", *reason_table(s.checked), ""]
    lines += ["By scenario (push-to-outcome latency)", *case_table(s.checked)]
    lines += ["  0 ms: the event reached the subscriber before the answer reached the demo", ""]
    lines += [
        f"throughput:          {s.throughput:.1f} verifications/s (first request to last outcome)",
        f"push-to-outcome:     p50 {_ms(s.latency_ms(50))} ms, p99 {_ms(s.latency_ms(99))} ms"
        " (answered push or result submission -> event at the subscriber)",
        f"repeated events:     {s.repeats} acknowledged by the subscriber without handling",
        f"token invalidations: {_scripted_token_resets(s.checked)} scripted (40001 on one call),"
        f" {s.token_resets} of every token at once",
        f"registration retries after 502: {s.register_retries}",
        "",
    ]
    if s.problems:
        lines += ["Problems", *(f"  {p}" for p in s.problems), ""]
    if not all(c.ok for c in s.checked):
        lines += ["Mismatches", *mismatches(s.checked), ""]
    lines += ["Where to look", *(f"  {name:<28} {where}" for name, where in links), ""]
    verdict = "PASS: every outcome matches the script" if s.passed else "FAIL: see above"
    return "\n".join([*lines, verdict])
