"""Tests of ``python -m receiver``: serves, shares its port across workers, exits 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.polling import eventually_sync
from tests.private_broker import free_port
from tests.receiver.pushes import AES_KEY, APPID, TOKEN, delete_topology, face_event, make_push

pytestmark = [pytest.mark.broker, pytest.mark.slow]

_REPO = Path(__file__).resolve().parents[2]


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], within_s: float = 60) -> None:
    def ready() -> bool | None:
        assert proc.poll() is None, "receiver exited early"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                return True if r.status == 200 else None
        except (urllib.error.URLError, ConnectionError):
            return None

    eventually_sync(ready, within_s, "receiver /readyz")


@pytest.fixture
def receiver_env(amqp_url: str, unique_prefix: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment for a receiver process on a free port; its topology removed after."""
    env = {
        **os.environ,
        "WXFACE_APPID": APPID,
        "WXFACE_TOKEN": TOKEN,
        "WXFACE_ENCODING_AES_KEY": AES_KEY,
        "WXFACE_AMQP_URL": amqp_url,
        "WXFACE_AMQP_PREFIX": unique_prefix,
        "WXFACE_SPOOL_DIR": str(tmp_path / "spool"),
        "WXFACE_HTTP_PORT": str(free_port()),
        "WXFACE_LOG_FORMAT": "json",
    }
    yield env
    asyncio.run(delete_topology(amqp_url, unique_prefix))


@pytest.mark.parametrize("workers", [1, 2])
def test_serves_and_stops_cleanly_on_sigterm(receiver_env: dict[str, str], workers: int) -> None:
    """With one or several workers on one port, pushes are accepted and SIGTERM exits 0."""
    env = {**receiver_env, "WXFACE_HTTP_WORKERS": str(workers)}
    port = int(env["WXFACE_HTTP_PORT"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver"], cwd=_REPO, env=env, stderr=subprocess.PIPE
    )
    try:
        _wait_healthy(port, proc)
        for _ in range(4 * workers):
            query, body = make_push(face_event())
            url = f"http://127.0.0.1:{port}/wechat/push?" + urllib.parse.urlencode(query)
            with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=15) as r:
                assert r.read() == b"success"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 0, stderr.decode()[-2000:]
    assert stderr.count(b"receiver_stopped") == workers
    assert TOKEN.encode() not in stderr


def test_sigterm_during_start_up_exits_zero(receiver_env: dict[str, str]) -> None:
    """A stop signal that arrives while workers are still starting still ends in exit 0."""
    env = {**receiver_env, "WXFACE_HTTP_WORKERS": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "receiver"], cwd=_REPO, env=env, stderr=subprocess.PIPE
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the children are spawning, far from serving yet
            if b"receiver_workers_started" in line:
                break
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
