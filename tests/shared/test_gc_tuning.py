"""Tests of the collector tuning the worker and the stand-in apply at start-up."""

from __future__ import annotations

import gc

from shared.gc_tuning import GC_THRESHOLD, tune_collector


def test_the_collector_is_tuned_for_acyclic_garbage() -> None:
    """Start-up objects are frozen out of collections and the first generation's threshold
    is raised (a message's garbage is freed by reference counting)."""
    threshold = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
