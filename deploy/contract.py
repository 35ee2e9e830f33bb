"""The published contract of ``{prefix}.identity``: the outcome event as pydantic models, its
JSON Schema and the AsyncAPI 3 document that downstream teams read.

The worker encodes events with :class:`worker.outcome.OutcomeEvent` (a dataclass on the hot
path); the models here describe the same wire shape with the code's own vocabulary
(:class:`~shared.vocabulary.Flow`, :class:`~shared.vocabulary.Outcome`,
:class:`~shared.vocabulary.Reason`) and constants, and ``tests/deploy`` proves that what the
worker publishes validates against the schema generated from them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from shared.vocabulary import Flow, Outcome, Reason
from worker.outcome import CONTENT_TYPE, SOURCE, TYPE_PREFIX

SCHEMA_ID = "https://wxface.example/schemas/outcome-event.schema.json"
EVENT_TYPES: list[JsonValue] = [TYPE_PREFIX + outcome.value for outcome in Outcome]


class OutcomeData(BaseModel):
    """The decision about one verification session."""

    model_config = ConfigDict(title="OutcomeData")

    appid: str = Field(description="The mini-program appid the session belongs to.")
    out_seq_no: str = Field(description="The business's id of the verification session.")
    openid: str | None = Field(description="The user's openid, when known.")
    flow: Flow = Field(description="`legacy` (getuseridkey/getinfo) or `v2` (getverifyid).")
    outcome: Outcome = Field(description="The verdict; also the routing key's last word.")
    reason: Reason | None = Field(
        description="Why the outcome is not `verified` (null when verified). More codes may be "
        "added: treat an unknown code like `rejected`."
    )
    wechat_code: int | None = Field(
        description="The identify_ret / verify_ret / errcode that decided it, when there was one."
    )


class OutcomeCloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON event on the ``{prefix}.identity`` exchange."""

    model_config = ConfigDict(title="OutcomeEvent")

    specversion: Literal["1.0"]
    id: str = Field(description="Equals the AMQP message_id; the same on every re-publication.")
    source: Literal["wxface"] = Field(description=f"Always `{SOURCE}`.")
    type: str = Field(
        description="`wxface.identity.<outcome>`.", json_schema_extra={"enum": EVENT_TYPES}
    )
    subject: str = Field(description="The out_seq_no.")
    time: datetime = Field(description="When the decision was made (RFC 3339, UTC).")
    datacontenttype: Literal["application/json"] = Field(description=f"Always `{CONTENT_TYPE}`.")
    data: OutcomeData


def outcome_event_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an outcome event body."""
    schema = OutcomeCloudEvent.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }
