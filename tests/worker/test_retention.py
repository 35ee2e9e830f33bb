"""Retention: the worker's periodic purge, with an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from structlog.testing import capture_logs

from shared.errors import StoreUnavailableError
from shared.settings import WorkerSettings
from shared.store import Store, open_store
from shared.store.model import Clock
from tests.receiver.pushes import delete_topology
from tests.shared.store import conftest as store_fixtures
from tests.shared.store.support import DATA_KEY, Database, decision, legacy, v2
from tests.worker.conftest import api_base, worker_settings
from worker.retention import Retention
from worker.service import WorkerService

backend = store_fixtures.backend
make_database = store_fixtures.make_database
database = store_fixtures.database

DAY_S = 86_400.0
RETENTION = timedelta(days=30)


@dataclass
class FakeClock:
    """Wall-clock seconds that move only when the test says so."""

    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        """The current fake time, in seconds."""
        return self.now

    def as_datetime(self) -> datetime:
        """The current fake time as the store's clock reads it."""
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, days: float) -> None:
        """Move the clock ``days`` forward."""
        self.now += days * DAY_S


@dataclass
class Passes:
    """Records each purge pass's count (the ``on_purged`` hook) for the test to wait on."""

    counts: asyncio.Queue[int] = field(default_factory=asyncio.Queue)

    def __call__(self, purged: int) -> None:
        """One pass finished, having purged ``purged`` sessions."""
        self.counts.put_nowait(purged)

    async def next_nonzero(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """The count of the next pass that purged something."""
        async with asyncio.timeout(timeout):
            while (count := await self.counts.get()) == 0:
                pass
        return count


@pytest.fixture
def clock() -> FakeClock:
    """The test's clock, shared by the store (updated_at) and the retention job."""
    return FakeClock()


@pytest.fixture
async def clocked_store(database: Database, clock: FakeClock) -> AsyncIterator[Store]:
    """A store whose rows are stamped with the fake clock."""
    store_clock: Clock = clock.as_datetime
    store = await open_store(database.url, DATA_KEY, clock=store_clock)
    yield store
    await store.close()


async def test_periodic_job_purges_old_sessions_and_keeps_the_decision_log(
    clocked_store: Store, clock: FakeClock, database: Database
) -> None:
    """Each pass purges sessions untouched for 30 days; their decisions and ledger stay."""
    store, passes = clocked_store, Passes()
    old = await store.create_session(legacy(expires_in=300 - 40 * DAY_S))
    await store.decide(decision(old.out_seq_no, "cred-old"))
    clock.advance(days=20)
    young = await store.create_session(v2(expires_in=300 - 20 * DAY_S))
    clock.advance(days=11)  # old: 31 days untouched, young: 11
    job = Retention(store, RETENTION, interval_s=0.02, clock=clock, on_purged=passes)
    await job.start()
    try:
        assert await passes.next_nonzero() == 1  # the pass at start-up
        assert await store.get_session(old.out_seq_no) is None
        assert await store.get_session(young.out_seq_no) == young
        clock.advance(days=20)  # young: 31 days untouched
        assert await passes.next_nonzero() == 1  # a later, periodic pass
    finally:
        await job.stop()
    assert await store.get_session(young.out_seq_no) is None
    assert [d.credential for d in await store.decisions_for(old.out_seq_no)] == ["cred-old"]
    replay = await store.decide(decision(old.out_seq_no, "cred-old"))
    assert replay.new is False  # the ledger still knows the credential
    assert await database.count("SELECT count(*) FROM sessions") == 0


async def test_a_session_touched_recently_is_kept(clocked_store: Store, clock: FakeClock) -> None:
    """The cut-off is the last update, not the creation: a late decision restarts the wait."""
    store = clocked_store
    session = await store.create_session(legacy(expires_in=300 - 40 * DAY_S))
    clock.advance(days=25)
    await store.decide(
        replace(decision(session.out_seq_no, "cred-late"), decided_at=clock.as_datetime())
    )
    clock.advance(days=25)  # 50 days since creation, 25 since the decision
    assert await Retention(store, RETENTION, clock=clock).purge_once() == 0
    assert await store.get_session(session.out_seq_no) is not None
    clock.advance(days=6)
    assert await Retention(store, RETENTION, clock=clock).purge_once() == 1


async def test_two_workers_purging_at_once_delete_each_session_once(database: Database) -> None:
    """Two workers' passes at the same moment share the work: the counts add up, no error."""
    first, second = await database.open(), await database.open()
    try:
        for _ in range(20):
            await first.create_session(legacy())
        later = FakeClock(time.time() + 31 * DAY_S)
        jobs = [Retention(s, RETENTION, clock=later) for s in (first, second, first, second)]
        counts = await asyncio.gather(*(job.purge_once() for job in jobs))
        assert sum(counts) == 20
        assert await database.count("SELECT count(*) FROM sessions") == 0
    finally:
        await first.close()
        await second.close()


class FlakyStore:
    """A store whose first purge fails as if the database were down."""

    def __init__(self) -> None:
        self.cutoffs: list[datetime] = []

    async def purge_sessions(self, older_than: datetime) -> int:
        """Fail the first call, then report three sessions purged."""
        self.cutoffs.append(older_than)
        if len(self.cutoffs) == 1:
            raise StoreUnavailableError("database is down")
        return 3


async def test_a_failed_pass_is_logged_and_the_next_one_runs() -> None:
    """A store failure does not stop the job (nor fail start-up): the next pass purges."""
    store, passes, clock = FlakyStore(), Passes(), FakeClock(1_700_000_000.0)
    job = Retention(store, RETENTION, interval_s=0.02, clock=clock, on_purged=passes)
    with capture_logs() as logs:
        await job.start()
        try:
            assert await passes.next_nonzero() == 3
        finally:
            await job.stop()
    assert {"event": "purge_failed", "error": "store_unavailable", "log_level": "warning"} in logs
    assert store.cutoffs[0] == datetime.fromtimestamp(1_700_000_000.0, UTC) - RETENTION


def test_retention_days_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """WXFACE_SESSION_RETENTION_DAYS sets the worker's retention (default 30 days)."""

    def load() -> WorkerSettings:
        return WorkerSettings.model_validate(
            {"appid": "wx0123456789abcdef", "appsecret": "s", "data_key": "k"}
        )

    monkeypatch.delenv("WXFACE_SESSION_RETENTION_DAYS", raising=False)
    assert load().session_retention_days == 30
    monkeypatch.setenv("WXFACE_SESSION_RETENTION_DAYS", "7")
    assert load().session_retention_days == 7


@pytest.mark.broker
async def test_the_worker_purges_at_start_up(
    amqp_url: str, unique_prefix: str, tmp_path: Path, standin_server: TestServer
) -> None:
    """A starting worker purges what is past WXFACE_SESSION_RETENTION_DAYS and counts it."""
    db, long_ago = tmp_path / "wx.db", FakeClock(time.time() - 3 * DAY_S)
    store = await open_store(f"sqlite:///{db}", DATA_KEY, clock=long_ago.as_datetime)
    try:
        stale = await store.create_session(legacy(expires_in=300 - 3 * DAY_S))
        stale_decision = decision(stale.out_seq_no, "cred-stale")
        await store.decide(replace(stale_decision, decided_at=long_ago.as_datetime()))
        settings = worker_settings(amqp_url, unique_prefix, db, api_base(standin_server),
                                   data_key=DATA_KEY, session_retention_days=2)  # fmt: skip
        worker = WorkerService(settings)
        await worker.start()
        try:
            assert "wxface_worker_sessions_purged_total 1.0" in worker.metrics.render().decode()
        finally:
            await worker.stop()
        assert await store.get_session(stale.out_seq_no) is None
        assert len(await store.decisions_for(stale.out_seq_no)) == 1
    finally:
        await store.close()
        await delete_topology(amqp_url, unique_prefix)
