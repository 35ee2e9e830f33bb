"""The AsyncAPI 3 document of ``{prefix}.identity``, built from the contract models.

One channel (routing keys ``identity.<outcome>`` on the topic exchange), one ``send``
operation (wxface publishes; downstream services bind their own queues and receive), one
message whose payload is the outcome event's schema. Schemas live under
``components.schemas`` so the document is self-contained.
"""

from __future__ import annotations

from typing import Any

from deploy.contract import OutcomeCloudEvent
from shared.vocabulary import Outcome

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"
_AMQP_BINDING_VERSION = "0.3.0"
_REF_TEMPLATE = "#/components/schemas/{model}"


def build_asyncapi(prefix: str) -> dict[str, Any]:
    """The AsyncAPI document for a deployment whose ``WXFACE_AMQP_PREFIX`` is ``prefix``."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": _info(prefix),
        "defaultContentType": "application/json",
        "servers": {
            "rabbitmq": {
                "host": "rabbitmq:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "The deployment's RabbitMQ (host and credentials per environment).",
            }
        },
        "channels": {"identity": _channel(prefix)},
        "operations": {
            "publishOutcome": {
                "action": "send",
                "summary": "wxface publishes one event per decision (re-publications keep the id).",
                "channel": {"$ref": "#/channels/identity"},
                "messages": [{"$ref": "#/channels/identity/messages/outcomeEvent"}],
                "bindings": {
                    "amqp": {
                        "deliveryMode": 2,
                        "mandatory": True,
                        "bindingVersion": _AMQP_BINDING_VERSION,
                    }
                },
            }
        },
        "components": {"messages": {"OutcomeEvent": _message()}, "schemas": _schemas()},
    }


def _info(prefix: str) -> dict[str, Any]:
    return {
        "title": "wxface identity events",
        "version": CONTRACT_VERSION,
        "description": (
            f"Outcomes of WeChat face verifications, published to the durable topic exchange "
            f"`{prefix}.identity` (`{{WXFACE_AMQP_PREFIX}}.identity`; this document uses the "
            f"prefix `{prefix}`). Bind your own durable queue (quorum recommended) with "
            "`identity.#` or a single outcome, and acknowledge after processing. Every message "
            "is persistent, `content_type` `application/json`, and carries an AMQP `message_id` "
            "equal to the event's `id`; the same decision re-published after a crash keeps it, "
            "so de-duplicate on it. Fields may be added; none will be renamed or removed."
        ),
    }


def _channel(prefix: str) -> dict[str, Any]:
    return {
        "address": "identity.{outcome}",
        "title": f"{prefix}.identity",
        "description": "Routing keys of the identity topic exchange.",
        "parameters": {
            "outcome": {
                "enum": [outcome.value for outcome in Outcome],
                "description": "The outcome; the event's `type` is `wxface.identity.<outcome>`.",
            }
        },
        "messages": {"outcomeEvent": {"$ref": "#/components/messages/OutcomeEvent"}},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": f"{prefix}.identity",
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                    "vhost": "/",
                },
                "bindingVersion": _AMQP_BINDING_VERSION,
            }
        },
    }


def _message() -> dict[str, Any]:
    return {
        "name": "OutcomeEvent",
        "title": "Identity outcome (CloudEvents 1.0, structured JSON)",
        "contentType": "application/json",
        "correlationId": {
            "description": "The AMQP message_id property, equal to the event's id.",
            "location": "$message.payload#/id",
        },
        "payload": {"$ref": "#/components/schemas/OutcomeEvent"},
        "bindings": {
            "amqp": {"messageType": "wxface.identity", "bindingVersion": _AMQP_BINDING_VERSION}
        },
    }


def _schemas() -> dict[str, Any]:
    schema = OutcomeCloudEvent.model_json_schema(ref_template=_REF_TEMPLATE, mode="serialization")
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {"OutcomeEvent": schema, **dict(sorted(defs.items()))}
