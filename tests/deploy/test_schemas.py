"""The published contract: generated files are fresh, and what the worker publishes validates
against the JSON Schema and the AsyncAPI document generated from the contract models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from deploy.contract import OutcomeCloudEvent
from deploy.generate import ASYNCAPI, EVENT_SCHEMA, ROOT, stale_files
from shared.amqp.topology import Topology
from shared.vocabulary import Flow, Outcome, Reason
from worker.outcome import OutcomeEvent, outcome_message_id

_ASYNCAPI_URI = "urn:wxface:asyncapi"


def _schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / EVENT_SCHEMA).read_text(encoding="utf-8"))
    return loaded


def _asyncapi() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / ASYNCAPI).read_text(encoding="utf-8"))
    return loaded


def _asyncapi_validator() -> jsonschema.Draft202012Validator:
    resource = Resource.from_contents(_asyncapi(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_ASYNCAPI_URI, resource)
    payload = {"$ref": f"{_ASYNCAPI_URI}#/components/schemas/OutcomeEvent"}
    return jsonschema.Draft202012Validator(payload, registry=registry)


def _event(
    outcome: Outcome, reason: Reason | None, openid: str | None = "o-openid"
) -> OutcomeEvent:
    return OutcomeEvent(
        message_id=outcome_message_id("wx0123456789abcdef", "seq-1", "credential"),
        appid="wx0123456789abcdef",
        out_seq_no="seq-1",
        openid=openid,
        flow=Flow.LEGACY,
        outcome=outcome,
        reason=reason,
        wechat_code=None if reason is None else 84002,
        time=datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )


EVENTS = [_event(Outcome.VERIFIED, None)] + [_event(r.outcome, r, None) for r in Reason]


def test_generated_files_are_fresh() -> None:
    """The committed schema, AsyncAPI, definitions and dashboard equal a fresh generation."""
    assert stale_files() == [], "run: python -m deploy.generate"


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.outcome}-{e.reason}")
def test_what_the_worker_publishes_validates(event: OutcomeEvent) -> None:
    """Each outcome/reason event the worker encodes validates (JSON Schema and AsyncAPI)."""
    body = json.loads(event.encode())
    jsonschema.validate(body, _schema(), format_checker=jsonschema.FormatChecker())
    _asyncapi_validator().validate(body)
    assert OutcomeCloudEvent.model_validate(body).id == event.message_id


def test_schema_describes_every_field_the_worker_publishes() -> None:
    """The schema's required fields are exactly the envelope and data keys the worker writes."""
    body = json.loads(EVENTS[0].encode())
    schema = _schema()
    assert set(schema["required"]) == set(schema["properties"]) == set(body)
    data = schema["$defs"]["OutcomeData"]
    assert set(data["required"]) == set(data["properties"]) == set(body["data"])


def test_schema_rejects_a_wrong_event() -> None:
    """An event with an unknown outcome type or a missing field does not validate."""
    body = json.loads(EVENTS[0].encode())
    validator = jsonschema.Draft202012Validator(_schema())
    assert not validator.is_valid({**body, "type": "wxface.identity.maybe"})
    assert not validator.is_valid({**body, "data": {**body["data"], "reason": "bored"}})
    assert not validator.is_valid({k: v for k, v in body.items() if k != "subject"})


@settings(max_examples=200, deadline=None)
@given(
    appid=st.text(min_size=1, max_size=40),
    out_seq_no=st.text(min_size=1, max_size=32),
    openid=st.none() | st.text(max_size=40),
    flow=st.sampled_from(Flow),
    reason=st.none() | st.sampled_from(Reason),
    code=st.none() | st.integers(-(2**31), 2**31),
    moment=st.datetimes(timezones=st.just(UTC)),
)
def test_any_worker_event_validates(
    appid: str,
    out_seq_no: str,
    openid: str | None,
    flow: Flow,
    reason: Reason | None,
    code: int | None,
    moment: datetime,
) -> None:
    """Whatever the field values, an event the worker encodes validates against the schema."""
    outcome = Outcome.VERIFIED if reason is None else reason.outcome
    event = OutcomeEvent(
        outcome_message_id(appid, out_seq_no, "c"), appid, out_seq_no, openid, flow, outcome,
        reason, code, moment,
    )  # fmt: skip
    jsonschema.validate(json.loads(event.encode()), _schema())


def test_asyncapi_names_the_exchange_and_routing_keys_the_worker_uses() -> None:
    """Exchange `wxface.identity` (topic) and routing key `identity.<outcome>` for each outcome."""
    doc = _asyncapi()
    channel = doc["channels"]["identity"]
    exchange = channel["bindings"]["amqp"]["exchange"]
    assert (exchange["name"], exchange["type"]) == (Topology("wxface").identity, "topic")
    keys = {
        channel["address"].replace("{outcome}", o) for o in channel["parameters"]["outcome"]["enum"]
    }
    assert keys == {_event(o, None).routing_key for o in Outcome}
    assert doc["asyncapi"].startswith("3.")
    assert doc["operations"]["publishOutcome"]["action"] == "send"
