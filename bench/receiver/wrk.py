"""Closed-loop saturation load with ``wrk`` (Debian package) and its summary line.

``wrk`` keeps ``connections`` requests in flight for ``duration_s``; its Lua script
(``cycle.lua``) sends each pre-signed push at most once per pass and counts ``success``
answers, so the figure is confirmed pushes per second, not just HTTP responses.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("cycle.lua")
_SUMMARY = re.compile(r"^WXBENCH (.*)$", re.MULTILINE)


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no summary."""


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run saw."""

    duration_s: float
    requests: int  # answered
    sent: int  # handed to a connection (answered or cut off by the end of the run)
    ok: int  # 200 with body "success"
    bad: int  # any other HTTP answer
    wraps: int  # passes over the pool after the first (pushes sent twice)
    socket_errors: int  # connect + read + write + timeout
    p50_ms: float
    p99_ms: float

    @property
    def ok_per_s(self) -> float:
        """Confirmed pushes per second."""
        return self.ok / self.duration_s if self.duration_s else 0.0


def available() -> bool:
    """True when the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def parse_summary(output: str) -> WrkResult:
    """The WXBENCH line of ``cycle.lua`` as a result; WrkError when there is none."""
    match = _SUMMARY.search(output)
    if match is None:
        raise WrkError(f"wrk printed no summary: {output.strip()[-300:]}")
    fields = dict(part.split("=", 1) for part in match.group(1).split())
    n = {key: int(value) for key, value in fields.items()}
    return WrkResult(
        duration_s=n["duration_us"] / 1e6,
        requests=n["requests"],
        sent=n["sent"],
        ok=n["ok"],
        bad=n["bad"],
        wraps=n["wraps"],
        socket_errors=n["connect"] + n["read"] + n["write"] + n["timeout"],
        p50_ms=n["p50_us"] / 1000,
        p99_ms=n["p99_us"] / 1000,
    )


async def run_wrk(
    url: str, requests_file: Path, duration_s: float, connections: int = 64, threads: int = 2
) -> WrkResult:
    """Run wrk against ``url`` for ``duration_s`` with the pushes in ``requests_file``."""
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        "--timeout",
        "10s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(requests_file),
        str(threads),
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    text = out.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise WrkError(f"wrk exited {proc.returncode}: {text.strip()[-300:]}")
    return parse_summary(text)
