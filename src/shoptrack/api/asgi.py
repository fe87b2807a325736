"""What the lean intake handlers share: ASGI types, bounded body reading and plain answers.

A lean handler reads an ``IntakeRequest`` and returns an ``Answer``; ``lean`` makes it an ASGI
app, which answers a ``ShoptrackError`` the handler raises with its JSON:API error document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from shoptrack.api.errors import JSONAPI_CONTENT_TYPE, error_body, error_headers
from shoptrack.errors import InputError, ShoptrackError

__all__ = [
    "MAX_BODY_BYTES",
    "Answer",
    "IntakeRequest",
    "MethodNotAllowedError",
    "PayloadTooLargeError",
    "Receive",
    "Scope",
    "Send",
    "header_map",
    "lean",
    "read_body",
    "respond",
    "send_answer",
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


class IntakeRequest:
    """What a lean handler reads of its request: the method, the path, the query parameters,
    the headers with lower-case names and, once asked for, the body (``read_body``)."""

    __slots__ = ("_receive", "headers", "method", "path", "query")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        query_string: bytes = scope.get("query_string", b"")
        self.query = parse_qs(query_string.decode("latin-1"))
        self.headers = header_map(scope)
        self._receive = receive

    def parameter(self, name: str) -> str | None:
        """The first value of the query parameter ``name``, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    async def body(self) -> bytes:
        """The whole body, refused with 413 past ``MAX_BODY_BYTES``."""
        return await read_body(self._receive)


@dataclass(frozen=True, slots=True)
class Answer:
    """What a lean handler answers: a status, a body in ``content_type``, and other headers."""

    status: int
    body: bytes = b""
    content_type: str = JSONAPI_CONTENT_TYPE
    headers: Sequence[tuple[bytes, bytes]] = ()

    @classmethod
    def error(cls, error: ShoptrackError, headers: Sequence[tuple[bytes, bytes]] = ()) -> Answer:
        """The error's JSON:API document, with ``headers`` and the error's own
        (``Retry-After`` when it says when to try again)."""
        return cls(
            error.status,
            error_body(error),
            JSONAPI_CONTENT_TYPE,
            [*headers, *error_headers(error)],
        )


LeanHandler = Callable[[IntakeRequest], Awaitable[Answer]]


def lean(handler: LeanHandler) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI app of a lean handler; a ``ShoptrackError`` it raises is answered with its
    error document."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await handler(IntakeRequest(scope, receive))
        except ShoptrackError as error:
            answer = Answer.error(error)
        await send_answer(send, answer)

    return app


async def send_answer(send: Send, answer: Answer) -> None:
    """Sends ``answer`` as the whole response."""
    await respond(send, answer.status, answer.body, answer.content_type, list(answer.headers))
