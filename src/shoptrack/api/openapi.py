"""shoptrack's OpenAPI description (``/openapi.json``): what FastAPI writes from the routes'
request and response models, plus the routes that answer ahead of FastAPI — the intake paths
``POST /api/events``, ``/client/events``, ``/v1/batch`` and ``/webhooks/…`` — described from
the models that check their bodies.

Two corrections to FastAPI's own: no route answers 422 for a body or parameter that does not fit
(shoptrack answers 400 ``invalid``), so the 422 FastAPI documents for that is left out; and the
key is described once, as a security scheme, with the public routes exempt from it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from shoptrack.api.jsonapi import JSONAPI_MEDIA_TYPE
from shoptrack.api.schemas import ErrorDocument
from shoptrack.connectors import known_platforms
from shoptrack.domain.api_events import EventCreate

__all__ = ["install_openapi", "openapi_document"]

_REF = "#/components/schemas/{model}"
_KEY_SCHEME = "KlaviyoAPIKey"
_WRITE_KEY_SCHEME = "WriteKey"
# What answers without a private key: its own credential (a public key, a signature, a signed
# token, a write key), or none.
_PUBLIC_PREFIXES = ("/client/", "/webhooks/", "/unsubscribe/", "/health", "/v1/")


class SegmentMessage(BaseModel):
    """One message of a batch, in Segment's spec (``track`` records an event; the other types
    are accepted and record nothing)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["track", "identify", "page", "screen", "group", "alias"]
    event: str | None = Field(default=None, max_length=128)
    userId: str | int | None = None  # noqa: N815  # Segment's own names
    anonymousId: str | int | None = None  # noqa: N815
    messageId: str | int | None = None  # noqa: N815
    timestamp: AwareDatetime | None = None
    originalTimestamp: AwareDatetime | None = None  # noqa: N815
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class SegmentBatch(BaseModel):
    """The body of ``POST /v1/batch``; the write key as Basic auth or as ``writeKey``."""

    model_config = ConfigDict(extra="allow")

    batch: list[SegmentMessage]
    writeKey: str | None = None  # noqa: N815
    sentAt: AwareDatetime | None = None  # noqa: N815
    context: dict[str, Any] | None = None


class SegmentSuccess(BaseModel):
    success: Literal[True]


class WebhookAnswer(BaseModel):
    status: Literal["accepted", "duplicate", "ignored", "ok"]


