"""Tests of server processes: start, wait until answering, RSS of the tree, stop."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bench.receiver.process import Server, ServerError, free_port, process_tree, read_rss
from bench.receiver.pushes import PATH


async def test_bare_server_answers_reports_rss_and_stops(tmp_path: Path) -> None:
    """The bare variant comes up, has a plausible RSS, and exits 0 on SIGTERM."""
    port = free_port()
    server = Server([sys.executable, "-m", "bench.receiver.bare", str(port)], tmp_path / "a.log")
    await server.start()
    try:
        await server.wait_answering(port, PATH)
        [rss] = server.rss()
        assert rss.pid == server.pid
        assert 10 < rss.rss_mb < 500
    finally:
        code = await server.stop()
    assert code == 0


async def test_a_server_that_exits_is_reported(tmp_path: Path) -> None:
    """A command that dies at once raises ServerError naming its log."""
    server = Server([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "x.log")
    await server.start()
    with pytest.raises(ServerError, match="exited 3"):
        await server.wait_answering(free_port(), PATH, within_s=10)
    await server.stop()


def test_process_tree_and_rss_of_this_process() -> None:
    """This process is the root of its own tree, and its RSS is readable."""
    assert process_tree(os.getpid())[0] == os.getpid()
    rss = read_rss(os.getpid())
    assert rss is not None
    assert rss.rss_mb > 0
