"""What every WordPress REST API answer looks like, for the store simulators built on WordPress.

- JSON as ``wp_json_encode()`` writes it: no spaces, ``\\uXXXX`` for non-ASCII, ``/`` escaped.
- Errors as ``WP_Error`` envelopes: ``{"code", "message", "data": {"status"}}``; invalid query
  arguments as one ``rest_invalid_param`` 400 naming every bad argument, with WordPress' wording.
- Arguments read from ``$_GET`` and ``$_POST`` as PHP fills them (``shoptrack.simulators._php``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from starlette.responses import Response

from shoptrack.simulators._php import PhpArray, PhpValue

__all__ = ["QueryArgs", "WPError", "wp_json", "wp_response"]

# rest_parse_date(): RFC 3339, the offset optional (then the site's own time is meant).
_REST_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}(:\d{2})?)?$"
)
_REST_INTEGER = re.compile(r"^-?\d+(\.0*)?$")


class WPError(ValueError):
    """A ``WP_Error`` the REST server turns into its JSON envelope (a ``ValueError`` to Python
    callers of the simulator: what they passed is what the API would refuse)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int,
        *,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = dict(data or {})
        self.headers = dict(headers or {})

    def response(self) -> Response:
        """The error as the REST server sends it."""
        data = {"status": self.status, **self.data}
        body = {"code": self.code, "message": self.message, "data": data}
        return wp_response(body, self.status, self.headers)


def wp_json(value: Any) -> bytes:
    """``wp_json_encode()`` with PHP's default flags."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def wp_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
) -> Response:
    """A REST response with the headers WordPress adds to every one."""
    response = Response(wp_json(body), status, media_type="application/json; charset=UTF-8")
    response.headers["x-robots-tag"] = "noindex"
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["access-control-expose-headers"] = "X-WP-Total, X-WP-TotalPages, Link"
    for name, value in headers.items() if isinstance(headers, Mapping) else headers:
        response.headers.append(name, value)  # append: several `Link` lines may be sent
    return response


def _listing(values: Sequence[str]) -> str:
    # wp_sprintf_l(): "a and b", "a, b, and c".
    if len(values) <= 2:
        return " and ".join(values)
    return ", ".join(values[:-1]) + ", and " + values[-1]


def _parse_list(raw: PhpValue) -> list[str]:
    """``wp_parse_list()``: an array's values, or a string split at commas and spaces."""
    if isinstance(raw, str):
        return re.split(r"[\s,]+", raw)
    # No argument read here takes arrays of arrays: an item that is one is left out.
    return [item for item in raw.values() if isinstance(item, str)]


class QueryArgs:
    """Reads a route's declared arguments, collecting every invalid one as WordPress does
    (``rest_validate_request_arg``) before ``check()`` answers 400 for all of them."""

    def __init__(self, params: PhpArray) -> None:
        self._params = params
        self._invalid: dict[str, tuple[str, str]] = {}

    def _raw(self, name: str) -> PhpValue | None:
        return self._params.get(name)

    def _fail(self, name: str, code: str, message: str) -> None:
        self._invalid.setdefault(name, (code, message))

    def integer(
        self,
        name: str,
        default: int | None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        raw = self._raw(name)
        if raw is None:
            return default
        if not isinstance(raw, str) or not _REST_INTEGER.match(raw):
            self._fail(name, "rest_invalid_type", f"{name} is not of type integer.")
            return default
        value = int(raw.split(".")[0])
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            message = (
                f"{name} must be between {minimum} (inclusive) and {maximum} (inclusive)"
                if maximum is not None
                else f"{name} must be greater than or equal to {minimum}"
            )
            self._fail(name, "rest_out_of_bounds", message)
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self._raw(name)
        if raw is None:
            return default
        if not isinstance(raw, str) or raw.lower() not in ("true", "false", "1", "0"):
            self._fail(name, "rest_invalid_type", f"{name} is not of type boolean.")
            return default
        return raw.lower() in ("true", "1")

    def choice(self, name: str, default: str, choices: Sequence[str]) -> str:
        raw = self._raw(name)
        if raw is None:
            return default
        if raw not in choices:
            self._fail(name, "rest_not_in_enum", f"{name} is not one of {_listing(choices)}.")
            return default
        return str(raw)

    def choices(self, name: str, default: str, choices: Sequence[str]) -> list[str]:
        """An array argument: ``key[]=a&key[]=b`` or the comma list ``wp_parse_list()`` reads."""
        raw = self._raw(name)
        if raw is None:
            return [default]
        items = _parse_list(raw)
        values = [item for item in items if item]
        for index, value in enumerate(values):
            if value not in choices:
                self._fail(
                    name,
                    "rest_not_in_enum",
                    f"{name}[{index}] is not one of {_listing(choices)}.",
                )
        return values or [default]

    def ids(self, name: str) -> list[int]:
        """``wp_parse_id_list()``: a comma list or an array; what is not a number counts as 0."""
        raw = self._raw(name)
        if raw is None:
            return []
        items = _parse_list(raw)
        ids = [abs(int(item)) if re.fullmatch(r"-?\d+", item) else 0 for item in items if item]
        return list(dict.fromkeys(ids))

    def date(self, name: str) -> datetime | None:
        """A ``date-time`` argument; naive when it was sent without an offset."""
        raw = self._raw(name)
        if raw is None:
            return None
        if not isinstance(raw, str) or not _REST_DATE.match(raw):
            self._fail(name, "rest_invalid_date", "Invalid date.")
            return None
        return datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))

    def check(self) -> None:
        """Raises the ``rest_invalid_param`` 400 if any argument read so far was invalid."""
        if not self._invalid:
            return
        raise WPError(
            "rest_invalid_param",
            f"Invalid parameter(s): {', '.join(self._invalid)}",
            400,
            data={
                "params": {name: message for name, (_, message) in self._invalid.items()},
                "details": {
                    name: {"code": code, "message": message, "data": None}
                    for name, (code, message) in self._invalid.items()
                },
            },
        )
