"""Reading the deployment files the tests check (paths, YAML documents, settings names)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.settings import ReceiverSettings, WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
RECEIVER_PORT = 8080
WORKER_PORT = 8081
_WXFACE_VAR = re.compile(r"\bWXFACE_[A-Z0-9_]+\b")


def load_yaml(path: Path) -> Any:
    """The one YAML document in ``path``."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_yaml_all(path: Path) -> list[Any]:
    """Every non-empty YAML document in ``path``."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_objects() -> Iterator[dict[str, Any]]:
    """Every Kubernetes object in deploy/k8s."""
    for path in sorted(K8S.glob("*.yaml")):
        yield from load_yaml_all(path)


def settings_variables() -> set[str]:
    """Every environment variable the settings models read (``WXFACE_<FIELD>``)."""
    fields = set(ReceiverSettings.model_fields) | set(WorkerSettings.model_fields)
    return {f"WXFACE_{name.upper()}" for name in fields}


def wxface_variables(text: str) -> set[str]:
    """Every ``WXFACE_…`` name mentioned in ``text``."""
    return set(_WXFACE_VAR.findall(text))


def require_tool(name: str) -> str:
    """Path of a command-line tool; skip locally (fail in CI) when it is not installed."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} is not installed (scripts/setup.sh installs it)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
