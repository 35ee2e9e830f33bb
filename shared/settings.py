"""Settings: one pydantic-settings model per process, assembled from shared pieces.

Every variable has the ``WXFACE_`` prefix and may also come from a ``.env`` file. Secrets are
``SecretStr`` so that a settings dump masks them. Settings are parsed once, in ``__main__``,
through :func:`load_settings`, which turns any validation failure into one readable line.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.errors import ConfigError
from shared.wechat.http import Origin

_CONFIG = SettingsConfigDict(
    env_prefix="WXFACE_",
    env_file=".env",
    env_file_encoding="utf-8",
    extra="ignore",
    validate_default=True,
)
_AES_KEY_RE = re.compile(r"[A-Za-z0-9]{43}")
_APPID_RE = re.compile(r"wx[0-9a-zA-Z]{14,30}")


class _Piece(BaseSettings):
    model_config = _CONFIG


class AppSettings(_Piece):
    """The mini-program and where its WeChat API lives."""

    appid: str
    appsecret: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_timeout_s: float = Field(default=5.0, gt=0, le=60)
    token_mode: Literal["stable", "classic"] = "stable"

    @field_validator("appid")
    @classmethod
    def _appid_shape(cls, value: str) -> str:
        if not _APPID_RE.fullmatch(value):
            raise ValueError("must look like a mini-program appid: 'wx' + 14-30 letters/digits")
        return value

    @field_validator("wechat_api_base")
    @classmethod
    def _base_url(cls, value: str) -> str:
        try:
            Origin.parse(value)  # what the WeChat client will connect to
        except ValueError as exc:
            raise ValueError("must be an http:// or https:// URL with a host") from exc
        return value.rstrip("/")


class PushSettings(_Piece):
    """How WeChat signs and encrypts pushes, and what the receiver tolerates."""

    token: SecretStr
    encoding_aes_key: SecretStr | None = None
    allow_plaintext_push: bool = False
    timestamp_skew_s: int = Field(default=300, ge=1, le=86_400)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)

    @field_validator("encoding_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        raw = value.get_secret_value()
        if not _AES_KEY_RE.fullmatch(raw):
            raise ValueError("must be exactly 43 characters of [A-Za-z0-9]")
        try:
            key = base64.b64decode(raw + "=")
        except binascii.Error as exc:  # cannot happen for the alphabet above; be explicit
            raise ValueError("is not base64") from exc
        if len(key) != 32:
            raise ValueError("does not decode to a 32-byte AES key")
        return value


class AmqpSettings(_Piece):
    """RabbitMQ connection and the prefix of every name the system declares."""

    amqp_url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    amqp_prefix: str = Field(default="wxface", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class StoreSettings(_Piece):
    """The state store and the key that protects what it keeps about applicants."""

    database_url: str = "sqlite:///./wxface.db"
    data_key: SecretStr | None = None
    session_retention_days: int = Field(default=30, ge=1)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value


class LogSettings(_Piece):
    """Log format and level."""

    log_format: Literal["json", "console"] | None = None  # None: json unless stderr is a TTY
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class ReceiverSettings(AppSettings, PushSettings, AmqpSettings, StoreSettings, LogSettings):
    """Everything ``python -m receiver`` reads."""

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    http_workers: int = Field(default=1, ge=1, le=64)
    api_keys: SecretStr | None = None
    spool_dir: str = "./var/spool"
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    # receiver intake: how long a publish may wait for its confirm before the push is spooled
    publish_confirm_timeout_s: float = Field(default=2.0, gt=0, le=4)
    dedup_max_entries: int = Field(default=100_000, ge=100)

    @model_validator(mode="after")
    def _business_api_needs(self) -> ReceiverSettings:
        if self.api_keys is not None and self.appsecret is None:
            raise ValueError("WXFACE_APPSECRET is required when WXFACE_API_KEYS is set")
        if self.api_keys is not None and self.data_key is None:
            raise ValueError("WXFACE_DATA_KEY is required when WXFACE_API_KEYS is set")
        return self

    def api_key_set(self) -> frozenset[str]:
        """The accepted bearer keys (empty: business API disabled)."""
        if self.api_keys is None:
            return frozenset()
        return frozenset(k.strip() for k in self.api_keys.get_secret_value().split(",") if k)


class WorkerSettings(AppSettings, AmqpSettings, StoreSettings, LogSettings):
    """Everything ``python -m worker`` reads."""

    appsecret: SecretStr
    data_key: SecretStr
    worker_http_host: str = "127.0.0.1"
    worker_http_port: int = Field(default=8081, ge=0, le=65535)
    worker_prefetch: int = Field(default=64, ge=1, le=10_000)
    worker_concurrency: int = Field(default=64, ge=1, le=10_000)
    credential_ttl_s: int = Field(default=300, ge=10)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    worker_sweep_interval_s: float = Field(default=5.0, gt=0)
    worker_sweep_batch: int = Field(default=100, ge=1, le=10_000)
    worker_infra_patience_s: float = Field(default=30.0, gt=0)
    # how long a batch of decisions (and, with PostgreSQL, of session reads) waits for more
    # (0 = only what arrived meanwhile); SQLite's session reads never wait
    worker_batch_linger_ms: float = Field(default=5.0, ge=0, le=1000)
    # the same while the prefetch window is full or was in the last second (a backlog), where it
    # costs throughput
    worker_backlog_linger_ms: float = Field(default=1.0, ge=0, le=1000)


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S], **overrides: Any) -> S:
    """Build ``cls`` from the environment and ``.env``; raise ConfigError with one line."""
    try:
        return cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each bad variable and what is wrong with it, never its value."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in err["loc"])
        name = f"WXFACE_{field.upper()}" if field else "settings"
        msg = (
            "is required" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
        )
        parts.append(f"{name} {msg}")
    return "configuration error: " + "; ".join(parts)
