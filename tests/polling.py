"""Waiting for another process or the broker, which offer nothing to await but their answers.

The one place the tests poll: ask ``check`` every ``every_s`` until it returns something other
than None, or fail after ``within_s``. Correctness never rests on a sleep; only on the answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None]], within_s: float, what: str, every_s: float = 0.05
) -> T:
    """The first non-None answer of ``check``; TimeoutError naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        answer = await check()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within_s:.0f} s")
        await asyncio.sleep(every_s)


def eventually_sync(
    check: Callable[[], T | None], within_s: float, what: str, every_s: float = 0.1
) -> T:
    """:func:`eventually` for synchronous tests and fixtures."""
    deadline = time.monotonic() + within_s
    while True:
        answer = check()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {within_s:.0f} s")
        time.sleep(every_s)
