"""One demo run's names, made-up secrets and free ports, and each child's settings from them.

Every run has its own AMQP prefix (``wxdemo-<hex>``), SQLite file, spool, random secrets
(appsecret, push Token, EncodingAESKey, data key, API key) and free ports; the receiver runs in
safe mode (EncodingAESKey set) with the business API on.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

from bench.child import free_port
from standin.config import DEMO_APPID

WORKERS = 2
_ALNUM = string.ascii_letters + string.digits


def _alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


@dataclass(frozen=True)
class RunConfig:
    """One run's names, secrets and ports (the secrets are made up for the run)."""

    run_dir: Path
    amqp_url: str
    tag: str
    appid: str = DEMO_APPID
    appsecret: str = field(default_factory=lambda: _alnum(32))
    token: str = field(default_factory=lambda: _alnum(32))
    aes_key: str = field(default_factory=lambda: _alnum(43))
    data_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    standin_port: int = field(default_factory=free_port)
    receiver_port: int = field(default_factory=free_port)
    worker_ports: tuple[int, ...] = field(
        default_factory=lambda: tuple(free_port() for _ in range(WORKERS))
    )

    @property
    def prefix(self) -> str:
        """The AMQP prefix of every name this run declares."""
        return f"wxdemo-{self.tag}"

    @property
    def subscriber_queue(self) -> str:
        """The downstream subscriber's own queue (under the prefix, so clean-up finds it)."""
        return f"{self.prefix}.demo-subscriber"

    @property
    def standin_url(self) -> str:
        """The WeChat stand-in."""
        return f"http://127.0.0.1:{self.standin_port}"

    @property
    def receiver_url(self) -> str:
        """The receiver (push endpoint, business API, operations)."""
        return f"http://127.0.0.1:{self.receiver_port}"

    def worker_url(self, n: int) -> str:
        """Worker ``n``'s operations server."""
        return f"http://127.0.0.1:{self.worker_ports[n]}"

    def common_env(self) -> dict[str, str]:
        """Settings the receiver and the workers share."""
        return {
            "WXFACE_APPID": self.appid, "WXFACE_APPSECRET": self.appsecret,
            "WXFACE_AMQP_URL": self.amqp_url, "WXFACE_AMQP_PREFIX": self.prefix,
            "WXFACE_DATABASE_URL": f"sqlite:///{self.run_dir / 'wxface.db'}",
            "WXFACE_DATA_KEY": self.data_key, "WXFACE_WECHAT_API_BASE": self.standin_url,
            "WXFACE_LOG_FORMAT": "json",
        }  # fmt: skip

    def receiver_env(self) -> dict[str, str]:
        """The receiver's settings: safe mode (EncodingAESKey set) and the business API on."""
        return {
            **self.common_env(), "WXFACE_TOKEN": self.token,
            "WXFACE_ENCODING_AES_KEY": self.aes_key, "WXFACE_API_KEYS": self.api_key,
            "WXFACE_HTTP_HOST": "127.0.0.1", "WXFACE_HTTP_PORT": str(self.receiver_port),
            "WXFACE_SPOOL_DIR": str(self.run_dir / "spool"),
        }  # fmt: skip

    def worker_env(self, n: int) -> dict[str, str]:
        """Worker ``n``'s settings."""
        return {**self.common_env(), "WXFACE_WORKER_HTTP_PORT": str(self.worker_ports[n])}

    def standin_args(self) -> list[str]:
        """Command line of the stand-in, with this run's credentials."""
        return [
            "-m", "standin", "--port", str(self.standin_port), "--appid", self.appid,
            "--secret", self.appsecret, "--token", self.token,
            "--encoding-aes-key", self.aes_key, "--log-level", "warning",
        ]  # fmt: skip

    def subscriber_args(self) -> list[str]:
        """Command line of the example subscriber."""
        return [
            "examples/subscriber.py", "--url", self.amqp_url, "--prefix", self.prefix,
            "--queue", self.subscriber_queue, "--prefetch", "256",
        ]  # fmt: skip
