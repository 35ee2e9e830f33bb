"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests import services
from tests.private_broker import PrivateBroker, available


@pytest.fixture
def unique_prefix() -> str:
    """An AMQP name prefix of this test's own, so tests never see each other's queues."""
    return f"wxt-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def amqp_url() -> str:
    """URL of the real RabbitMQ (skips locally / fails in CI when it is down)."""
    services.require("RabbitMQ", "127.0.0.1", 5672)
    return services.AMQP_URL


@pytest.fixture
def postgres_dsn() -> str:
    """DSN of the real PostgreSQL (skips locally / fails in CI when it is down)."""
    services.require("PostgreSQL", "127.0.0.1", 5432)
    return services.POSTGRES_DSN


@pytest.fixture(scope="session")
def private_broker() -> Iterator[PrivateBroker]:
    """A RabbitMQ node of this session's own for fault tests (never the shared 5672 broker).

    A test that stops its app must start it again (``start_app`` in a ``finally``); the node
    itself is always stopped at the end of the session.
    """
    reason = available()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"private RabbitMQ node unavailable: {reason}")
        pytest.skip(reason)
    broker = PrivateBroker.start()
    try:
        yield broker
    finally:
        broker.stop()
