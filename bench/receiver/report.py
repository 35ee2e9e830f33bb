"""The benchmark's results as a Markdown report: one table, the same-run ratios, the targets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.cpu import RABBITMQ, SUBJECT
from bench.receiver.phases import FixedRate, Saturation
from bench.receiver.profile import ProfileSummary
from bench.receiver.variants import TITLES, Kind

# the targets for (d)
TARGET_VS_B = 1.5
TARGET_VS_C = 6.0
TARGET_P99_MS = 50.0
TARGET_RSS_MB = 100.0
GENERATOR_LAG_S = 0.005  # later than this, the fixed-rate generator itself was starved
CEILING_FACTOR = 3.0  # (a) should be at least this far above every durable variant


@dataclass(frozen=True)
class VariantResult:
    """Everything measured for one variant."""

    kind: Kind
    saturation: Saturation
    fixed: FixedRate | None
    fixed_note: str  # why the fixed rate differs from the common one, if it does
    profile: ProfileSummary | None = None  # from an extra run, when asked for
    logged: Mapping[str, int] = field(default_factory=dict)  # (d)'s warnings and errors

    @property
    def valid(self) -> bool:
        """Every ``success`` was in the queue, and the server logged no warning or error."""
        queued = self.saturation.valid and (self.fixed is None or self.fixed.valid)
        return queued and not self.logged


def render(results: Mapping[Kind, VariantResult], common_rate: float, context: str) -> str:
    """The Markdown report."""
    lines = [
        context,
        "",
        f"Fixed-rate phase: {common_rate:,.0f}/s (half of (d)'s saturation) unless noted.",
        "",
        "| variant | saturation ok/s | wrk p50/p99 ms | CPU µs/push: server, RabbitMQ | "
        "queue check | fixed rate | p50 / p99 ms | RSS MB (max, processes) |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    lines += [_row(r) for r in results.values()]
    lines += ["", *_notes(results), *_verdict(results)]
    for r in results.values():
        if r.profile is not None:
            lines += ["", f"Profile of {TITLES[r.kind]} at saturation (py-spy, extra run):"]
            lines += ["```", r.profile.render(), "```"]
    return "\n".join(lines) + "\n"


def _row(r: VariantResult) -> str:
    sat = r.saturation
    rss = max((p.rss_mb for p in sat.rss), default=math.nan)
    fixed = "–"
    latency = "–"
    if r.fixed is not None:
        res = r.fixed.result
        fixed = f"{res.rate:,.0f}/s" + (" *" if r.fixed_note else "")
        latency = f"{res.percentile_ms(50):.1f} / {res.percentile_ms(99):.1f}"
    cpu = ", ".join(_us(sat.cpu_us_per_push(group)) for group in (SUBJECT, RABBITMQ))
    return (
        f"| {TITLES[r.kind]} | {sat.wrk.ok_per_s:,.0f} | {sat.wrk.p50_ms:.1f} / "
        f"{sat.wrk.p99_ms:.1f} | {cpu} | {_check(r)} | {fixed} | {latency} | "
        f"{rss:.0f} ({len(sat.rss)}) |"
    )


def _us(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _check(r: VariantResult) -> str:
    sat, fixed = r.saturation, r.fixed
    if sat.queued is None:
        return "no broker"
    parts = [f"sat {sat.wrk.ok}≤{sat.queued}≤{sat.wrk.sent}" + ("" if sat.valid else " FAIL")]
    if fixed is not None:
        parts.append(f"fixed {fixed.result.ok}={fixed.queued}" + ("" if fixed.valid else " FAIL"))
    return "; ".join(parts)


def _notes(results: Mapping[Kind, VariantResult]) -> list[str]:
    notes = [note for r in results.values() for note in _variant_notes(r)]
    notes += _ceiling_note(results)
    return [*notes, ""] if notes else []


def _variant_notes(r: VariantResult) -> list[str]:
    title, sat, fixed = TITLES[r.kind], r.saturation, r.fixed
    notes = [f"* {title}: {r.fixed_note}"] if r.fixed_note else []
    if sat.wrk.bad or sat.wrk.socket_errors:
        notes.append(
            f"* {title}: {sat.wrk.bad} non-success answers, {sat.wrk.socket_errors} socket "
            "errors at saturation"
        )
    if fixed is not None and (fixed.result.bad or fixed.result.unanswered):
        notes.append(
            f"* {title}: {fixed.result.bad} non-success, {fixed.result.unanswered} unanswered "
            "at fixed rate"
        )
    if fixed is not None and fixed.result.max_send_lag_s > GENERATOR_LAG_S:
        notes.append(
            f"* {title}: the open-loop generator ran up to {fixed.result.max_send_lag_s * 1000:.0f}"
            " ms behind its schedule (CPU contention); those requests' latencies include it"
        )
    return notes


def _ceiling_note(results: Mapping[Kind, VariantResult]) -> list[str]:
    """Warn when (a), the HTTP ceiling, is not far above the others: the generator may limit."""
    if Kind.BARE not in results:
        return []
    ceiling = results[Kind.BARE].saturation.wrk.ok_per_s
    others = [r.saturation.wrk.ok_per_s for k, r in results.items() if k is not Kind.BARE]
    if not others or ceiling >= CEILING_FACTOR * max(others):
        return []
    return [
        f"* (a) is only {ceiling / max(others):.1f}× the fastest durable variant: the load "
        "generator or the machine may be limiting the figures"
    ]


def ratio(results: Mapping[Kind, VariantResult], a: Kind, b: Kind) -> float | None:
    """Saturation throughput of ``a`` over ``b`` (None when either is missing)."""
    if a not in results or b not in results:
        return None
    denominator = results[b].saturation.wrk.ok_per_s
    return results[a].saturation.wrk.ok_per_s / denominator if denominator else None


def _verdict(results: Mapping[Kind, VariantResult]) -> list[str]:
    d = results.get(Kind.WXFACE)
    if d is None:
        return []
    lines = []
    for other, target in ((Kind.AIOHTTP, TARGET_VS_B), (Kind.FLASK, TARGET_VS_C)):
        value = ratio(results, Kind.WXFACE, other)
        if value is not None:
            lines.append(
                f"(d)/({other.value}) = {value:.2f}× (target ≥ {target:g}×): {_ok(value >= target)}"
            )
    if d.fixed is not None:
        p99 = d.fixed.result.percentile_ms(99)
        met = _ok(p99 < TARGET_P99_MS)
        lines.append(f"(d) p99 at half load = {p99:.1f} ms (target < {TARGET_P99_MS:g}): {met}")
    rss = max((p.rss_mb for p in d.saturation.rss), default=math.nan)
    met = _ok(rss < TARGET_RSS_MB)
    lines.append(f"(d) max RSS per process = {rss:.0f} MB (target < {TARGET_RSS_MB:g}): {met}")
    valid = all(r.saturation.valid and (r.fixed is None or r.fixed.valid) for r in results.values())
    lines.append(f"queue checks: {'all passed' if valid else 'FAILED (results invalid)'}")
    if d.logged:
        events = ", ".join(f"{event} ×{n}" for event, n in sorted(d.logged.items()))
        lines.append(f"(d) logged warnings or errors: {events} (results invalid)")
    return lines


def _ok(passed: bool) -> str:
    return "met" if passed else "MISSED"
