"""Errors of a store's API, typed by what to do about them (the doctor shows their codes).

StoreError                      the store's status and its own answer (an excerpt)
├── StoreConfigError            fix the integration: keys, permissions, firewall, address
│   ├── credentials_rejected    the store refuses the keys (401)
│   ├── scope_missing           the keys lack a permission (403 from the API itself)
│   ├── firewall_blocked        a block or challenge page in front of the store
│   ├── store_not_found         no store API at that address (404 on the API root)
│   └── address_not_allowed     the address is loopback, private or reserved (``outbound``)
├── StoreTransientError         retried with backoff: 429, 5xx, timeouts, refused connections
└── StoreDataError              the store answered something shoptrack cannot read
    └── StoreAnswerNotJSONError not JSON at all: a web page where the store's API should be
"""

from __future__ import annotations

from typing import Any, ClassVar

from shoptrack.errors import ShoptrackError

__all__ = [
    "StoreAnswerNotJSONError",
    "StoreConfigError",
    "StoreDataError",
    "StoreError",
    "StoreTransientError",
    "store_failure",
]

ANSWER_EXCERPT = 500


class StoreError(ShoptrackError):
    """A failed request to a store; ``kind`` is config, transient or system."""

    kind: ClassVar[str] = "system"
    code = "store_error"
    status = 502
    title = "The store's API failed."

    def __init__(
        self,
        detail: str,
        *,
        store_status: int | None = None,
        store_answer: str = "",
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        # NUL characters removed: PostgreSQL keeps none in text, and an answer is shown as text.
        answer = store_answer.replace("\x00", "")[:ANSWER_EXCERPT]
        meta: dict[str, Any] = {"kind": self.kind, "store_status": store_status}
        if answer:
            meta["store_answer"] = answer
        super().__init__(detail.replace("\x00", ""), meta=meta, code=code)
        self.store_status = store_status
        self.store_answer = answer
        self.retry_after = retry_after


class StoreConfigError(StoreError):
    """The integration's setup is wrong; retrying will not help."""

    kind = "config"
    code = "credentials_rejected"
    status = 422
    title = "The store refused the request."


class StoreTransientError(StoreError):
    """The store is busy or away; the request is retried with backoff."""

    kind = "transient"
    code = "store_unavailable"
    status = 503
    title = "The store is unavailable."


class StoreDataError(StoreError):
    """The store's answer cannot be read (not JSON, or missing fields): of ``StoreError``'s
    kind (system) and status (502)."""

    code = "store_answer_unreadable"
    title = "The store's answer cannot be read."


class StoreAnswerNotJSONError(StoreDataError):
    """The store answered, but not with JSON: a web page (a maintenance page, a site's theme, a
    parked domain) stands where its API should be. On connecting, the address is wrong."""


def store_failure(error: StoreError) -> dict[str, Any]:
    """A store's failure as data, for an integration's health and the doctor's evidence: its
    code and kind, the detail, and the store's own status and answer."""
    return {
        "code": error.code,
        "kind": error.kind,
        "detail": error.detail,
        "store_status": error.store_status,
        "store_answer": error.store_answer,
    }
