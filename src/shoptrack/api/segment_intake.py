"""Segment-compatible intake on the fast path: ``POST /v1/batch``.

The write key is a shoptrack private key, sent as HTTP Basic auth (the username, with an empty
password: what ``segment-analytics-python`` and ``rudder-sdk-python`` send) or as ``writeKey`` in
the body. The body may be gzip-compressed. The whole batch is checked by the same mapping that
processing uses, stored as one inbox row (without the write key) through the group-commit
writer, and answered with Segment's ``{"success": true}`` once committed.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool

from shoptrack.api.asgi import MAX_BODY_BYTES, Answer, IntakeRequest, PayloadTooLargeError
from shoptrack.api.auth import KeyCache
from shoptrack.api.jsonapi import refuse_unstorable
from shoptrack.domain.segment import SegmentPayloadError, validate_batch
from shoptrack.errors import AuthenticationError, InputError
from shoptrack.pipeline.writer import GroupCommitWriter
from shoptrack.services import Services
from shoptrack.store.inbox import InboxEntry

__all__ = ["SegmentIntake", "basic_auth_key", "decompress"]

_SUCCESS = orjson.dumps({"success": True})
# Below this size a batch is decoded and checked on the event loop; above it, in a thread, so a
# multi-megabyte batch does not hold up every other request of the process meanwhile.
_INLINE_BYTES = 64 * 1024
_GZIP = ("gzip", "x-gzip")
_WRITE_KEY_HELP = (
    "send the write key (a private key, pk_…) as the HTTP Basic auth username or as writeKey "
    "in the body"
)


@dataclass(frozen=True, slots=True)
class _Checked:
    """A decoded, checked batch: the write key it carried, and the body to store without it."""

    write_key: str | None
    body: bytes
    messages: int


class SegmentIntake:
    """The lean handler (``asgi.lean``) of ``POST /v1/batch``: ``batch``."""

    def __init__(self, services: Services, writer: GroupCommitWriter, keys: KeyCache) -> None:
        self._services = services
        self._writer = writer
        self._keys = keys

    async def batch(self, request: IntakeRequest) -> Answer:
        """Authenticates, checks and stores one batch; answers 200 ``{"success": true}``."""
        await self._accept(request)
        return Answer(200, _SUCCESS, "application/json")

    async def _accept(self, request: IntakeRequest) -> None:
        headers = request.headers
        raw = await request.body()
        basic_key = basic_auth_key(headers.get("authorization"))
        account_id = None
        if basic_key is not None:
            # Known before the body is decompressed: an unknown caller costs no inflating.
            account_id = (await self._keys.account(_as_authorization(basic_key))).id
        encoding = headers.get("content-encoding")
        received_at = self._services.clock.now()
        if len(raw) > _INLINE_BYTES:
            checked = await run_in_threadpool(_check, raw, encoding, received_at)
        else:
            checked = _check(raw, encoding, received_at)
        if account_id is None:
            if checked.write_key is None:
                raise AuthenticationError(f"missing write key: {_WRITE_KEY_HELP}")
            account_id = (await self._keys.account(_as_authorization(checked.write_key))).id
        if checked.messages == 0:
            return  # nothing to keep: an SDK's empty flush
        user_agent = headers.get("user-agent")
        await self._writer.write(
            InboxEntry(
                account_id=account_id,
                source="segment",
                topic="batch",
                body=checked.body,
                headers={"user-agent": user_agent} if user_agent else {},
            )
        )


def basic_auth_key(authorization: str | None) -> str | None:
    """The write key of a ``Basic`` Authorization header (its username, or its password when the
    username is empty); None when the header is absent or of another scheme (Segment's OAuth
    ``Bearer`` token is not a shoptrack key: such callers send ``writeKey`` in the body too)."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise AuthenticationError(
            f"the Basic credentials are not base64: {_WRITE_KEY_HELP}"
        ) from error
    username, _, password = decoded.partition(":")
    key = username.strip() or password.strip()
    if not key:
        raise AuthenticationError(f"the Basic credentials are empty: {_WRITE_KEY_HELP}")
    return key


def _as_authorization(key: str) -> str:
    """The key in the header form the key cache reads."""
    return f"Klaviyo-API-Key {key}"


def decompress(raw: bytes, encoding: str | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body with its ``Content-Encoding`` undone, refused with 413 past ``limit`` bytes.

    Inflating is bounded as it goes, so a small gzip bomb is refused without being expanded.
    """
    name = (encoding or "identity").strip().lower()
    if name == "identity":
        return raw
    if name not in _GZIP:
        raise InputError(
            f"Content-Encoding {encoding!r} is not supported: send gzip or no encoding",
            parameter="Content-Encoding",
        )
    chunks: list[bytes] = []
    size = 0
    remaining = raw
    # A gzip stream may hold several members one after another; each is inflated in turn.
    while remaining:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(remaining, limit - size + 1)
        except zlib.error as error:
            raise InputError(
                f"the body is not valid gzip: {error}", parameter="Content-Encoding"
            ) from error
        size += len(chunk)
        if size > limit or inflater.unconsumed_tail:
            raise PayloadTooLargeError(f"decompressed bodies are limited to {limit} bytes")
        if not inflater.eof:
            raise InputError("the gzip body is truncated", parameter="Content-Encoding")
        chunks.append(chunk)
        remaining = inflater.unused_data
    return b"".join(chunks)


def _check(raw: bytes, encoding: str | None, received_at: datetime) -> _Checked:
    """Decodes and checks a batch; what is stored is the decoded JSON without its write key."""
    body = decompress(raw, encoding)
    try:
        document: Any = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InputError(f"the body is not JSON: {error}", pointer="/") from error
    try:
        validate_batch(document, received_at=received_at)
    except SegmentPayloadError as error:
        raise InputError(error.detail, pointer=error.pointer) from error
    # PostgreSQL cannot store NUL in text or JSONB: such a batch would fail in processing after
    # it was acknowledged. The byte search is cheap; the walk runs only when it finds one.
    if b"\\u0000" in body:
        refuse_unstorable(document)
    write_key = None
    if "writeKey" in document:
        # The write key is a private key: it is never stored in the inbox with the batch.
        sent = document.pop("writeKey")
        body = orjson.dumps(document)
        if isinstance(sent, str) and sent.strip():
            write_key = sent.strip()
    return _Checked(write_key, body, len(document["batch"]))