_MODELS: tuple[type[BaseModel], ...] = (
    EventCreate,
    SegmentBatch,
    SegmentSuccess,
    WebhookAnswer,
    ErrorDocument,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _errors(*statuses: int) -> dict[str, Any]:
    descriptions = {
        400: "invalid input: `source` names the field at fault",
        401: "the key, signature or write key is missing or wrong",
        404: "no such integration, or no such platform",
        413: "the body is over 5 MB",
        429: "more than 3,500 client events a minute for this public key: `Retry-After`",
        503: "nothing can be acknowledged now: `Retry-After` says when to try again",
    }
    return {
        str(status): {
            "description": descriptions[status],
            "content": {JSONAPI_MEDIA_TYPE: {"schema": _ref(ErrorDocument)}},
        }
        for status in statuses
    }


def _json_body(model: type[BaseModel], media_type: str) -> dict[str, Any]:
    return {"required": True, "content": {media_type: {"schema": _ref(model)}}}


def _intake_paths() -> dict[str, Any]:
    accepted = {"202": {"description": "checked and committed; recorded by processing"}}
    client_parameters = [
        {
            "name": "company_id",
            "in": "query",
            "required": True,
            "description": "the account's public key",
            "schema": {"type": "string"},
        },
        {
            "name": "integration_id",
            "in": "query",
            "required": False,
            "description": "record on this integration's metrics (shoptrack's onsite tracker)",
            "schema": {"type": "string"},
        },
    ]
    return {
        "/api/events": {
            "post": {
                "tags": ["Events"],
                "operationId": "create_event",
                "summary": "Create an event",
                "description": "Checked against Klaviyo's rules and committed before the 202.",
                "requestBody": _json_body(EventCreate, JSONAPI_MEDIA_TYPE),
                "responses": accepted | _errors(400, 401, 413, 503),
            }
        },
        "/client/events": {
            "post": {
                "tags": ["Client"],
                "operationId": "create_client_event",
                "summary": "Create an event from a browser (public key, CORS)",
                "parameters": client_parameters,
                "requestBody": _json_body(EventCreate, JSONAPI_MEDIA_TYPE),
                "responses": accepted | _errors(400, 401, 413, 429, 503),
                "security": [],
            },
            "options": {
                "tags": ["Client"],
                "operationId": "preflight_client_event",
                "summary": "CORS preflight",
                "responses": {"204": {"description": "any origin may post"}},
                "security": [],
            },
        },
        "/v1/batch": {
            "post": {
                "tags": ["Segment"],
                "operationId": "segment_batch",
                "summary": "Segment-compatible batch (gzip accepted)",
                "requestBody": _json_body(SegmentBatch, "application/json"),
                "responses": {
                    "200": {
                        "description": "checked and committed",
                        "content": {"application/json": {"schema": _ref(SegmentSuccess)}},
                    },
                    **_errors(400, 401, 413, 503),
                },
                "security": [{_WRITE_KEY_SCHEME: []}, {}],
            }
        },
        "/webhooks/{platform}/{integration_id}": {
            "post": {
                "tags": ["Webhooks"],
                "operationId": "receive_webhook",
                "summary": "A store's webhook delivery, with the platform's own signature",
                "parameters": [
                    {
                        "name": "platform",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(known_platforms())},
                    },
                    {
                        "name": "integration_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {}}},
                },
                "responses": {
                    "200": {
                        "description": "committed (or a repeat, a ping, or kept as ignored)",
                        "content": {"application/json": {"schema": _ref(WebhookAnswer)}},
                    },
                    **_errors(401, 404, 413, 503),
                },
                "security": [],
            }
        },
    }


def _shape(schema: Mapping[str, Any]) -> tuple[Any, ...]:
    return (sorted(schema.get("properties", {})), sorted(schema.get("required", [])))


def _merge_schemas(components: dict[str, Any], found: Mapping[str, Any]) -> None:
    """Adds the intake models' schemas; one FastAPI wrote already stays (the two generators
    differ in details such as a default of null), but two models of one name must not."""
    for name, schema in found.items():
        known = components.setdefault(name, schema)
        if _shape(known) != _shape(schema):
            raise RuntimeError(f"two different schemas are named {name} in the OpenAPI document")


def _drop_validation_responses(document: dict[str, Any]) -> None:
    for path_item in document["paths"].values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            validation = responses.get("422", {}).get("content", {})
            if any("HTTPValidationError" in str(media) for media in validation.values()):
                del responses["422"]
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, path_item in document["paths"].items():
        for operation in path_item.values():
            yield path, operation


def _errors_everywhere(document: dict[str, Any]) -> None:
    """Error answers as they are sent: JSON:API documents, whatever a route answers when it
    succeeds (HTML, no body). And the two refusals of any URL, made before a route is chosen:
    400 for one with the NUL character, 404 for a path with another control character."""
    error_ref = _ref(ErrorDocument)
    error = {"content": {JSONAPI_MEDIA_TYPE: {"schema": error_ref}}}
    for _path, operation in _operations(document):
        responses = operation.setdefault("responses", {})
        for status, response in responses.items():
            content = response.get("content", {})
            if int(status) >= 400 and any(m.get("schema") == error_ref for m in content.values()):
                response["content"] = error["content"]
        responses.setdefault("400", {"description": "the URL holds the NUL character", **error})
        if any(p.get("in") == "path" for p in operation.get("parameters", [])):
            responses.setdefault("404", {"description": "no such resource", **error})


def _secure(document: dict[str, Any]) -> None:
    components = document["components"]
    components["securitySchemes"] = {
        _KEY_SCHEME: {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Klaviyo-API-Key pk_… (a private key)",
        },
        _WRITE_KEY_SCHEME: {
            "type": "http",
            "scheme": "basic",
            "description": "a private key as the username (or writeKey in the body)",
        },
    }
    document["security"] = [{_KEY_SCHEME: []}]
    for path, path_item in document["paths"].items():
        if path.startswith(_PUBLIC_PREFIXES):
            for operation in path_item.values():
                operation.setdefault("security", [])


def openapi_document(api: FastAPI) -> dict[str, Any]:
    """The whole description: FastAPI's routes and the intake routes."""
    document = get_openapi(
        title=api.title,
        version=api.version,
        description=api.description,
        routes=api.routes,
        separate_input_output_schemas=False,
    )
    document.setdefault("components", {}).setdefault("schemas", {})
    _drop_validation_responses(document)
    _, definitions = models_json_schema(
        [(model, "validation") for model in _MODELS], ref_template=_REF
    )
    _merge_schemas(document["components"]["schemas"], definitions.get("$defs", {}))
    for path, path_item in _intake_paths().items():
        document["paths"].setdefault(path, {}).update(path_item)
    _errors_everywhere(document)
    _secure(document)
    return document


def install_openapi(api: FastAPI) -> None:
    """Makes ``api`` answer ``/openapi.json`` (and ``/docs``) with the whole description."""

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = openapi_document(api)
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend it
