"""What a benchmark run's wxface processes logged at warning level and above.

wxface writes JSON log lines; a clean benchmark run leaves no warning or error in them. A
channel RabbitMQ closed, a push the receiver spooled, a traceback: each means the figures of
the run were measured on something other than the normal path, so the run fails and says why.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson

TROUBLE = frozenset({"warning", "error", "critical"})


def logged_trouble(log_dir: Path, pattern: str) -> Counter[str]:
    """Warning and error events in the JSON logs ``pattern`` names in ``log_dir``, by event;
    lines that are not JSON log entries (a traceback, a library printing) count as
    ``unstructured output``."""
    found: Counter[str] = Counter()
    for path in sorted(log_dir.glob(pattern)):
        for line in path.read_bytes().splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                found["unstructured output"] += 1
                continue
            if isinstance(entry, dict) and entry.get("level") in TROUBLE:
                found[str(entry.get("event"))] += 1
    return found
