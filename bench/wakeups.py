"""``python -m bench wakeups``: what waking up costs a process on this machine.

A worker that carries a few hundred messages per second spends more CPU per message than one
that carries a thousand (BENCHMARKS.md, session 15), and so does the bare loop: at a low rate
each delivery, WeChat reply, commit and confirm reaches a process that had gone to sleep. This
measures that cost apart from wxface. One unit of work (``--work`` encodings of a small JSON
document; the default 20 take about 40 µs here) runs ``--units`` times back to back, then
as often with a sleep of each ``--gaps-ms`` after every unit. It reports the process's CPU time
per unit (``time.process_time``, the scheduler's own count, in the kernel and out) and its ratio
to back to back, in ``--rounds`` rounds. The difference per unit is what one sleep and wake-up
costs here, in the kernel and in the slower run of the work that follows it. It depends on the
machine, not on wxface.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

DOCUMENT = {"outcome": "verified", "reason": None, "openid": "o" * 28, "time": "2026-12-06"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench wakeups", description=__doc__)
    p.add_argument("--units", type=int, default=1000, help="per gap and round")
    p.add_argument("--work", type=int, default=20, help="JSON encodings per unit")
    p.add_argument("--gaps-ms", type=_gaps, default=(0.1, 1.0, 5.0), help="e.g. 0.1,1,5")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    if min(args.units, args.work, args.rounds) < 1:
        p.error("--units, --work and --rounds must be at least 1")
    return args


def main(argv: list[str]) -> int:
    """Entry point: one line per round and gap, then the medians over the rounds."""
    args = parse_args(argv)
    ratios: dict[float, list[float]] = {gap: [] for gap in args.gaps_ms}
    for round_no in range(1, args.rounds + 1):
        base = cpu_per_unit(args.work, 0.0, args.units)
        print(f"round {round_no}: back to back {base:.1f} µs CPU per unit")
        for gap in args.gaps_ms:
            cost = cpu_per_unit(args.work, gap / 1000, args.units)
            ratios[gap].append(cost / base)
            print(f"round {round_no}: after {gap:g} ms asleep {cost:.1f} µs ({cost / base:.2f}×)")
    medians = ", ".join(f"{gap:g} ms {statistics.median(r):.2f}×" for gap, r in ratios.items())
    print(f"CPU per unit against back to back, median of {args.rounds} rounds: {medians}")
    return 0


def cpu_per_unit(work: int, gap_s: float, units: int) -> float:
    """Process CPU µs per unit of ``work`` encodings, each unit followed by ``gap_s`` asleep."""
    started = time.process_time()
    for _ in range(units):
        for _ in range(work):
            json.dumps(DOCUMENT)
        if gap_s:
            time.sleep(gap_s)
    return (time.process_time() - started) / units * 1e6


def _gaps(text: str) -> tuple[float, ...]:
    try:
        gaps = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("comma-separated milliseconds, e.g. 0.1,1,5") from None
    if not gaps or any(gap <= 0 for gap in gaps):
        raise argparse.ArgumentTypeError("every gap must be above 0 ms")
    return gaps
