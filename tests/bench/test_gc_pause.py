"""Tests of the benchmark's hold on its own garbage collector."""

from __future__ import annotations

import gc

import pytest

from bench.gc_pause import collector_held


def test_no_collection_runs_inside_the_block_and_the_collector_is_back_after() -> None:
    """Inside: disabled, with the objects alive at the start frozen; after: as before."""
    assert gc.isenabled()
    with collector_held():
        assert not gc.isenabled()
        assert gc.get_freeze_count() > 0
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_the_collector_is_back_when_the_phase_fails() -> None:
    """A phase that raises (a timeout, say) does not leave the process without a collector."""
    with pytest.raises(TimeoutError), collector_held():
        raise TimeoutError
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
