"""Issue 3 end to end: both flows through receiver → RabbitMQ → worker → identity event.

Each test runs the whole pipeline in-process (``tests/pipeline_rig.py``) on SQLite and on
PostgreSQL, driving it only through its public surfaces: the business API, the stand-in playing
the user and WeChat's pusher (safe mode), and the ``{prefix}.identity`` exchange. The privacy
test then looks for the applicant's name and ID number everywhere the run left data: the
database, every file, every log event, every message on the broker and both ``/metrics``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import structlog

from shared.vocabulary import Flow, Outcome, Reason
from shared.wechat.applicant import cert_hash, id_card_md5, name_md5
from standin.scenario import Script
from tests import pipeline_rig as rig
from tests.pipeline_rig import Pipeline
from tests.receiver.api import conftest as api_fixtures
from tests.receiver.api.support import ID_NUMBER, NAME, legacy_body, seq, v2_body
from tests.shared.store import conftest as store_fixtures
from tests.shared.store.support import Database
from tests.worker.rig import one_decision_each

pytestmark = pytest.mark.broker

backend = store_fixtures.backend
make_database = store_fixtures.make_database
database = store_fixtures.database
standin_server = rig.standin_server
api_settings = api_fixtures.api_settings
make_api = api_fixtures.make_api
pipeline = rig.pipeline

Scenario = Callable[[Pipeline, str], Awaitable[None]]


async def legacy_pushed(p: Pipeline, out: str) -> None:
    """Registered; the user finishes and WeChat pushes face_identify to the receiver."""
    await p.register(legacy_body(out))
    await p.complete(out, push=True)


async def legacy_lost_push(p: Pipeline, out: str) -> None:
    """Registered; the push never comes, the front end submits the verify_result."""
    await p.register(legacy_body(out))
    done = await p.complete(out, push=False)
    await p.submit(out, {"verify_result": done["verify_result"]})


async def legacy_other_person(p: Pipeline, out: str) -> None:
    """Registered; WeChat says somebody else's face passed (another person's md5s)."""
    await p.register(legacy_body(out))
    p.script(out, Script(other_person=True))
    await p.complete(out, push=True)


async def v2_passed(p: Pipeline, out: str) -> None:
    """Registered (v2); the user finishes and the front end reports it with ``{}``."""
    await p.register(v2_body(out))
    await p.complete(out, push=False)
    await p.submit(out, {})


async def v2_not_passed(p: Pipeline, out: str) -> None:
    """Registered (v2); WeChat's verify_ret says the verification did not pass."""
    await p.register(v2_body(out))
    p.script(out, Script(verify_ret=90002))
    await p.complete(out, push=False)
    await p.submit(out, {})


@dataclass(frozen=True)
class Case:
    """A scenario and the identity event it must end in."""

    scenario: Scenario
    flow: Flow
    outcome: Outcome
    reason: Reason | None


CASES = {
    "legacy pushed": Case(legacy_pushed, Flow.LEGACY, Outcome.VERIFIED, None),
    "legacy lost push": Case(legacy_lost_push, Flow.LEGACY, Outcome.VERIFIED, None),
    "legacy other person": Case(
        legacy_other_person, Flow.LEGACY, Outcome.REJECTED, Reason.IDENTITY_MISMATCH
    ),
    "v2 passed": Case(v2_passed, Flow.V2, Outcome.VERIFIED, None),
    "v2 not passed": Case(v2_not_passed, Flow.V2, Outcome.REJECTED, Reason.NOT_PASSED),
}


async def check_final_status(p: Pipeline, out: str, case: Case) -> None:
    """``GET /v1/verifications/{out}`` shows the outcome's status and reason."""
    view = await p.status(out)
    reason = case.reason.value if case.reason is not None else None
    assert (view["status"], view["reason"]) == (case.outcome.status.value, reason)


@pytest.mark.parametrize("name", list(CASES))
async def test_flow_ends_in_its_identity_event(pipeline: Pipeline, name: str) -> None:
    """Each scenario ends in exactly its outcome event, and the API shows the final status."""
    case, out = CASES[name], seq()
    await case.scenario(pipeline, out)
    [got] = await pipeline.outcomes({out})
    assert got.routing_key == f"identity.{case.outcome.value}"
    assert (got.event.flow, got.event.outcome, got.event.reason) == (
        case.flow,
        case.outcome,
        case.reason,
    )
    await check_final_status(pipeline, out, case)


