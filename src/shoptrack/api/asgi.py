"""What the lean intake handlers share: ASGI types, bounded body reading and plain answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shoptrack.api.errors import JSONAPI_CONTENT_TYPE, error_body, error_headers
from shoptrack.errors import InputError, ShoptrackError

__all__ = [
    "MAX_BODY_BYTES",
    "MethodNotAllowedError",
    "PayloadTooLargeError",
    "Receive",
    "Scope",
    "Send",
    "header_map",
    "read_body",
    "respond",
    "respond_error",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Klaviyo's limit for an event payload; webhooks and batches get the same.
MAX_BODY_BYTES = 5 * 1024 * 1024


class MethodNotAllowedError(InputError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed."


class PayloadTooLargeError(InputError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large."


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers with lower-case names (a repeated header keeps its last value)."""
    return {
        key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]
    }


async def read_body(receive: Receive, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refused with 413 as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InputError("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request bodies are limited to {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *(extra_headers or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def respond_error(
    send: Send, error: ShoptrackError, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """The error's JSON:API document, with ``extra_headers`` and the error's own (``Retry-After``
    when it says when to try again)."""
    headers = [*(extra_headers or []), *error_headers(error)]
    await respond(send, error.status, error_body(error), JSONAPI_CONTENT_TYPE, headers)
