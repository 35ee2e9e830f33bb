"""The README stays true to the code: its settings table and its RabbitMQ names."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from shared import settings as settings_module
from shared.amqp.topology import Topology
from shared.settings import ReceiverSettings, WorkerSettings

README = Path(__file__).resolve().parents[1] / "README.md"
ROW_RE = re.compile(r"^\| `(WXFACE_[A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \| (.+) \|$")


def readme_rows() -> dict[str, tuple[str, str]]:
    """Configuration table rows: variable → (used by, default)."""
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = ROW_RE.match(line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


def every_setting() -> set[str]:
    """Every ``WXFACE_`` variable of every settings model in ``shared/settings.py``."""
    models = [
        cls
        for _, cls in inspect.getmembers(settings_module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls.__module__ == settings_module.__name__
    ]
    return {f"WXFACE_{name.upper()}" for model in models for name in model.model_fields}


def default_text(field: FieldInfo) -> str:
    """A default as the README writes it."""
    if field.is_required():
        return "required"
    value = field.default
    if value is None:
        return "unset"
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return f"`{str(value).lower()}`" if isinstance(value, bool) else f"`{value}`"


def expected_row(variable: str) -> tuple[str, str]:
    """(used by, default) for a process setting, from the two process models."""
    name = variable.removeprefix("WXFACE_").lower()
    users = {
        who: default_text(model.model_fields[name])
        for who, model in (("receiver", ReceiverSettings), ("worker", WorkerSettings))
        if name in model.model_fields
    }
    used_by = "both" if len(users) == 2 else next(iter(users))
    defaults = set(users.values())
    default = (
        defaults.pop() if len(defaults) == 1 else "; ".join(f"{d} ({w})" for w, d in users.items())
    )
    return used_by, default


def test_every_setting_has_a_row_and_every_row_is_a_setting() -> None:
    """The configuration table lists exactly the settings the models define."""
    assert set(readme_rows()) == every_setting()


def test_each_row_names_the_right_processes_and_default() -> None:
    """Each row's "used by" and default columns are what the models say."""
    rows = readme_rows()
    mismatched = {v: (rows[v], expected_row(v)) for v in rows if rows[v] != expected_row(v)}
    assert mismatched == {}


def test_every_rabbitmq_name_is_listed() -> None:
    """Every exchange and queue the topology declares appears in the README's names table."""
    text = README.read_text(encoding="utf-8")
    topology = Topology("{prefix}")
    retry = {topology.retry_queue(t): f"`.retry.{t}s`" for t in topology.retry_tiers_s}
    names = [ex.name for ex in topology.exchange_specs()]
    names += [queue.name for queue in topology.queue_specs()]
    missing = [n for n in names if f"`{n}`" not in text and retry.get(n, f"`{n}`") not in text]
    assert missing == []


def test_relative_links_point_to_files() -> None:
    """Every relative Markdown link in the README names a file of the repository."""
    text = README.read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)]+)\)", text) if "://" not in t}
    missing = sorted(t for t in targets if t and not (README.parent / t).exists())
    assert missing == []
