"""The business API's OpenAPI 3.1 document, built from the pydantic models' JSON schemas.

Every request and response schema comes from ``receiver/api_models.py`` (the same models that
validate and serialise), so the document cannot drift from the code; a schemathesis test runs
it against the live service. Served at ``GET /v1/openapi.json`` without a key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from receiver.api_models import (
    OUT_SEQ_NO_PATTERN,
    ErrorBody,
    LegacyRegistration,
    RegistrationRequest,
    ResultAccepted,
    ResultSubmission,
    V2Registration,
    VerificationView,
)

_REF = "#/components/schemas/{model}"
_MODELS: list[tuple[type[BaseModel], JsonSchemaMode]] = [
    (RegistrationRequest, "validation"),
    (ResultSubmission, "validation"),
    (LegacyRegistration, "serialization"),
    (V2Registration, "serialization"),
    (ResultAccepted, "serialization"),
    (VerificationView, "serialization"),
    (ErrorBody, "serialization"),
]
_ERRORS = {
    "400": "The body is not a JSON object",
    "401": "Missing or unknown API key",
    "404": "No verification with this out_seq_no",
    "409": "The out_seq_no is already registered",
    "413": "The body is over the size limit",
    "422": "Invalid input (the detail names each field)",
    "502": "WeChat refused the registration (errcode in the body)",
    "503": "The store or the durable queue is unavailable; retry later",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _responses(ok: str, ok_schema: dict[str, Any], ok_text: str, *errors: str) -> dict[str, Any]:
    answers = {ok: _json(ok_schema, ok_text)}
    for status in ("401", *errors):
        answers[status] = _json(_ref(ErrorBody), _ERRORS[status])
    return answers


def _body(model: type[BaseModel], required: bool) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(model)}}}


_OUT_SEQ_NO = {
    "name": "out_seq_no",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": OUT_SEQ_NO_PATTERN},
}


def _paths() -> dict[str, Any]:
    registered = {"oneOf": [_ref(LegacyRegistration), _ref(V2Registration)]}
    return {
        "/v1/verifications": {
            "post": {
                "operationId": "register",
                "summary": "Start a verification (getuseridkey or getverifyid)",
                "requestBody": _body(RegistrationRequest, True),
                "responses": _responses(
                    "201", registered, "Registered", "400", "409", "413", "422", "502", "503"
                ),
            }
        },
        "/v1/verifications/{out_seq_no}/result": {
            "post": {
                "operationId": "submitResult",
                "summary": "The mini-program finished; queue the result for confirmation",
                "parameters": [_OUT_SEQ_NO],
                "requestBody": _body(ResultSubmission, False),
                "responses": _responses(
                    "202", _ref(ResultAccepted), "Queued", "400", "404", "413", "422", "503"
                ),
            }
        },
        "/v1/verifications/{out_seq_no}": {
            "get": {
                "operationId": "getVerification",
                "summary": "The verification's status",
                "parameters": [_OUT_SEQ_NO],
                "responses": _responses(
                    "200", _ref(VerificationView), "The session", "404", "422", "503"
                ),
            }
        },
        "/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
            }
        },
    }


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    _, definitions = models_json_schema(_MODELS, ref_template=_REF)
    return {
        "openapi": "3.1.0",
        "info": {"title": "wxface business API", "version": "1"},
        "paths": _paths(),
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
