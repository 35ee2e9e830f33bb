"""Tests of ``python -m worker``'s entry point."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from shared.settings import WorkerSettings
from worker import __main__ as entry


def test_the_worker_runs_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main()`` runs the worker's coroutine on uvloop's event loop, not asyncio's default."""
    loops: list[type[asyncio.AbstractEventLoop]] = []

    async def fake_run(settings: WorkerSettings) -> None:
        loops.append(type(asyncio.get_running_loop()))

    monkeypatch.setattr(entry, "run", fake_run)
    monkeypatch.setattr(entry, "load_settings", lambda model: model.model_construct())
    monkeypatch.setattr(entry, "configure_logging", lambda *args: None)
    assert entry.main([]) == 0
    assert len(loops) == 1
    assert issubclass(loops[0], uvloop.Loop)
