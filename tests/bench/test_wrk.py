"""Tests of the wrk driver: the summary line, and a real short run of cycle.lua."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bench.receiver import bare, wrk
from bench.receiver.pushes import sign_pushes, write_requests

LINE = (
    "WXBENCH duration_us=2000000 requests=900 sent=910 ok=880 bad=20 wraps=1 connect=1 read=2 "
    "write=3 timeout=4 p50_us=1500 p99_us=9000"
)


def test_summary_line_is_parsed() -> None:
    """The WXBENCH line becomes a result; ok per second uses the measured duration."""
    result = wrk.parse_summary("Running 2s test\n" + LINE + "\n")
    assert (result.requests, result.sent, result.ok, result.bad) == (900, 910, 880, 20)
    assert (result.wraps, result.socket_errors) == (1, 10)
    assert (result.p50_ms, result.p99_ms, result.ok_per_s) == (1.5, 9.0, 440.0)


def test_missing_summary_is_an_error() -> None:
    """Output without the summary line raises WrkError."""
    with pytest.raises(wrk.WrkError, match="no summary"):
        wrk.parse_summary("unable to connect to 127.0.0.1:1 Connection refused\n")


@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (scripts/setup.sh --bench)")
async def test_wrk_counts_success_and_wraps_of_a_small_pool(tmp_path: Path) -> None:
    """Against the bare app, every answer is success; a 10-push pool is reused (wraps > 0)."""
    server = TestServer(bare.create_app())
    await server.start_server()
    requests = tmp_path / "requests.txt"
    write_requests(sign_pushes(10, "w1"), requests)
    try:
        result = await wrk.run_wrk(str(server.make_url("")), requests, 1, connections=4)
    finally:
        await server.close()
    assert result.ok > 10
    assert (result.bad, result.socket_errors) == (0, 0)
    assert result.wraps > 0
    assert result.ok <= result.sent <= result.ok + 4
