"""Sampling profile of a server under load (py-spy, optional) and a summary of where CPU went.

``py-spy record --format raw`` writes collapsed stacks (``frame;frame;… count``, leaf last,
``function (file:line)`` per frame). The summary attributes each sample to the package of its
leaf frame (self time) and lists the functions with the most self and inclusive samples.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_NOT_CODE = ("process ", "thread ")  # py-spy's pseudo-frames for processes and threads
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


@dataclass(frozen=True)
class ProfileSummary:
    """Shares of all samples, largest first."""

    samples: int
    by_package: list[tuple[str, float]]  # self time by the leaf frame's package
    self_top: list[tuple[str, float]]
    inclusive_top: list[tuple[str, float]]

    def render(self, n: int = 12) -> str:
        """Plain text for the terminal and for reports."""
        lines = [f"{self.samples} samples; self time by package:"]
        lines += [f"  {share:6.1%}  {name}" for name, share in self.by_package[:n]]
        lines.append("top functions by self time:")
        lines += [f"  {share:6.1%}  {name}" for name, share in self.self_top[:n]]
        lines.append("top functions by inclusive time (below the entry point's chain):")
        top = self.inclusive_top[0][1] if self.inclusive_top else 0.0
        below = [(name, share) for name, share in self.inclusive_top if share < top]
        lines += [f"  {share:6.1%}  {name}" for name, share in below[:n]]
        return "\n".join(lines)


def binary() -> str | None:
    """The py-spy executable: beside this interpreter (a venv) or on PATH; None when absent."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def available() -> bool:
    """True when py-spy is installed (``pip install py-spy``)."""
    return binary() is not None


async def record(pid: int, duration_s: float, out: Path) -> int:
    """Sample ``pid`` and its subprocesses for ``duration_s`` into ``out``; py-spy's exit code."""
    proc = await asyncio.create_subprocess_exec(
        *(binary() or "py-spy", "record", "--format", "raw", "--nonblocking", "--subprocesses"),
        *("--rate", "200", "--duration", str(max(1, round(duration_s)))),
        *("--pid", str(pid), "--output", str(out)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await proc.wait()


def package(frame: str) -> str:
    """The top-level package (or module) of a frame's file: ``aiormq``, ``receiver``, ``asyncio``.

    py-spy names files relative to their ``sys.path`` entry, so the first part is the package.
    """
    match = _FRAME.match(frame)
    path = match.group("file") if match else frame
    if path.startswith("<"):
        return path.split(" ", 1)[0] + ">" if " " in path else path
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    return path.lstrip("/").split("/", 1)[0].removesuffix(".py")


def summarize(lines: list[str]) -> ProfileSummary:
    """Summarize collapsed stacks (process/thread frames are ignored)."""
    by_package: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if "(" in f and not f.startswith(_NOT_CODE)]
        if not frames:
            continue
        total += count
        by_package[package(frames[-1])] += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return ProfileSummary(
        total, _shares(by_package, total), _shares(self_time, total), _shares(inclusive, total)
    )


def _shares(counter: Counter[str], total: int) -> list[tuple[str, float]]:
    return [(name, n / total) for name, n in counter.most_common()] if total else []
