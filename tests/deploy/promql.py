"""Which metric names a PromQL expression uses, and which ones the code exports."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from receiver.metrics import ReceiverMetrics
from worker.metrics import WorkerMetrics

# RabbitMQ's rabbitmq_prometheus plugin (per-object metrics) and Prometheus's own `up`
EXTERNAL_METRICS = frozenset(
    {
        "up",
        "rabbitmq_queue_messages",
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_consumers",
    }
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "inf", "nan"}
)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w:.])([A-Za-z_:][\w:]*)(?![\w:]|\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names (selectors) in a PromQL expression."""
    text = _STRING.sub('""', expr)
    for pattern in (_MATCHERS, _GROUPING, _RANGE):
        text = pattern.sub(" ", text)
    return {name for name in _IDENT.findall(text) if name.lower() not in _KEYWORDS}


def _sample_names(registry: CollectorRegistry) -> set[str]:
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def exported_metrics() -> set[str]:
    """Every series name the receiver and the worker export."""
    return _sample_names(ReceiverMetrics().registry) | _sample_names(WorkerMetrics().registry)


def unknown_metrics(exprs: list[str]) -> dict[str, set[str]]:
    """Expression → the metric names in it that neither the code nor RabbitMQ exports."""
    known = exported_metrics() | EXTERNAL_METRICS
    found = {expr: metric_names(expr) - known for expr in exprs}
    return {expr: names for expr, names in found.items() if names}
