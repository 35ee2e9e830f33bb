"""``python -m bench receiver``: run the variants one after another and print the report.

(d) runs first: half of its saturation is the common fixed rate for the others. A variant that
saturates below that rate cannot be measured there (its queue would grow without bound); it is
measured at half of its own saturation instead, and the report says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

import uvloop

from bench.logs import logged_trouble
from bench.receiver import profile, wrk
from bench.receiver.broker import BenchBroker
from bench.receiver.phases import FixedRate, Target, fixed_rate, saturate, warm_up
from bench.receiver.process import free_port
from bench.receiver.profile import ProfileSummary
from bench.receiver.report import VariantResult, render
from bench.receiver.variants import Kind, Launch, durable, ready_path, server
from shared.amqp.topology import Topology
from shared.settings import AmqpSettings, load_settings

_HEADROOM = 1.5  # a variant needs this much more than the fixed rate to be measured at it


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench receiver", description=__doc__)
    p.add_argument("--variants", default="d,a,b,c", help="letters, in order; d first (default)")
    p.add_argument("--duration", type=float, default=10.0, help="saturation phase, seconds")
    p.add_argument("--fixed-duration", type=float, default=10.0, help="fixed-rate phase, seconds")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up, seconds (0: none)")
    p.add_argument("--connections", type=int, default=64, help="wrk and open-loop connections")
    p.add_argument(
        "--receiver-workers", type=int, default=2, help="WXFACE_HTTP_WORKERS for (d): one per core"
    )
    p.add_argument("--max-rate", type=float, default=15000, help="sizes each push pool (/s)")
    p.add_argument("--output", type=Path, help="also write the Markdown report here")
    p.add_argument(
        "--profile",
        default="",
        help="letters of variants to profile with py-spy in an extra, unreported saturation run",
    )
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    """Entry point; 0 when every phase's queue check passed."""
    args = parse_args(argv)
    if not wrk.available():
        print("wrk is not installed: run scripts/setup.sh --bench (Debian package 'wrk')")
        return 2
    kinds = [Kind(letter.strip()) for letter in args.variants.split(",")]
    amqp_url = load_settings(AmqpSettings).amqp_url.get_secret_value()
    return uvloop.run(run(kinds, amqp_url, args))  # the load generators' loop, like (d)'s


async def run(kinds: list[Kind], amqp_url: str, args: argparse.Namespace) -> int:
    """Benchmark ``kinds`` in order; print (and maybe write) the report."""
    context = _context(args)
    print(context, flush=True)
    broker, connection = await BenchBroker.connect(amqp_url)
    results: dict[Kind, VariantResult] = {}
    common_rate: float | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="wxbench-") as tmp:
            for kind in kinds:
                result = await bench_variant(kind, broker, amqp_url, Path(tmp), args, common_rate)
                results[kind] = result
                print(f"{kind.value}: {_summary(result)}", flush=True)
                if common_rate is None and result.fixed is not None:
                    common_rate = result.fixed.result.rate
    finally:
        await connection.close()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    report = render(results, common_rate or 0.0, f"{context} Load average at the end: {load}.")
    print(report)
    if args.output is not None:
        args.output.write_text(report)
    return 0 if all(r.valid for r in results.values()) else 1


async def bench_variant(
    kind: Kind,
    broker: BenchBroker,
    amqp_url: str,
    tmp: Path,
    args: argparse.Namespace,
    common_rate: float | None,
) -> VariantResult:
    """Start ``kind``'s server on its own prefix, run the phases, stop it, delete its names."""
    workdir = tmp / kind.value
    workdir.mkdir()
    topology = Topology(f"wxbench-{kind.value}-{uuid.uuid4().hex[:8]}")
    launch = Launch(free_port(), amqp_url, topology.prefix, workdir, args.receiver_workers)
    proc = server(kind, launch)
    target = Target(
        "127.0.0.1", launch.port, proc, topology.verify if durable(kind) else None, workdir
    )
    if durable(kind):
        await broker.declare(topology)
    try:
        await proc.start()
        await proc.wait_answering(launch.port, ready_path(kind))
        result = await _phases(kind, target, broker, args, common_rate)
    finally:
        await proc.stop()
        if durable(kind):
            await broker.delete(topology)
    if kind is not Kind.WXFACE:
        return result  # the baselines' logs are not wxface's JSON lines
    return replace(result, logged=logged_trouble(workdir, f"{kind.value}.log"))


async def _phases(
    kind: Kind,
    target: Target,
    broker: BenchBroker,
    args: argparse.Namespace,
    common_rate: float | None,
) -> VariantResult:
    pool = int(args.max_rate * (args.duration + 1))
    await warm_up(target, broker, args.warmup, int(args.max_rate * (args.warmup + 1)))
    sat = await saturate(target, broker, args.duration, pool, args.connections)
    rate, note = fixed_rate_for(sat.wrk.ok_per_s, common_rate)
    fixed: FixedRate | None = None
    if rate > 0:
        fixed = await fixed_rate(target, broker, rate, args.fixed_duration, args.connections)
    summary = None
    if kind.value in args.profile.split(","):
        summary = await _profile(target, broker, args, pool)
    return VariantResult(kind, sat, fixed, note, summary)


async def _profile(
    target: Target, broker: BenchBroker, args: argparse.Namespace, pool: int
) -> ProfileSummary | None:
    """An extra saturation run under py-spy; its figures are not reported (sampling costs CPU)."""
    if not profile.available():
        print("py-spy is not installed (pip install py-spy): no profile", flush=True)
        return None
    out = target.workdir / "profile.txt"
    await saturate(target, broker, args.duration, pool, args.connections, profile_out=out)
    if not out.exists():
        print("py-spy wrote no profile (needs ptrace permission)", flush=True)
        return None
    summary = profile.summarize(out.read_text().splitlines())
    print(summary.render(), flush=True)
    return summary


def fixed_rate_for(saturation: float, common_rate: float | None) -> tuple[float, str]:
    """The rate of the fixed phase and, when it is not the common one, why."""
    if common_rate is None:
        return round(saturation / 2), ""
    if saturation >= common_rate * _HEADROOM:
        return common_rate, ""
    own = round(saturation / 2)
    return own, (
        f"saturates at {saturation:,.0f}/s, below {common_rate * _HEADROOM:,.0f}/s: "
        f"cannot sustain {common_rate:,.0f}/s, measured at half its own saturation ({own:,}/s)"
    )


def _summary(r: VariantResult) -> str:
    sat = r.saturation
    text = f"{sat.wrk.ok_per_s:,.0f} ok/s at saturation, queued {sat.queued}"
    if r.fixed is not None:
        res = r.fixed.result
        text += (
            f"; at {res.rate:,.0f}/s p50 {res.percentile_ms(50):.1f} ms "
            f"p99 {res.percentile_ms(99):.1f} ms (queued {r.fixed.queued}, ok {res.ok})"
        )
    return text


def _context(args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"receiver benchmark, {time.strftime('%Y-%m-%d %H:%M:%S')}: {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), load average {load}; Python "
        f"{platform.python_version()}; wrk -t2 -c{args.connections}, {args.duration:g} s "
        f"saturation, {args.fixed_duration:g} s fixed rate; (d) with "
        f"{args.receiver_workers} HTTP worker process(es). The load generators, the servers "
        "and RabbitMQ share these cores."
    )
