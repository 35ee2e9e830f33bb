"""Whether RabbitMQ rolled its quorum-queue write-ahead log over during a phase.

Every quorum queue's entries go through one WAL file. When it reaches ``wal_max_size_bytes``
(512 MiB by default) RabbitMQ starts the next file and its segment writer copies the full one's
entries into each queue's segment files. In a worker benchmark run (2026-12-05 17:54:49) that
kept RabbitMQ above one core for about 1.3 s, and the 20 s steady phase it fell into had about
1,400 late outcomes: p99 199 ms, against 128–151 ms in the phases around it without one. On
this machine that happened once per ~15 minutes of benchmarking. The files are numbered
(``00000005.wal``), so the newest name before and after a phase tells whether it happened.
They are looked for where Debian's package keeps them; elsewhere, or without the permission to
read them, nothing is known (None).
"""

from __future__ import annotations

import glob
from pathlib import Path

WAL_FILES = "/var/lib/rabbitmq/mnesia/*/quorum/*/*.wal"


def newest_wal(pattern: str = WAL_FILES) -> str | None:
    """The name of the newest WAL file, None when none can be seen."""
    names = sorted(Path(path).name for path in glob.glob(pattern))
    return names[-1] if names else None


def rolled_over(before: str | None, after: str | None) -> bool | None:
    """True when the WAL moved on to a new file between the two readings; None if unknown."""
    if before is None or after is None:
        return None
    return before != after
