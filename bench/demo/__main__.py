"""``python -m bench.demo``: the command line of ``make demo``; Ctrl-C stops everything it started.

The first SIGINT/SIGTERM cancels the run, whose clean-up stops every child process and deletes
the run's queues and exchanges; further signals while that happens are ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from bench.demo.run import Options, run_demo, say

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
INTERRUPTED = 130


def parse_args(argv: list[str] | None = None) -> Options:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.demo", description=__doc__)
    p.add_argument("--count", type=int, default=3000, help="verifications to drive")
    p.add_argument("--seed", type=int, default=1, help="seed of the scripted mix")
    p.add_argument("--in-flight", type=int, default=200, help="verifications open at once")
    p.add_argument("--outcome-timeout-s", type=float, default=90.0,
                   help="how long one verification may wait for its outcome")  # fmt: skip
    p.add_argument("--amqp-url", default=DEFAULT_AMQP_URL, help="the RabbitMQ to use")
    p.add_argument("--run-dir", type=Path, default=None, help="logs and data (default: a temp dir)")
    p.add_argument("--keep-running", action="store_true",
                   help="after the report, keep everything up until Ctrl-C")  # fmt: skip
    a = p.parse_args(argv)
    if a.count < 1 or a.in_flight < 1:
        p.error("--count and --in-flight must be at least 1")
    return Options(a.count, a.seed, a.in_flight, a.outcome_timeout_s, a.amqp_url,
                   a.run_dir, a.keep_running)  # fmt: skip


class Interrupt:
    """Cancels the run on the first SIGINT/SIGTERM; remembers that it did."""

    def __init__(self, task: asyncio.Task[int]) -> None:
        self._task = task
        self.fired = False

    def install(self) -> None:
        """Handle SIGINT and SIGTERM on the running loop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        if self.fired:
            say("still stopping…")
            return
        self.fired = True
        say("\ninterrupted: stopping everything the demo started…")
        self._task.cancel()


async def guarded(options: Options) -> int:
    """Run the demo; on a signal, clean up and return 130."""
    task = asyncio.current_task()
    assert task is not None
    interrupt = Interrupt(task)
    interrupt.install()
    try:
        return await run_demo(options)
    except asyncio.CancelledError:
        if not interrupt.fired:
            raise
        return INTERRUPTED


def main(argv: list[str] | None = None) -> int:
    """Entry point; the exit status."""
    return asyncio.run(guarded(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
