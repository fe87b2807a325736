"""JSON:API error documents, the one error shape of every HTTP answer."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from shoptrack.errors import ShoptrackError, UnavailableError

__all__ = ["JSONAPI_CONTENT_TYPE", "error_body", "error_document", "error_headers"]

JSONAPI_CONTENT_TYPE = "application/vnd.api+json"


def error_document(error: ShoptrackError) -> dict[str, Any]:
    """The error's JSON:API document: one error object, its ``source`` naming the field
    (``pointer``) or the query parameter at fault."""
    source: dict[str, str] = {}
    if error.pointer is not None:
        source["pointer"] = error.pointer
    if error.parameter is not None:
        source["parameter"] = error.parameter
    described: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": error.status,
        "code": error.code,
        "title": error.title,
        "detail": error.detail,
        "source": source,
    }
    if error.meta:
        described["meta"] = error.meta
    return {"errors": [described]}


def error_body(error: ShoptrackError) -> bytes:
    return orjson.dumps(error_document(error))


def error_headers(error: ShoptrackError) -> list[tuple[bytes, bytes]]:
    """The headers an error's answer carries besides its body: ``Retry-After`` when the error
    says when to try again."""
    if isinstance(error, UnavailableError):
        return [(b"retry-after", str(error.retry_after).encode())]
    return []
