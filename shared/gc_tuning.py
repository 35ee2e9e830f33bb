"""The cyclic garbage collector, tuned for long-running services whose garbage is acyclic.

A message's or a request's garbage is freed by reference counting: in a steady 1,000/s worker
benchmark run the collector's 221 collections found nothing to collect, yet at the default
threshold (700) it ran every ~50 messages and took 3.5% of the CPU. It still runs, after
:data:`GC_THRESHOLD` net allocations. Objects made at start-up live as long as the process and
are frozen out of every collection, so a full collection does not walk them.
"""

from __future__ import annotations

import gc

GC_THRESHOLD = 50_000


def tune_collector() -> None:
    """Freeze the objects alive now out of collections and raise the first threshold."""
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