def forbidden() -> dict[str, bytes]:
    """The applicant's personal data in every spelling a leak could take (lower-cased)."""
    values = {
        "name": NAME.encode(),
        "name, JSON-escaped": json.dumps(NAME).strip('"').encode(),
        "name, bytes repr": repr(NAME.encode())[2:-1].encode(),
        "ID number (X or x)": ID_NUMBER.encode(),
        "ID number md5": id_card_md5(ID_NUMBER).encode(),
        "name md5": name_md5(NAME).encode(),
        "cert_hash": cert_hash(NAME, ID_NUMBER).encode(),
    }
    return {label: value.lower() for label, value in values.items()}


def hits(sinks: Mapping[str, bytes]) -> dict[str, int]:
    """``"sink: value" → occurrences`` of each forbidden value, case-insensitively; {} = clean."""
    found = {}
    for sink, blob in sinks.items():
        lowered = blob.lower()
        for label, value in forbidden().items():
            if count := lowered.count(value):
                found[f"{sink}: {label}"] = count
    return found


async def database_bytes(database: Database) -> bytes:
    """The SQLite file with its -wal/-shm, or every PostgreSQL table of the schema as text."""
    if database.path is not None:
        files = [database.path.with_name(database.path.name + s) for s in ("", "-wal", "-shm")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    tables = await database.rows(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    rows = [r for (t,) in tables for r in await database.rows(f"SELECT t::text FROM {t} t")]
    return "\n".join(str(r) for r in rows).encode()


def every_file(root: Path) -> bytes:
    """Every file under ``root`` (the run's database files and the receiver's spool)."""
    return b"".join(f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file())


async def sinks_of(p: Pipeline, tmp_path: Path, work_items: int) -> dict[str, bytes]:
    """Everything the run wrote, by where it went."""
    return {
        "database": await database_bytes(p.database),
        "files": every_file(tmp_path),
        "logs": p.log_text(),
        "identity messages": b"\n".join(p.downstream.raw),
        "work messages": b"\n".join(await p.work.take_all(at_least=work_items)),
        **await p.metrics(),
    }


def test_the_scan_finds_personal_data_that_is_there() -> None:
    """The scanner is not blind: it finds the name and the ID number with X, x or escaped."""
    body = orjson.dumps(legacy_body())
    lower_x = body.replace(ID_NUMBER.encode(), ID_NUMBER.lower().encode())
    escaped = json.dumps(legacy_body()).encode()  # ensure_ascii: the name as \\uXXXX
    found = hits({"X": body, "x": lower_x, "escaped": escaped})
    assert {"X: name", "X: ID number (X or x)", "x: ID number (X or x)"} <= set(found)
    assert "escaped: name, JSON-escaped" in found
    assert hits({"clean": orjson.dumps(v2_body() | {"name": "-", "id_card_number": "-"})}) == {}


async def test_nothing_personal_is_left_anywhere(pipeline: Pipeline, tmp_path: Path) -> None:
    """After every scenario ran, no file, table, log, message or metric holds name or ID."""
    outs = {name: seq() for name in CASES}
    await asyncio.gather(*(CASES[name].scenario(pipeline, out) for name, out in outs.items()))
    events = one_decision_each(await pipeline.outcomes(set(outs.values())))
    for name, out in outs.items():
        assert events[out].event.outcome is CASES[name].outcome
        await check_final_status(pipeline, out, CASES[name])
    sinks = await sinks_of(pipeline, tmp_path, work_items=len(CASES))
    for sink in ("database", "logs", "identity messages", "work messages"):
        assert all(out.encode() in sinks[sink] for out in outs.values()), sink  # scanned for real
    assert b"wxface_worker_outcomes_total" in sinks["worker metrics"]
    assert b"wxface_push_accepted_total" in sinks["receiver metrics"]
    assert hits(sinks) == {}
    structlog.get_logger("control").info("planted_on_purpose", name=NAME)
    assert "logs: name" in hits({"logs": pipeline.log_text()})  # the log capture is live
