"""A private RabbitMQ node for fault tests, so they never stop the shared broker on 5672.

The node gets its own name, AMQP port, distribution port, data and log directories, config file
(``/etc/rabbitmq/rabbitmq.conf`` pins the shared listener to 5672, so the private node needs a
config of its own) and an empty plugin list. Fault tests stop and start its app with
``rabbitmqctl -n <node>``; :meth:`PrivateBroker.stop` always stops the whole node.

Usage::

    broker = PrivateBroker.start()   # blocks until the node accepts AMQP connections
    broker.url                        # amqp://guest:guest@127.0.0.1:<port>/
    broker.stop_app(); broker.start_app()
    broker.stop()
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests import services
from tests.polling import eventually_sync

_START_TIMEOUT_S = 90.0
_CTL_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def available() -> str | None:
    """None when a private node can be started here, else the reason it cannot."""
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        return "rabbitmq-server is not installed"
    if os.geteuid() != 0:
        return "starting a private RabbitMQ node needs root (the scripts switch to rabbitmq)"
    return None


@dataclass
class PrivateBroker:
    """A running private RabbitMQ node; create it with :meth:`start`."""

    node: str
    port: int
    base: Path

    @property
    def url(self) -> str:
        """The AMQP URL of this node."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @classmethod
    def start(cls) -> PrivateBroker:
        """Start a fresh detached node and wait until it accepts AMQP connections."""
        port = free_port()
        base = Path(tempfile.mkdtemp(prefix="wxfault-"))
        broker = cls(node=f"wxfault-{os.getpid()}-{port}@localhost", port=port, base=base)
        env = broker._environment()
        subprocess.run(
            ["rabbitmq-server", "-detached"], env=env, check=True, timeout=_CTL_TIMEOUT_S
        )
        try:
            # -detached returns before the node registers; `wait <pidfile>` covers that gap
            pidfile = base / "mnesia" / f"{broker.node}.pid"
            broker._ctl("wait", str(pidfile), "--timeout", str(int(_START_TIMEOUT_S)))
            broker._ctl("await_startup", timeout=_START_TIMEOUT_S)
            broker.wait_reachable(True)
        except BaseException:
            broker.stop()
            raise
        return broker

    def _environment(self) -> dict[str, str]:
        conf = self.base / "rabbitmq.conf"
        conf.write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\nloopback_users = none\n")
        plugins = self.base / "enabled_plugins"
        plugins.write_text("[].\n")
        env_file = self.base / "rabbitmq-env.conf"
        env_file.write_text("")
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir()
        _give_to_rabbitmq(self.base)
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_CONFIG_FILE": str(conf),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
            "RABBITMQ_CONF_ENV_FILE": str(env_file),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _ctl(self, *args: str, timeout: float = _CTL_TIMEOUT_S) -> None:
        subprocess.run(
            ["rabbitmqctl", "-q", "-n", self.node, *args],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
        )

    def wait_reachable(self, expected: bool, timeout: float = _START_TIMEOUT_S) -> None:
        """Poll until the AMQP port is (or is no longer) accepting connections."""

        def settled() -> bool | None:
            return True if services.reachable("127.0.0.1", self.port, 0.5) == expected else None

        eventually_sync(settled, timeout, f"private broker reachable == {expected}")

    def stop_app(self) -> None:
        """Stop the RabbitMQ application (the node stays up); clients see the broker gone."""
        self._ctl("stop_app")
        self.wait_reachable(False)

    def start_app(self) -> None:
        """Start the RabbitMQ application again and wait until AMQP is accepted."""
        self._ctl("start_app")
        self._ctl("await_startup", timeout=_START_TIMEOUT_S)
        self.wait_reachable(True)

    def stop(self) -> None:
        """Stop the whole node and remove its files; safe to call more than once."""
        with contextlib.suppress(subprocess.SubprocessError, OSError):  # already gone
            self._ctl("stop")
        shutil.rmtree(self.base, ignore_errors=True)


def _give_to_rabbitmq(path: Path) -> None:
    """The server runs as user rabbitmq: hand it the node's directories."""
    try:
        user = pwd.getpwnam("rabbitmq")
    except KeyError:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs)]:
            os.chown(name, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid)
