"""deploy/Dockerfile, checked statically (no Docker engine where the tests run)."""

from __future__ import annotations

import re

from tests.deploy.files import DEPLOY, RECEIVER_PORT, WORKER_PORT, settings_variables

DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")


def _instructions(keyword: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [
        line[len(keyword) :].strip() for line in joined.splitlines() if line.startswith(keyword)
    ]


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    """Two stages, both python:3.11-slim: one builds wheels, the runtime installs them."""
    stages = _instructions("FROM ")
    assert len(stages) == 2
    assert all(stage.startswith("python:3.11-slim") for stage in stages)
    assert any("pip wheel" in run for run in _instructions("RUN "))
    assert any("--from=build" in copy for copy in _instructions("COPY "))


def test_runtime_runs_as_a_non_root_user() -> None:
    """The last USER is a numeric non-root uid (Kubernetes runAsNonRoot can verify it)."""
    users = _instructions("USER ")
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0


def test_healthcheck_uses_python_urllib_against_healthz() -> None:
    """The HEALTHCHECK calls /healthz with python's urllib (no curl in the slim image)."""
    (check,) = _instructions("HEALTHCHECK ")
    assert "urllib.request" in check
    assert f"http://127.0.0.1:{RECEIVER_PORT}/healthz" in DOCKERFILE


def test_default_command_and_ports() -> None:
    """The image runs the receiver by default and exposes both processes' ports."""
    assert _instructions("CMD ")[-1] == '["python", "-m", "receiver"]'
    (expose,) = _instructions("EXPOSE ")
    assert set(expose.split()) == {str(RECEIVER_PORT), str(WORKER_PORT)}


def test_every_wxface_variable_is_a_real_setting() -> None:
    """Each WXFACE_ variable the image sets is read by the settings models."""
    mentioned = set(re.findall(r"\bWXFACE_[A-Z0-9_]+\b", DOCKERFILE))
    assert mentioned
    assert mentioned - settings_variables() == set()


def test_image_copies_every_runtime_package() -> None:
    """The build stage copies every package pyproject installs (a missing one breaks imports)."""
    copied = {
        source
        for copy in _instructions("COPY ")
        if not copy.startswith("--from")
        for source in copy.split()[:-1]
    }
    assert {"shared", "receiver", "worker", "standin", "pyproject.toml", "README.md"} <= copied
