"""RabbitMQ definitions (exchanges, quorum queues, bindings, policies) built from the Topology.

The code declares its topology itself at start-up (:meth:`shared.amqp.topology.Topology.declare`);
this module turns the same specs into the JSON ``rabbitmqctl import_definitions`` (or the
management API, or ``load_definitions``) accepts, so an operator can pre-create the broker
objects and the two can never drift apart. Users and permissions are left to the operator:
they carry secrets.
"""

from __future__ import annotations

import re
from typing import Any

from shared.amqp.topology import Topology

DEFAULT_VHOST = "/"


def build_definitions(topology: Topology, vhost: str = DEFAULT_VHOST) -> dict[str, Any]:
    """The definitions document for one prefix in one virtual host."""
    return {
        "exchanges": [_exchange(spec.name, spec.type, vhost) for spec in topology.exchange_specs()],
        "queues": [_queue(spec.name, spec.arguments, vhost) for spec in topology.queue_specs()],
        "bindings": [
            _binding(exchange, spec.name, routing_key, vhost)
            for spec in topology.queue_specs()
            for exchange, routing_key in spec.bindings
        ],
        "policies": [_leader_policy(topology.prefix, vhost)],
    }


def _exchange(name: str, kind: str, vhost: str) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "type": kind,
        "durable": True,
        "auto_delete": False,
        "internal": False,
        "arguments": {},
    }


def _queue(name: str, arguments: dict[str, Any], vhost: str) -> dict[str, Any]:
    return {
        "name": name,
        "vhost": vhost,
        "durable": True,
        "auto_delete": False,
        "arguments": dict(sorted(arguments.items())),
    }


def _binding(exchange: str, queue: str, routing_key: str, vhost: str) -> dict[str, Any]:
    return {
        "source": exchange,
        "vhost": vhost,
        "destination": queue,
        "destination_type": "queue",
        "routing_key": routing_key,
        "arguments": {},
    }


def _leader_policy(prefix: str, vhost: str) -> dict[str, Any]:
    # Only what the code does not declare (queue arguments win over policies and cannot change
    # after declaration): spread the quorum queues' leaders over the cluster's nodes.
    return {
        "vhost": vhost,
        "name": f"{prefix}-quorum-leaders",
        "pattern": f"^{re.escape(prefix)}\\.",
        "apply-to": "queues",
        "definition": {"queue-leader-locator": "balanced"},
        "priority": 0,
    }
