"""What came out of the pipeline: the outcome events the downstream subscriber handed on.

The example subscriber (``examples/subscriber.py``) prints one JSON line per distinct event it
handles and one per repeat it acknowledges without handling (same ``message_id``). The
:class:`Collector` reads those lines, stamps each arrival with the demo's monotonic clock and
lets the driver wait for the first event of an ``out_seq_no``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson


@dataclass(frozen=True)
class Arrival:
    """One distinct outcome event as the subscriber handled it."""

    out_seq_no: str
    message_id: str
    outcome: str
    reason: str | None
    at: float  # the demo's monotonic clock


class Collector:
    """Arrivals per out_seq_no, repeats, and a future per verification the driver waits on."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.arrivals: dict[str, list[Arrival]] = {}
        self.repeats = 0
        self.ready = asyncio.Event()
        self._first: dict[str, asyncio.Future[Arrival]] = {}

    @property
    def distinct(self) -> int:
        """Distinct events handled so far."""
        return sum(len(a) for a in self.arrivals.values())

    def first(self, out_seq_no: str) -> asyncio.Future[Arrival]:
        """Resolves with the first event for ``out_seq_no`` (at once if it already came)."""
        future = self._first.get(out_seq_no)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._first[out_seq_no] = future
            if out_seq_no in self.arrivals:
                future.set_result(self.arrivals[out_seq_no][0])
        return future

    def take_line(self, line: bytes) -> None:
        """Account for one line of the subscriber's output (anything unknown is ignored)."""
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return
        event = record.get("event") if isinstance(record, dict) else None
        if event == "ready":
            self.ready.set()
        elif event == "duplicate":
            self.repeats += 1
        elif event == "handled":
            self._handled(record)

    def _handled(self, record: dict[str, object]) -> None:
        out_seq_no, message_id = str(record.get("out_seq_no")), str(record.get("message_id"))
        reason = record.get("reason")
        arrival = Arrival(
            out_seq_no, message_id, str(record.get("outcome")),
            reason if isinstance(reason, str) else None, self._clock(),
        )  # fmt: skip
        self.arrivals.setdefault(out_seq_no, []).append(arrival)
        future = self._first.get(out_seq_no)
        if future is not None and not future.done():
            future.set_result(arrival)

    async def read(self, stream: asyncio.StreamReader, log_path: Path) -> None:
        """Take every line of ``stream`` until it ends, copying them to ``log_path``."""
        with log_path.open("ab") as log:
            while line := await stream.readline():
                log.write(line)
                self.take_line(line)
