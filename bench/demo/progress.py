"""The progress bar on stderr: one line redrawn in place on a terminal, a line now and then if not.

No dependency: a ``\\r``-redrawn line of ``#`` and ``.``, outcomes received out of the total,
verifications started, the rate so far and the elapsed time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 30
TTY_REFRESH_S = 0.2
PLAIN_REFRESH_S = 10.0


def render(done: int, started: int, total: int, elapsed_s: float) -> str:
    """``[####.....]  812/2000 outcomes  started 1010  41.3/s  19.7 s``."""
    filled = WIDTH * done // total if total else WIDTH
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    width = len(str(total))
    return (
        f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done:>{width}}/{total} outcomes"
        f"  started {started:>{width}}  {rate:5.1f}/s  {elapsed_s:5.1f} s"
    )


class Progress:
    """Redraws itself from ``counts() -> (done, started)`` until :meth:`finish`."""

    def __init__(
        self,
        total: int,
        counts: Callable[[], tuple[int, int]],
        stream: TextIO,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._total = total
        self._counts = counts
        self._stream = stream
        self._clock = clock
        self._started_at = clock()
        self._tty = stream.isatty()

    def line(self) -> str:
        """The current line."""
        done, started = self._counts()
        return render(
            min(done, self._total), started, self._total, self._clock() - self._started_at
        )

    def draw(self) -> None:
        """Write the line (in place on a terminal)."""
        if self._tty:
            self._stream.write("\r" + self.line())
        else:
            self._stream.write(self.line() + "\n")
        self._stream.flush()

    async def run(self) -> None:
        """Redraw periodically until cancelled."""
        while True:
            self.draw()
            await asyncio.sleep(TTY_REFRESH_S if self._tty else PLAIN_REFRESH_S)

    def finish(self) -> None:
        """The last redraw, ending the line."""
        self.draw()
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()
