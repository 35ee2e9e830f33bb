"""deploy/k8s: the receiver StatefulSet and worker Deployment with probes and resources, PDBs,
and ConfigMap/Secret wiring for every setting (checked statically: parsed YAML, no cluster)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from receiver import health as receiver_health
from shared.settings import ReceiverSettings, WorkerSettings
from tests.deploy.files import (
    K8S,
    RECEIVER_PORT,
    WORKER_PORT,
    k8s_objects,
    load_yaml,
    load_yaml_all,
    settings_variables,
    wxface_variables,
)
from worker.health import create_health_app
from worker.metrics import WorkerMetrics

PROCESSES = [
    ("wxface-receiver", "receiver", RECEIVER_PORT),
    ("wxface-worker", "worker", WORKER_PORT),
]
WORKLOAD_KINDS = ("Deployment", "StatefulSet")
READINESS = {"receiver": "/readyz/intake", "worker": "/readyz"}


def _object(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}"
    return found[0]


def _workload(name: str) -> dict[str, Any]:
    """The Deployment or StatefulSet called ``name``."""
    found = [
        o for o in k8s_objects() if o["kind"] in WORKLOAD_KINDS and o["metadata"]["name"] == name
    ]
    assert len(found) == 1, name
    return found[0]


def _container(deployment: str) -> dict[str, Any]:
    containers = _workload(deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def _get_routes(process: str) -> set[str]:
    """The GET paths the process's operations app really serves."""
    if process == "receiver":
        app = web.Application()
        receiver_health.add_routes(app)
    else:
        app = create_health_app(WorkerMetrics(), {})
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method == "GET" and route.resource is not None
    }


def _config_keys() -> set[str]:
    config = _object("ConfigMap", "wxface-config")
    (secret,) = load_yaml_all(K8S / "secret.example.yaml")
    return set(config["data"]) | set(secret["stringData"])


def test_every_setting_is_wired() -> None:
    """Each setting of both processes has a key in the ConfigMap or the Secret template."""
    assert settings_variables() - _config_keys() == set()


def test_every_wired_key_is_a_real_setting() -> None:
    """No ConfigMap/Secret key or manifest mention is a WXFACE_ name the settings do not read."""
    assert _config_keys() - settings_variables() == set()
    for path in K8S.glob("*.yaml"):
        assert wxface_variables(path.read_text(encoding="utf-8")) <= settings_variables(), path


def test_secrets_are_not_in_the_configmap() -> None:
    """Secret settings (SecretStr fields and URLs with passwords) live only in the Secret."""
    data = _object("ConfigMap", "wxface-config")["data"]
    secret = {"WXFACE_APPSECRET", "WXFACE_TOKEN", "WXFACE_ENCODING_AES_KEY", "WXFACE_API_KEYS"}
    secret |= {"WXFACE_DATA_KEY", "WXFACE_AMQP_URL", "WXFACE_DATABASE_URL"}
    assert secret.isdisjoint(data)


@pytest.mark.parametrize(("deployment", "process", "port"), PROCESSES)
def test_deployment_runs_the_process_on_its_port(deployment: str, process: str, port: int) -> None:
    """Each Deployment runs `python -m <process>` with the ConfigMap and Secret as environment."""
    container = _container(deployment)
    assert container["command"] == ["python", "-m", process]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert refs == {"wxface-config", "wxface-secrets"}
    config = _object("ConfigMap", "wxface-config")["data"]
    key = "WXFACE_HTTP_PORT" if process == "receiver" else "WXFACE_WORKER_HTTP_PORT"
    assert config[key] == str(port)


