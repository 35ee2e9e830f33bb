"""The Kubernetes ConfigMap and Secret template, built from the settings models.

Every field of :class:`~shared.settings.ReceiverSettings` and
:class:`~shared.settings.WorkerSettings` becomes one ``WXFACE_`` key: secrets (``SecretStr``
fields, and the database URL, which carries a password) in the Secret template, everything
else in the ConfigMap with the code's default, or a container-specific value from
:data:`OVERRIDES`. ``python -m deploy.generate`` rewrites both when a setting is added.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from shared.settings import ReceiverSettings, WorkerSettings

CONFIGMAP = "wxface-config"
SECRET = "wxface-secrets"
LABELS = {"app.kubernetes.io/part-of": "wxface"}
# values that differ from the code's defaults inside a container
OVERRIDES: dict[str, str] = {
    "appid": "wx0123456789abcdef",
    "http_host": "0.0.0.0",  # noqa: S104 - a container listens on its pod IP
    "worker_http_host": "0.0.0.0",  # noqa: S104
    "spool_dir": "/var/lib/wxface/spool",
    "log_format": "json",
}
_SECRET_NAMES = frozenset({"database_url"})  # plain str, but the URL carries a password
_PLACEHOLDERS = {
    "appsecret": "<app secret>",
    "token": "<message-push Token>",
    "encoding_aes_key": "<43-character EncodingAESKey, or empty for plaintext mode>",
    "api_keys": "<comma-separated business API bearer keys>",
    "data_key": "<long random key protecting stored applicant data>",
    "amqp_url": "amqp://wxface:<password>@wxface-rabbitmq.wxface.svc:5672/",
    "database_url": "postgresql://wxface:<password>@<postgres host>:5432/wxface",
}


def settings_fields() -> dict[str, FieldInfo]:
    """Every field of both processes' settings, receiver's first, each once."""
    return {**ReceiverSettings.model_fields, **WorkerSettings.model_fields}


def is_secret(name: str, field: FieldInfo) -> bool:
    """True for settings that belong in the Secret."""
    return name in _SECRET_NAMES or SecretStr in _types(field.annotation)


def _types(annotation: Any) -> set[Any]:
    args = typing.get_args(annotation)
    return {annotation} if not args else set().union(*(_types(a) for a in args))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_configmap() -> dict[str, Any]:
    """The ConfigMap of every non-secret setting."""
    data = {
        f"WXFACE_{name.upper()}": OVERRIDES.get(name) or _text(field.default)
        for name, field in settings_fields().items()
        if not is_secret(name, field)
    }
    return _object("ConfigMap", CONFIGMAP, {"data": data})


def build_secret_template() -> dict[str, Any]:
    """The Secret template of every secret setting (placeholders only)."""
    data = {
        f"WXFACE_{name.upper()}": _PLACEHOLDERS.get(name, "<set me>")
        for name, field in settings_fields().items()
        if is_secret(name, field)
    }
    return _object("Secret", SECRET, {"type": "Opaque", "stringData": data})


def _object(kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": name, "labels": LABELS},
        **body,
    }
