"""The Grafana dashboard of the pipeline, built as data (``python -m deploy.generate`` writes it).

Rows follow a push through the system: intake at the receiver (rate, refusals, spool), the
queues (depth, time in queue), the worker's decisions (outcomes, WeChat latency and errcodes,
retries, dead letters) and the end-to-end push-to-outcome latency. Every query uses only
metrics the code exports or RabbitMQ's own ``rabbitmq_prometheus`` series; tests/deploy checks.
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "wxface-prometheus"}
UID = "wxface-pipeline"
_WIDTH = 12
_HEIGHT = 8
_QUEUES = '{queue=~"$prefix\\\\..*"}'


def _quantiles(metric: str, by: str = "") -> list[tuple[str, str]]:
    group = f"le{', ' + by if by else ''}"
    legend = f"{{{{{by}}}}} " if by else ""
    return [
        (
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket[$__rate_interval])))",
            f"{legend}p{round(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


# (title, unit, [(expr, legend)], description)
_PANELS: list[tuple[str, str, list[tuple[str, str]], str]] = [
    (
        "Intake rate",
        "reqps",
        [("sum by (kind, via) (rate(wxface_push_accepted_total[$__rate_interval]))",
          "{{kind}} via {{via}}")],
        "Pushes answered success: via broker (confirmed), spool (broker down) or none.",
    ),
    (
        "Refusals by reason",
        "reqps",
        [
            ("sum by (reason) (rate(wxface_push_refused_total[$__rate_interval]))", "{{reason}}"),
            ("sum(rate(wxface_push_duplicates_total[$__rate_interval]))", "duplicates"),
        ],
        "Refused pushes by error code, and WeChat's retries of pushes already accepted.",
    ),
    (
        "Spool depth",
        "bytes",
        [("sum by (instance) (wxface_spool_depth_bytes)", "{{instance}}")],
        "Accepted pushes kept on a receiver's disk while RabbitMQ was unreachable.",
    ),
    (
        "Queue depth",
        "short",
        [
            (f"sum by (queue) (rabbitmq_queue_messages_ready{_QUEUES})", "{{queue}} ready"),
            (f"sum by (queue) (rabbitmq_queue_messages_unacked{_QUEUES})", "{{queue}} unacked"),
        ],
        "Messages in the work, retry and dead-letter queues (RabbitMQ per-object metrics).",
    ),
    (
        "Time in queue (queue age)",
        "s",
        _quantiles("wxface_worker_time_in_queue_seconds"),
        "From the push's receipt to the worker taking it; the credential lives ~300 s.",
    ),
    (
        "Outcomes by reason",
        "ops",
        [("sum by (outcome, reason) (rate(wxface_worker_outcomes_total[$__rate_interval]))",
          "{{outcome}} {{reason}}")],
        "Identity events published, by outcome and reason.",
    ),
    (
        "WeChat call latency",
        "s",
        [("histogram_quantile(0.95, sum by (le, endpoint) "
          "(rate(wxface_worker_wechat_call_seconds_bucket[$__rate_interval])))",
          "{{endpoint}} p95")],
        "WeChat API latency per endpoint.",
    ),
    (
        "WeChat errcodes",
        "ops",
        [("sum by (endpoint, errcode) "
          "(rate(wxface_worker_wechat_calls_total{errcode!=\"0\"}[$__rate_interval]))",
          "{{endpoint}} {{errcode}}")],
        "Non-zero errcodes (negative: transport failures) per endpoint.",
    ),
    (
        "Push-to-outcome latency",
        "s",
        _quantiles("wxface_worker_push_to_outcome_seconds"),
        "From the push's receipt to its confirmed outcome event.",
    ),
    (
        "Retries and dead letters",
        "ops",
        [
            ("sum by (cause) (rate(wxface_worker_retries_total[$__rate_interval]))",
             "retry {{cause}}"),
            ("sum by (cause) (rate(wxface_worker_dead_letters_total[$__rate_interval]))",
             "dead {{cause}}"),
            ("sum(rate(wxface_worker_retries_exhausted_total[$__rate_interval]))",
             "retries exhausted"),
        ],
        "Retries scheduled by cause, messages dead-lettered by cause.",
    ),
    (
        "Channels and connections RabbitMQ closed",
        "short",
        [
            ("sum by (link, what) (increase(wxface_worker_broker_closes_total[$__rate_interval]))",
             "worker {{link}} {{what}}"),
            ("sum by (what) (increase(wxface_broker_closes_total[$__rate_interval]))",
             "receiver {{what}}"),
        ],
        "Each was reopened; a channel close is a protocol fault (the log line gives the reason).",
    ),
    (
        "Publish confirm latency (receiver)",
        "s",
        _quantiles("wxface_publish_confirm_seconds"),
        "From publish to RabbitMQ's confirm; a push is answered success only after it.",
    ),
    (
        "HTTP latency p99 by route",
        "s",
        _quantiles("wxface_http_request_duration_seconds", by="route")[2:],
        "Receiver request latency; WeChat waits at most 5 s for success.",
    ),
    (
        "Worker messages and in flight",
        "ops",
        [
            ("sum by (disposition) (rate(wxface_worker_messages_total[$__rate_interval]))",
             "{{disposition}}"),
            ("sum(wxface_worker_in_flight)", "in flight"),
            ("sum(wxface_worker_backlogged)", "workers with a full window"),
        ],
        "What became of each work message, how many are being handled right now, and how many "
        "workers have every slot of their window taken (the queue waits for them).",
    ),
    (
        "Store batch size",
        "short",
        _quantiles("wxface_worker_store_batch_size", by="kind")[:2],
        "Messages per store batch (session reads, decisions); WXFACE_WORKER_BATCH_LINGER_MS "
        "trades latency for bigger decision batches and less CPU per message.",
    ),
    (
        "Worker steps p95",
        "s",
        [
            ("histogram_quantile(0.95, sum by (le, kind) "
             "(rate(wxface_worker_store_batch_seconds_bucket[$__rate_interval])))",
             "store {{kind}}"),
            ("histogram_quantile(0.95, sum by (le) "
             "(rate(wxface_worker_publish_confirm_seconds_bucket[$__rate_interval])))",
             "broker confirm"),
        ],
        "A store batch's time at the store (session reads, decisions) and RabbitMQ's confirm of "
        "a worker's publish: with WeChat's latency and the decisions' linger, a message's cycle.",
    ),
    (
        "Expiry sweep",
        "ops",
        [
            ("sum(rate(wxface_worker_sessions_expired_total[$__rate_interval]))", "expired"),
            ("sum(rate(wxface_worker_expiries_republished_total[$__rate_interval]))",
             "re-published from the outbox"),
            ("sum(rate(wxface_worker_sessions_purged_total[$__rate_interval]))", "purged"),
        ],
        "Sessions expired by the sweep, expiry events sent again after an unconfirmed first "
        "publish, and sessions purged after their retention.",
    ),
    (
        "Token refreshes and targets up",
        "short",
        [
            ("sum(increase(wxface_worker_token_refreshes_total[$__rate_interval]))", "refreshes"),
            ('sum by (job) (up{job=~"wxface-.*|rabbitmq"})', "{{job}} up"),
        ],
        "Access-token fetches, and how many scrape targets answer.",
    ),
]  # fmt: skip


def _panel(index: int, title: str, unit: str, queries: list[tuple[str, str]], text: str) -> Any:
    return {
        "id": index + 1,
        "type": "timeseries",
        "title": title,
        "description": text,
        "datasource": DATASOURCE,
        "gridPos": {
            "h": _HEIGHT,
            "w": _WIDTH,
            "x": (index % 2) * _WIDTH,
            "y": (index // 2) * _HEIGHT,
        },
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": e, "legendFormat": lf}
            for i, (e, lf) in enumerate(queries)
        ],
    }


def build_dashboard() -> dict[str, Any]:
    """The dashboard JSON Grafana's file provisioning loads."""
    return {
        "uid": UID,
        "title": "wxface pipeline",
        "tags": ["wxface"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": [_prefix_variable()]},
        "panels": [_panel(i, *spec) for i, spec in enumerate(_PANELS)],
    }


def _prefix_variable() -> dict[str, Any]:
    return {
        "name": "prefix",
        "label": "AMQP prefix",
        "type": "textbox",
        "query": "wxface",
        "current": {"text": "wxface", "value": "wxface"},
    }


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL expression in a dashboard (tests check the metrics they use)."""
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
