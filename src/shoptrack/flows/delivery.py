"""Delivering what flows send: email over SMTP (``SHOPTRACK_SMTP_URL``, aiosmtplib) or, without
it, as ``.eml`` files in the data dir's ``outbox`` folder; webhooks as signed JSON POSTs, through
the outbound guard.

Each delivery raises :class:`DeliveryError` when it did not go out, so the engine retries it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
import httpx
import orjson

import shoptrack
from shoptrack.errors import ConfigurationError
from shoptrack.outbound import AddressNotAllowedError, OutboundGuard

__all__ = [
    "DeliveryError",
    "Mailer",
    "OutboxMailer",
    "SmtpMailer",
    "WebhookSender",
    "mailer_from_settings",
    "standard_webhook_signature",
]

USER_AGENT = f"shoptrack/{shoptrack.__version__}"


class DeliveryError(Exception):
    """A message did not go out; ``permanent`` when trying again cannot help. ``reason`` is the
    code a step given up for is recorded with (``delivery_failed`` unless a cause is known)."""

    def __init__(
        self, detail: str, *, permanent: bool = False, reason: str = "delivery_failed"
    ) -> None:
        super().__init__(detail)
        self.permanent = permanent
        self.reason = reason


class Mailer(Protocol):
    """Hands an email to whatever carries it; returns once it is accepted."""

    def send(self, message: EmailMessage, delivery_id: str) -> None: ...


class OutboxMailer:
    """Writes each email as ``<delivery id>.eml`` into a folder (the default without SMTP).

    Delivery is idempotent by name: a message already in the folder is not written again, so
    a retried delivery is exactly once. Files are written whole, then renamed into place.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage, delivery_id: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{delivery_id}.eml"
        if target.exists():
            return
        partial = self.folder / f".{delivery_id}.eml.partial"
        with partial.open("wb") as handle:
            handle.write(message.as_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(target)


class SmtpMailer:
    """Sends over SMTP: ``smtp://[user:password@]host[:port]`` (STARTTLS when the server offers
    it, or always with ``?starttls=required``), or ``smtps://`` (TLS from the first byte)."""

    def __init__(self, url: str, *, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigurationError(
                f"SHOPTRACK_SMTP_URL must look like smtp://user:password@host:587 or "
                f"smtps://host:465, not {parts.scheme or 'a URL without scheme'}://…"
            )
        query = parse_qs(parts.query)
        self._implicit_tls = parts.scheme == "smtps"
        required = query.get("starttls", [""])[0] == "required"
        self._start_tls: bool | None = True if required else (False if self._implicit_tls else None)
        self._hostname = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 25)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    async def _send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            start_tls=self._start_tls,
            timeout=self._timeout,
        )

    def send(self, message: EmailMessage, delivery_id: str) -> None:
        try:
            # Each flow worker thread runs its own short event loop: the engine is synchronous.
            asyncio.run(self._send(message))
        except aiosmtplib.SMTPRecipientsRefused as error:
            # 5xx: the address does not take mail (a hard bounce); 4xx: not now, try again.
            if all(refusal.code >= 500 for refusal in error.recipients):
                raise DeliveryError(
                    f"the SMTP server refused the recipient: {error}",
                    permanent=True,
                    reason="bounced",
                ) from error
            raise DeliveryError(f"the SMTP server deferred the recipient: {error}") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"SMTP delivery failed: {error}") from error


def mailer_from_settings(smtp_url: str | None, data_dir: Path) -> Mailer:
    """SMTP when ``SHOPTRACK_SMTP_URL`` is set, else the outbox folder of the data dir."""
    if smtp_url:
        return SmtpMailer(smtp_url)
    return OutboxMailer(data_dir / "outbox")


def standard_webhook_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the key of a ``whsec_`` secret,
    as the Standard Webhooks specification has it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookSender:
    """POSTs a flow's webhook: the JSON document, with ``webhook-id`` (the same on every
    attempt, so receivers can drop repeats), ``webhook-timestamp`` and ``webhook-signature``.

    The URL is a user's: every request passes ``guard`` (a refused address fails the step for
    good, as ``address_not_allowed``), redirects are not followed, and every failure of the
    network — refused, reset, timed out, a name that does not resolve — is told as one reason,
    ``unreachable``, without the network's own words: otherwise "connection refused" against
    "timed out" would map a private network port by port. An HTTP status is told: it comes
    from an address the guard allows.
    """

    def __init__(self, guard: OutboundGuard, *, timeout: float = 15.0) -> None:
        self._client = httpx.Client(
            transport=guard.transport(),
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    def send(
        self,
        url: str,
        secret: str,
        webhook_id: str,
        document: Mapping[str, Any],
        now: datetime,
    ) -> None:
        body = orjson.dumps(document)
        timestamp = int(now.timestamp())
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": standard_webhook_signature(secret, webhook_id, timestamp, body),
        }
        try:
            response = self._client.post(url, content=body, headers=headers)
        except AddressNotAllowedError as error:
            raise DeliveryError(
                f"webhook to {url}: the address is loopback, private, link-local or reserved, "
                "and SHOPTRACK_PRIVATE_STORE_NETWORKS does not allow it",
                permanent=True,
                reason="address_not_allowed",
            ) from error
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
            raise DeliveryError(f"webhook to {url}: unreachable", reason="unreachable") from error
        if response.status_code >= 300:
            # 4xx other than 408/429 means the receiver refuses this request; retrying the same
            # bytes will not change its mind.
            permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
            raise DeliveryError(
                f"webhook to {url} answered {response.status_code}", permanent=permanent
            )

    def close(self) -> None:
        self._client.close()
