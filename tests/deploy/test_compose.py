"""deploy/compose.yaml: the services the issue lists, real settings, the code's ports and paths.

Docker is not available where the tests run, so the file is checked statically.
"""

from __future__ import annotations

from typing import Any

from tests.deploy.files import (
    DEPLOY,
    RECEIVER_PORT,
    WORKER_PORT,
    load_yaml,
    settings_variables,
    wxface_variables,
)

COMPOSE = DEPLOY / "compose.yaml"


def _services() -> dict[str, Any]:
    services: dict[str, Any] = load_yaml(COMPOSE)["services"]
    return services


def _wxface(role: str) -> list[dict[str, Any]]:
    return [s for s in _services().values() if s.get("command", [])[-1:] == [role]]


def test_compose_runs_the_whole_pipeline() -> None:
    """RabbitMQ, PostgreSQL, one receiver, two workers, Prometheus and Grafana are defined."""
    services = _services()
    assert {"rabbitmq", "postgres", "prometheus", "grafana"} <= set(services)
    assert len(_wxface("receiver")) == 1
    assert len(_wxface("worker")) == 2


def test_every_wxface_variable_is_a_real_setting() -> None:
    """Each WXFACE_ variable compose sets or mentions is read by the settings models."""
    mentioned = wxface_variables(COMPOSE.read_text(encoding="utf-8"))
    assert mentioned
    assert mentioned - settings_variables() == set()


def test_rabbitmq_has_management_and_prometheus_plugins() -> None:
    """The plugins file compose mounts enables management and prometheus."""
    rabbit = _services()["rabbitmq"]
    plugins_mount = next(
        v for v in rabbit["volumes"] if v.endswith("/etc/rabbitmq/enabled_plugins:ro")
    )
    plugins = (DEPLOY / plugins_mount.split(":")[0]).read_text(encoding="utf-8")
    assert "rabbitmq_management" in plugins
    assert "rabbitmq_prometheus" in plugins


def test_processes_listen_on_the_codes_default_ports() -> None:
    """The receiver listens on 8080 and workers on 8081, on every interface, as the code reads."""
    (receiver,) = _wxface("receiver")
    env = receiver["environment"]
    assert (env["WXFACE_HTTP_HOST"], env["WXFACE_HTTP_PORT"]) == ("0.0.0.0", str(RECEIVER_PORT))
    assert f"{RECEIVER_PORT}:{RECEIVER_PORT}" in receiver["ports"]
    for worker in _wxface("worker"):
        env = worker["environment"]
        assert env["WXFACE_WORKER_HTTP_PORT"] == str(WORKER_PORT)
        assert env["WXFACE_WORKER_HTTP_HOST"] == "0.0.0.0"


def test_healthchecks_probe_each_process_healthz() -> None:
    """Each container's health check URL is its own process's /healthz."""
    (receiver,) = _wxface("receiver")
    expected = f"http://127.0.0.1:{RECEIVER_PORT}/healthz"
    assert receiver["environment"]["HEALTHCHECK_URL"] == expected
    for worker in _wxface("worker"):
        expected = f"http://127.0.0.1:{WORKER_PORT}/healthz"
        assert worker["environment"]["HEALTHCHECK_URL"] == expected


def test_wxface_processes_use_the_compose_broker_and_database() -> None:
    """Receiver and workers share RabbitMQ and PostgreSQL, and wait for both to be healthy."""
    for service in [*_wxface("receiver"), *_wxface("worker")]:
        env = service["environment"]
        assert "@rabbitmq:5672/" in env["WXFACE_AMQP_URL"]
        assert env["WXFACE_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in env["WXFACE_DATABASE_URL"]
        assert service["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_mounted_files_exist() -> None:
    """Every file or folder compose bind-mounts from deploy/ exists."""
    for service in _services().values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), volume
