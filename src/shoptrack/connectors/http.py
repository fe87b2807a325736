"""Requests to stores: one client with shoptrack's User-Agent, timeouts, and retries with backoff
that honour ``Retry-After``; every failure classified (``connectors.errors``)."""

from __future__ import annotations

import contextlib
import email.utils
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

import shoptrack
from shoptrack.connectors.errors import (
    StoreAnswerNotJSONError,
    StoreConfigError,
    StoreError,
    StoreTransientError,
)
from shoptrack.outbound import AddressNotAllowedError, OutboundGuard

__all__ = ["USER_AGENT", "RetryPolicy", "StoreClient", "looks_like_firewall", "read_json"]

logger = logging.getLogger(__name__)

USER_AGENT = f"shoptrack/{shoptrack.__version__}"

# Markers of block and challenge pages served by web application firewalls and CDNs.
_FIREWALL_MARKERS = (
    "cloudflare",
    "attention required",
    "sucuri",
    "access denied",
    "request blocked",
    "incapsula",
    "mod_security",
    "wordfence",
    "just a moment",
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried: ``attempts`` in all, delays doubling from
    ``base_delay`` up to ``max_delay`` seconds, or what ``Retry-After`` asks (capped)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay)


def looks_like_firewall(response: httpx.Response) -> bool:
    """Whether a 403/429/503 is a firewall's block or challenge page rather than the store's API."""
    if response.status_code not in (403, 429, 503):
        return False
    # Cloudflare's challenge says so in a header; its `cf-ray` and `server` headers, though,
    # come with every answer it passes on (a store's own 429 too), so they prove nothing.
    if response.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    content_type = response.headers.get("content-type", "")
    if "json" in content_type:
        return False
    text = response.text[:4000].lower()
    return any(marker in text for marker in _FIREWALL_MARKERS)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        # BigCommerce says when its quota window resets instead, in milliseconds, on its 429s
        # (and on every other answer, where it is no reason to wait).
        reset_ms = response.headers.get("x-rate-limit-time-reset-ms", "").strip()
        if response.status_code == 429 and reset_ms.isdigit():
            return int(reset_ms) / 1000
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max((moment - datetime.now(UTC)).total_seconds(), 0.0)
    return seconds


# Statuses that call for a fix of the integration, with their codes (Airbyte-style table).
_CONFIG_STATUSES = {
    401: ("credentials_rejected", "the store refused the credentials"),
    403: ("scope_missing", "the credentials lack a permission this needs"),
    404: ("store_not_found", "no store API at this address"),
}


def classify(response: httpx.Response) -> StoreError | None:
    """The error a response stands for, or None for a success."""
    status = response.status_code
    if status < 400:
        return None
    answer = response.text
    if looks_like_firewall(response):
        return StoreConfigError(
            f"a firewall in front of the store blocked shoptrack (HTTP {status}): allow the "
            f"User-Agent {USER_AGENT!r} (shoptrack has no fixed IP addresses)",
            store_status=status,
            store_answer=answer,
            code="firewall_blocked",
        )
    if status == 429 or status >= 500:
        return StoreTransientError(
            f"the store answered HTTP {status}",
            store_status=status,
            store_answer=answer,
            retry_after=_retry_after(response),
        )
    if status in _CONFIG_STATUSES:
        code, detail = _CONFIG_STATUSES[status]
        return StoreConfigError(detail, store_status=status, store_answer=answer, code=code)
    return StoreError(f"the store answered HTTP {status}", store_status=status, store_answer=answer)


def read_json(response: httpx.Response, what: str) -> Any:
    """The JSON document a store answered; ``StoreAnswerNotJSONError`` (with the answer and
    its status) when it is something else, such as a web page where the API should be."""
    try:
        return response.json()
    except ValueError as error:  # undecodable text too (UnicodeDecodeError is a ValueError)
        raise StoreAnswerNotJSONError(
            f"{what} is not JSON", store_status=response.status_code, store_answer=response.text
        ) from error


class StoreClient:
    """An HTTP client for one store, reaching only what ``guard`` allows (unless a test hands
    in its own ``transport``); ``sleep`` is injected so tests do not wait."""

    def __init__(
        self,
        origin: str,
        *,
        guard: OutboundGuard,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
    ) -> None:
        self._client = httpx.Client(
            base_url=origin.rstrip("/"),
            auth=auth,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            transport=transport or guard.transport(),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def request(self, method: str, path: str, **options: Any) -> httpx.Response:
        """Sends a request, retrying transient failures; raises a classified ``StoreError``."""
        for attempt in range(1, self._retry.attempts + 1):
            try:
                response = self._client.request(method, path, **options)
            except AddressNotAllowedError as error:
                raise StoreConfigError(error.detail, code="address_not_allowed") from error
            except StoreError as error:
                # Raised by an auth flow whose own request failed (obtaining a token).
                failure: StoreError = error
            except httpx.TimeoutException as error:
                failure = StoreTransientError(f"the store did not answer in time ({error})")
            except httpx.TransportError as error:
                failure = StoreTransientError(f"the store cannot be reached ({error})")
            else:
                classified = classify(response)
                if classified is None:
                    return response
                failure = classified
            if not isinstance(failure, StoreTransientError) or attempt == self._retry.attempts:
                raise failure
            delay = self._retry.delay(attempt, failure.retry_after)
            logger.info("%s %s failed (%s); retrying in %.1fs", method, path, failure.detail, delay)
            self._sleep(delay)
        raise AssertionError("unreachable: the last attempt raises")

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    @contextlib.contextmanager
    def download(self, url: str, what: str) -> Iterator[httpx.Response]:
        """A streamed ``GET`` of an absolute ``url`` the store handed out (a signed link to a
        file on another host), through the same guard, without the store's credentials: no
        access token leaves for that host. Transient failures before the body are retried;
        a failure is a ``StoreError`` naming ``what``."""
        for attempt in range(1, self._retry.attempts + 1):
            request = httpx.Request(
                "GET",
                url,
                headers={"User-Agent": USER_AGENT},
                extensions={"timeout": self._client.timeout.as_dict()},
            )
            try:
                response = self._client.send(request, auth=None, stream=True)
            except AddressNotAllowedError as error:
                raise StoreConfigError(error.detail, code="address_not_allowed") from error
            except httpx.TransportError as error:
                failure: StoreError = StoreTransientError(f"{what} cannot be reached ({error})")
            else:
                if response.is_success:
                    try:
                        yield response
                    finally:
                        response.close()
                    return
                response.read()
                response.close()
                failure = StoreError(
                    f"{what} answered HTTP {response.status_code}",
                    store_status=response.status_code,
                    store_answer=response.text,
                )
                if response.status_code == 429 or response.status_code >= 500:
                    failure = StoreTransientError(
                        failure.detail,
                        store_status=response.status_code,
                        store_answer=response.text,
                        retry_after=_retry_after(response),
                    )
            if not isinstance(failure, StoreTransientError) or attempt == self._retry.attempts:
                raise failure
            self._sleep(self._retry.delay(attempt, failure.retry_after))
        raise AssertionError("unreachable: the last attempt raises")

    def pause(self, seconds: float) -> None:
        """Waits as the store asks (a cost limit said in the answer's body), through the
        injected sleep; capped like ``Retry-After``."""
        delay = min(max(seconds, 0.0), self._retry.max_delay)
        logger.info("waiting %.1fs for the store's rate limit", delay)
        self._sleep(delay)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
