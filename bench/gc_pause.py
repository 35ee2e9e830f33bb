"""The benchmark's own garbage collector, held while a phase is measured.

A benchmark process holds every credential, request and outcome of its run, and a full
collection walks all of them. In 20 s steady phases of the worker benchmark (2026-12-05) the
benchmark's full collections took 70–245 ms, one every ~7 s, and each stopped the paced enqueue
and the outcome collector together: the 100–250 messages of each pause arrived late, and they
were most of the phase's p99. The pauses were the load generator's, not the system's under
test. A phase's garbage is freed by reference counting; what it leaves in cycles is collected
when the phase is over.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_held() -> Iterator[None]:
    """No collection inside the block; the objects alive at its start are frozen out of it."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
