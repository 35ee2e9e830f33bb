"""Prometheus configuration and alert rules: promtool accepts them, their unit tests pass, and
every metric they use is exported by the code (or by RabbitMQ)."""

from __future__ import annotations

import subprocess

from tests.deploy.files import DEPLOY, load_yaml, require_tool
from tests.deploy.promql import metric_names, unknown_metrics

PROMETHEUS = DEPLOY / "prometheus"
REQUIRED_ALERTS = {
    "WxfaceQueueAgeNearCredentialLife",
    "WxfaceDeadLetters",
    "WxfaceSpoolInUse",
    "WxfaceTokenRefreshFailing",
    "WxfaceConfigError",
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("promtool")
    return subprocess.run(
        [tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


def _alert_rules() -> list[dict[str, str]]:
    doc = load_yaml(PROMETHEUS / "alerts.yml")
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_alert_rules() -> None:
    """`promtool check rules` accepts alerts.yml."""
    result = _promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config() -> None:
    """`promtool check config` accepts prometheus.yml and the rule file it loads."""
    result = _promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_pass() -> None:
    """`promtool test rules alerts.test.yml` passes (the alerts fire and clear as intended)."""
    result = _promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_unit_tests_cover_at_least_two_alerts() -> None:
    """The promtool unit tests exercise several distinct alerts, not just one."""
    doc = load_yaml(PROMETHEUS / "alerts.test.yml")
    tested = {case["alertname"] for test in doc["tests"] for case in test["alert_rule_test"]}
    assert len(tested) >= 2
    assert tested <= {rule["alert"] for rule in _alert_rules()}


def test_the_required_alerts_exist() -> None:
    """Queue age, dead letters, spool, token refresh and config errors each have an alert."""
    assert {rule["alert"] for rule in _alert_rules()} >= REQUIRED_ALERTS


def test_alert_expressions_use_only_exported_metrics() -> None:
    """Every metric an alert uses is exported by the code, RabbitMQ's plugin, or is `up`."""
    exprs = [rule["expr"] for rule in _alert_rules()]
    assert all(metric_names(expr) for expr in exprs)
    assert unknown_metrics(exprs) == {}


def test_scrape_targets_use_the_codes_ports() -> None:
    """Prometheus scrapes the receiver on 8080 and the workers on 8081 at /metrics."""
    doc = load_yaml(PROMETHEUS / "prometheus.yml")
    jobs = {job["job_name"]: job for job in doc["scrape_configs"]}
    for name, port in (("wxface-receiver", 8080), ("wxface-worker", 8081)):
        job = jobs[name]
        targets = [t for sc in job["static_configs"] for t in sc["targets"]]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert targets
        assert all(t.endswith(f":{port}") for t in targets)