@pytest.mark.parametrize(("deployment", "process", "port"), PROCESSES)
def test_probes_use_the_codes_paths(deployment: str, process: str, port: int) -> None:
    """Liveness and startup probe /healthz; readiness probes /readyz, or for the receiver
    /readyz/intake (in rotation while it can spool); all on the process's port."""
    container = _container(deployment)
    paths = {p: container[p]["httpGet"]["path"] for p in ("livenessProbe", "readinessProbe")}
    assert paths == {"livenessProbe": "/healthz", "readinessProbe": READINESS[process]}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert set(paths.values()) <= _get_routes(process)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", port)


@pytest.mark.parametrize(("deployment", "process", "port"), PROCESSES)
def test_deployment_has_resources_pdb_and_non_root(
    deployment: str, process: str, port: int
) -> None:
    """Requests and limits are set, a PDB selects the pods, and they run as non-root."""
    container = _container(deployment)
    assert set(container["resources"]) == {"requests", "limits"}
    pod = _workload(deployment)["spec"]["template"]
    pdb = _object("PodDisruptionBudget", deployment)
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    annotations = pod["metadata"]["annotations"]
    assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (
        str(port),
        "/metrics",
    )


def test_grace_period_outlasts_the_shutdown_timeout() -> None:
    """Kubernetes waits longer than WXFACE_SHUTDOWN_TIMEOUT_S before it kills a pod."""
    timeout = float(_object("ConfigMap", "wxface-config")["data"]["WXFACE_SHUTDOWN_TIMEOUT_S"])
    for deployment, _, _ in PROCESSES:
        spec = _workload(deployment)["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] > timeout


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    """kustomization.yaml applies every manifest; the Secret template is applied by hand."""
    listed = set(load_yaml(K8S / "kustomization.yaml")["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == on_disk


def test_configmap_values_are_accepted_by_the_settings_models() -> None:
    """Both processes start from the ConfigMap plus a filled-in Secret (no validation error)."""
    secrets = {
        "appsecret": "s" * 32,
        "token": "token",
        "encoding_aes_key": "",
        "api_keys": "key-1,key-2",
        "data_key": "d" * 64,
        "amqp_url": "amqp://wxface:pw@wxface-rabbitmq.wxface.svc:5672/",
        "database_url": "postgresql://wxface:pw@db:5432/wxface",
    }
    config = _object("ConfigMap", "wxface-config")["data"]
    values = {k.removeprefix("WXFACE_").lower(): v for k, v in config.items()} | secrets
    receiver = ReceiverSettings(_env_file=None, **values)
    worker = WorkerSettings(_env_file=None, **values)
    assert (receiver.http_host, receiver.http_port) == ("0.0.0.0", RECEIVER_PORT)
    assert (worker.worker_http_host, worker.worker_http_port) == ("0.0.0.0", WORKER_PORT)


def test_receiver_spool_is_on_a_persistent_volume_per_pod() -> None:
    """The spool directory is a PersistentVolumeClaim of the StatefulSet, kept on scale-down and
    deletion, so pushes spooled during a broker outage outlive their pod."""
    receiver = _object("StatefulSet", "wxface-receiver")["spec"]
    (claim,) = receiver["volumeClaimTemplates"]
    spool_dir = _object("ConfigMap", "wxface-config")["data"]["WXFACE_SPOOL_DIR"]
    mounts = {m["mountPath"]: m["name"] for m in _container("wxface-receiver")["volumeMounts"]}
    assert mounts[spool_dir] == claim["metadata"]["name"]
    volumes = {v["name"] for v in receiver["template"]["spec"].get("volumes", [])}
    assert claim["metadata"]["name"] not in volumes  # not shadowed by a pod volume
    assert receiver["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain",
        "whenScaled": "Retain",
    }
    governing = _object("Service", receiver["serviceName"])["spec"]
    assert governing["clusterIP"] == "None"
    assert governing["selector"].items() <= receiver["template"]["metadata"]["labels"].items()
    hpa = _object("HorizontalPodAutoscaler", "wxface-receiver")["spec"]["scaleTargetRef"]
    assert (hpa["kind"], hpa["name"]) == ("StatefulSet", "wxface-receiver")
