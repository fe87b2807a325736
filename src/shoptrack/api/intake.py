"""Webhook intake: ``POST /webhooks/{platform}/{integration_id}`` as a lean ASGI handler.

Verify, hand the raw delivery to the group-commit writer, answer once it is committed — and
nothing else on the request path: parsing into orders happens in processing. The answers follow
DESIGN.md: a bad signature is 401 and stored as rejected (the doctor shows it); a duplicate is 200
with nothing new; a disabled integration is 200, stored as ignored and replayable; load never
gives a 5xx.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from shoptrack.api.errors import JSONAPI_CONTENT_TYPE, error_body
from shoptrack.connectors import Connector, WebhookVerdict, connector_for, known_platforms
from shoptrack.errors import AuthenticationError, InputError, NotFoundError, ShoptrackError
from shoptrack.pipeline.writer import GroupCommitWriter
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry, InboxState
from shoptrack.store.integrations import find_integration

__all__ = ["MAX_BODY_BYTES", "WebhookIntake"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

MAX_BODY_BYTES = 5 * 1024 * 1024
# How long a process trusts its cached copy of an integration's secrets and enabled flag.
CACHE_SECONDS = 5.0
_KEPT_HEADERS_PREFIXES = ("x-", "webhook-", "content-type", "user-agent")


class MethodNotAllowedError(InputError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed."


class PayloadTooLargeError(InputError):
    code = "payload_too_large"
    status = 413
    title = "Payload too large."


@dataclass(frozen=True, slots=True)
class _Target:
    integration_id: str
    account_id: str
    platform: str
    enabled: bool
    secrets: tuple[str, ...]


class WebhookIntake:
    """The ASGI handler of webhook deliveries."""

    def __init__(self, services: Services, writer: GroupCommitWriter) -> None:
        self._services = services
        self._writer = writer
        self._cache: dict[str, tuple[float, _Target | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, body = await self._handle(scope, receive)
        except ShoptrackError as error:
            await _respond(send, error.status, error_body(error), JSONAPI_CONTENT_TYPE)
            return
        await _respond(send, status, orjson.dumps(body), "application/json")

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, dict[str, str]]:
        parts = [p for p in scope["path"].split("/") if p]
        if len(parts) != 3:
            raise NotFoundError("webhook URLs are /webhooks/{platform}/{integration_id}")
        _, platform, integration_id = parts
        if scope["method"] != "POST":
            raise MethodNotAllowedError("webhooks are delivered with POST")
        if platform not in known_platforms():
            raise NotFoundError(f"unknown platform {platform!r} in the webhook URL")
        target = await self._target(integration_id)
        if target is None or target.platform != platform:
            raise NotFoundError(f"no {platform} integration {integration_id}")
        body = await _read_body(receive)
        headers = {
            key.decode("latin-1").lower(): value.decode("latin-1")
            for key, value in scope["headers"]
        }
        connector: Connector = connector_for(platform)
        check = connector.check_webhook(target.secrets, headers, body)
        if check.verdict is WebhookVerdict.PING:
            return 200, {"status": "ok"}
        kept = {k: v for k, v in headers.items() if k.startswith(_KEPT_HEADERS_PREFIXES)}
        entry = InboxEntry(
            account_id=target.account_id,
            integration_id=target.integration_id,
            source="webhook",
            topic=check.topic or headers.get("x-wc-webhook-topic", "")[:64] or "unknown",
            body=body,
            headers=kept,
        )
        if check.verdict in (WebhookVerdict.REJECTED, WebhookVerdict.CLOCK_SKEW):
            await self._writer.write(
                replace(entry, state=InboxState.REJECTED, reason=f"{check.verdict}: {check.reason}")
            )
            raise AuthenticationError(
                check.reason or "the webhook signature does not verify",
                code="webhook_clock_skew"
                if check.verdict is WebhookVerdict.CLOCK_SKEW
                else "webhook_signature_rejected",
            )
        dedupe = (
            f"webhook:{target.integration_id}:{check.delivery_id}" if check.delivery_id else None
        )
        if not target.enabled:
            entry = replace(entry, state=InboxState.IGNORED, reason="integration disabled")
        inserted = await self._writer.write(replace(entry, dedupe_key=dedupe))
        if not inserted:
            return 200, {"status": "duplicate"}
        return 200, {"status": "ignored" if not target.enabled else "accepted"}

    async def _target(self, integration_id: str) -> _Target | None:
        cached = self._cache.get(integration_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        target = await run_in_threadpool(self._load_target, integration_id)
        self._cache[integration_id] = (time.monotonic() + CACHE_SECONDS, target)
        return target

    def _load_target(self, integration_id: str) -> _Target | None:
        with self._services.database.read() as connection:
            integration = find_integration(connection, integration_id)
        if integration is None or integration.removed_at is not None:
            return None
        credentials = integration.credentials(self._services.cipher)
        return _Target(
            integration_id=integration.id,
            account_id=integration.account_id,
            platform=integration.platform,
            enabled=integration.enabled,
            secrets=tuple(connector_for(integration.platform).webhook_secrets(credentials)),
        )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InputError("the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLargeError(f"webhook bodies are limited to {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
