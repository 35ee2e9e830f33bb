"""``python -m standin``: flags map onto the config; it binds, announces its port, stops on TERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import aiohttp

from standin.__main__ import parse_args


def test_flags_map_onto_config() -> None:
    """Every documented flag lands in StandinConfig; an empty AES key means none."""
    args, config = parse_args(
        [
            "--port",
            "0",
            "--appid",
            "wxaaaaaaaaaaaaaaaa",
            "--secret",
            "s",
            "--token",
            "t",
            "--encoding-aes-key",
            "",
            "--verify-result-ttl-s",
            "5",
            "--id-key-ttl-s",
            "60",
            "--token-ttl-s",
            "120",
            "--latency-ms",
            "3",
            "--fault-rate",
            "0.25",
            "--seed",
            "9",
        ]
    )
    assert args.port == 0
    assert (config.appid, config.secret, config.token) == ("wxaaaaaaaaaaaaaaaa", "s", "t")
    assert config.encoding_aes_key is None
    assert (config.verify_result_ttl_s, config.id_key_ttl_s, config.token_ttl_s) == (5, 60, 120)
    assert (config.latency_ms, config.fault_rate, config.seed) == (3, 0.25, 9)


async def test_runs_standalone_and_stops_on_sigterm() -> None:
    """The process announces its port, serves stats there, and exits 0 on SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "standin",
        "--port",
        "0",
        "--log-level",
        "warning",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = json.loads(await asyncio.wait_for(proc.stdout.readline(), timeout=30))
        assert line["event"] == "standin_listening"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{line['port']}/_standin/stats") as response,
        ):
            assert (await response.json())["token_fetches"] == 0
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
