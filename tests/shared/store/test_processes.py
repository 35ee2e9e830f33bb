"""SQLite shared by real OS processes: one file, several writers, still exactly-once."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import tests
from shared.store.migrations import load
from tests.shared.store.support import Database

PROCESSES = 4
ROUNDS = 150
REPO = Path(tests.__file__).resolve().parent.parent


async def _run(url: str, name: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.shared.store.hammer",
        url,
        str(ROUNDS),
        name,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_processes_hammering_one_file_decide_each_credential_once(tmp_path: Path) -> None:
    """Four processes race on a fresh file: one creator and one decision per session."""
    path = tmp_path / "shared.db"
    database = Database("sqlite", f"sqlite:///{path}", path)
    results = await asyncio.gather(*(_run(database.url, f"p{i}") for i in range(PROCESSES)))
    sessions = [f"hammer-{i:04d}" for i in range(ROUNDS)]
    creators = sorted(s for r in results for s in r["created"])
    assert creators == sessions
    for out_seq_no in sessions:
        assert len({r["answers"][out_seq_no] for r in results}) == 1
    assert await database.count("SELECT count(*) FROM decision_log") == ROUNDS
    assert await database.count("SELECT count(DISTINCT credential) FROM decision_log") == ROUNDS
    winners = await database.rows("SELECT out_seq_no, message_id FROM decision_log")
    assert dict(winners) == results[0]["answers"]
    assert await database.count("SELECT count(*) FROM schema_version") == len(load("sqlite"))
