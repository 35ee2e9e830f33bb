"""The Grafana dashboard: valid PromQL, only exported metrics, and provisioned correctly."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from deploy.dashboard import DATASOURCE, build_dashboard, dashboard_queries
from tests.deploy.files import DEPLOY, load_yaml, require_tool
from tests.deploy.promql import metric_names, unknown_metrics

GRAFANA = DEPLOY / "grafana"
# what the dashboard must show (issue 5): a metric for each
REQUIRED_METRICS = {
    "wxface_push_accepted_total",  # intake rate
    "wxface_push_refused_total",  # refusals by reason
    "wxface_spool_depth_bytes",  # spool depth
    "rabbitmq_queue_messages_ready",  # queue depth
    "wxface_worker_time_in_queue_seconds_bucket",  # queue age
    "wxface_worker_outcomes_total",  # outcomes by reason
    "wxface_worker_wechat_call_seconds_bucket",  # WeChat latency
    "wxface_worker_wechat_calls_total",  # WeChat errcodes
    "wxface_worker_push_to_outcome_seconds_bucket",  # push-to-outcome latency
}


def _committed() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(
        (GRAFANA / "dashboards" / "wxface.json").read_text(encoding="utf-8")
    )
    return loaded


def test_dashboard_queries_use_only_exported_metrics() -> None:
    """Every metric a panel queries is exported by the code, RabbitMQ's plugin, or is `up`."""
    assert unknown_metrics(dashboard_queries(build_dashboard())) == {}


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    """Intake, refusals, spool, queue depth and age, outcomes, WeChat and latency are all shown."""
    used = set().union(*(metric_names(q) for q in dashboard_queries(build_dashboard())))
    assert used >= REQUIRED_METRICS


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses every query once Grafana's variables are substituted."""
    tool = require_tool("promtool")
    rules = [
        {"record": f"wxface:dashboard_query_{i}", "expr": _substitute(q)}
        for i, q in enumerate(dashboard_queries(build_dashboard()))
    ]
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _substitute(query: str) -> str:
    return query.replace("$__rate_interval", "5m").replace("$prefix", "wxface")


def test_panels_use_the_provisioned_datasource() -> None:
    """Every panel and query points at the datasource uid that provisioning creates."""
    provisioned = load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yaml")
    uids = {ds["uid"] for ds in provisioned["datasources"]}
    assert DATASOURCE["uid"] in uids
    dashboard = build_dashboard()
    for panel in dashboard["panels"]:
        assert panel["datasource"] == DATASOURCE
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"])


def test_dashboard_provider_loads_the_committed_dashboard() -> None:
    """The dashboard provider's path is where compose mounts the committed dashboard."""
    provider = load_yaml(GRAFANA / "provisioning" / "dashboards" / "wxface.yaml")
    compose = load_yaml(DEPLOY / "compose.yaml")
    mounts = compose["services"]["grafana"]["volumes"]
    path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in mounts
    assert _committed()["uid"] == build_dashboard()["uid"]
