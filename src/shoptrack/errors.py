"""Errors, each typed by the action it calls for and carrying a stable ``code``.

    ShoptrackError                 code, title, HTTP status
    ├── ConfigurationError         the server's own settings are wrong: fix the environment
    ├── InputError                 a request or command is wrong: fix the named field
    │   ├── NotFoundError          the thing named does not exist (in this account)
    │   └── ConflictError          it exists already
    ├── AuthenticationError        missing or unknown key
    ├── UnavailableError           nothing can be acknowledged now: try again after ``retry_after``
    └── ProcessingError            a stored row could not be processed; retried, then dead-lettered

The codes are listed in README.md ("Error codes"); ``tests/test_errors.py`` keeps that list and
these classes in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "InputError",
    "NotFoundError",
    "ProcessingError",
    "ShoptrackError",
    "UnavailableError",
]


class ShoptrackError(Exception):
    """Base of shoptrack's errors: ``code`` is stable, ``str(error)`` is one readable line."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Error."

    def __init__(
        self,
        detail: str,
        *,
        pointer: str | None = None,
        parameter: str | None = None,
        meta: Mapping[str, Any] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.parameter = parameter
        self.meta = dict(meta or {})
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may narrow its class's code


class ConfigurationError(ShoptrackError):
    """The server's settings are wrong or incomplete."""

    code = "configuration_error"
    status = 500
    title = "Server configuration error."


class InputError(ShoptrackError):
    """A field of the request is missing or invalid; ``pointer`` names it."""

    code = "invalid"
    status = 400
    title = "Invalid input."


class NotFoundError(InputError):
    """The resource does not exist, or not in the caller's account."""

    code = "not_found"
    status = 404
    title = "Not found."


class ConflictError(InputError):
    """The resource exists already."""

    code = "conflict"
    status = 409
    title = "Conflict."


class AuthenticationError(ShoptrackError):
    """The key is missing, unknown or revoked."""

    code = "not_authenticated"
    status = 401
    title = "Authentication credentials were not provided or are invalid."


class UnavailableError(ShoptrackError):
    """Nothing can be acknowledged now (the database is away and the spool full, or the process
    is stopping); ``retry_after`` says when to try again (seconds), as ``Retry-After``."""

    code = "unavailable"
    status = 503
    title = "Service unavailable."

    def __init__(self, detail: str, *, retry_after: int = 30) -> None:
        super().__init__(detail, meta={"retry_after": retry_after})
        self.retry_after = retry_after


class ProcessingError(ShoptrackError):
    """A received row could not be turned into state and events (it will be retried)."""

    code = "processing_failed"
    status = 500
    title = "Processing failed."
