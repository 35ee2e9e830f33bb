"""A separate OS process that hammers one SQLite store, for the multi-process test.

``python -m tests.shared.store.hammer <database_url> <rounds> <name>`` creates sessions
``hammer-0000`` … and decides credential ``cred-<i>`` for each, then prints JSON: the sessions
this process created and, per session, the message_id of the decision the store returned.
"""

from __future__ import annotations

import asyncio
import json
import sys

from shared.errors import SessionExistsError
from shared.store import open_store
from shared.vocabulary import Reason
from tests.shared.store.support import DATA_KEY, decision, legacy


async def hammer(url: str, rounds: int, name: str) -> dict[str, object]:
    """Create and decide ``rounds`` sessions; report what this process saw."""
    store = await open_store(url, DATA_KEY)
    created: list[str] = []
    answers: dict[str, str] = {}
    try:
        for i in range(rounds):
            out_seq_no = f"hammer-{i:04d}"
            try:
                await store.create_session(legacy(out_seq_no))
                created.append(out_seq_no)
            except SessionExistsError:
                pass
            reason = None if i % 3 else Reason.NOT_PASSED
            made = decision(out_seq_no, f"cred-{i}", reason, f"{name}-{i}", decided_by=name)
            answers[out_seq_no] = (await store.decide(made)).decision.message_id
    finally:
        await store.close()
    return {"created": created, "answers": answers}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(hammer(sys.argv[1], int(sys.argv[2]), sys.argv[3]))))
