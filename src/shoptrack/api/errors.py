"""JSON:API error documents, the one error shape of every HTTP answer."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from shoptrack.errors import ShoptrackError, UnavailableError

__all__ = ["JSONAPI_CONTENT_TYPE", "error_body", "error_document", "error_headers"]

JSONAPI_CONTENT_TYPE = "application/vnd.api+json"


def error_document(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    pointer: str | None = None,
    parameter: str | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    source: dict[str, str] = {}
    if pointer is not None:
        source["pointer"] = pointer
    if parameter is not None:
        source["parameter"] = parameter
    error: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
        "source": source,
    }
    if meta:
        error["meta"] = meta
    return {"errors": [error]}


def error_body(error: ShoptrackError) -> bytes:
    return orjson.dumps(
        error_document(
            status=error.status,
            code=error.code,
            title=error.title,
            detail=error.detail,
            pointer=error.pointer,
            parameter=error.parameter,
            meta=error.meta or None,
        )
    )


def error_headers(error: ShoptrackError) -> list[tuple[bytes, bytes]]:
    """The headers an error's answer carries besides its body: ``Retry-After`` when the error
    says when to try again."""
    if isinstance(error, UnavailableError):
        return [(b"retry-after", str(error.retry_after).encode())]
    return []
