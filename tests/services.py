"""Reachability of the real services the integration tests use.

A test that needs a service it cannot reach skips locally with the reason, and fails in CI
(``CI=true``), where a missing service means the set-up is broken.
"""

from __future__ import annotations

import os
import socket

import pytest

AMQP_URL = os.environ.get("WXFACE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES_DSN = os.environ.get(
    "WXFACE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(service: str, host: str, port: int) -> None:
    """Skip (locally) or fail (in CI) the calling test when the service is unreachable."""
    if reachable(host, port):
        return
    reason = f"{service} is not reachable on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI must provide it: scripts/setup.sh)")
    pytest.skip(reason)
