"""How BigCommerce's API gateway and v2 routes read requests and write errors: the v2 routes'
error arrays (``ApiError``), the gateway's v3-style errors (``gateway_error``), query values
(integers, amounts, dates: a bad one is a 400 naming the field), JSON bodies, and pages of a
v2 list (50 by default, at most 250, more is a 413; empty is ``204 No Content``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = [
    "MAX_LIMIT",
    "ApiError",
    "amount",
    "date",
    "gateway_error",
    "integer",
    "internal_error",
    "json_body",
    "optional_integer",
    "page",
    "text",
    "too_many_requests",
    "v3_body",
]

_STATUS_CODES = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
MAX_LIMIT = 250  # more is a 413 (the status codes page: "the limit parameter exceeded")


class ApiError(Exception):
    """A v2 route's refusal, answered as BigCommerce's error array."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        return JSONResponse([{"status": self.status, "message": self.message}], self.status)


def gateway_error(status: int, title: str, errors: Mapping[str, str] | None = None) -> Response:
    """An error of the API gateway or of a v3 route (``error_Full`` / ``errorDetailed_Full``)."""
    body: dict[str, Any] = {"status": status, "title": title, "type": _STATUS_CODES}
    if errors is not None:
        body["errors"] = dict(errors)
    return JSONResponse(body, status)


def page(request: Request, items: list[dict[str, Any]]) -> Response:
    """A v2 sub-resource list, paged (50 by default, at most 250); empty is a 204."""
    page = integer(request.query_params, "page", 1, minimum=1)
    limit = integer(request.query_params, "limit", 50, minimum=1)
    if limit > MAX_LIMIT:
        raise ApiError(413, f"The field 'limit' cannot be greater than {MAX_LIMIT}.")
    shown = items[(page - 1) * limit : page * limit]
    return JSONResponse(shown) if shown else Response(status_code=204)


def integer(query: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    value = optional_integer(query, name)
    if value is None:
        return default
    if value < minimum:
        raise ApiError(400, f"The field '{name}' is invalid.")
    return value


def optional_integer(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        # The spec types page and limit as numbers: "2.0" is page 2.
        number = float(raw)
    except ValueError:
        raise ApiError(400, f"The field '{name}' is invalid.") from None
    if not number.is_integer():
        raise ApiError(400, f"The field '{name}' is invalid.")
    return int(number)


def amount(query: Mapping[str, str], name: str) -> Decimal | None:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return Decimal(raw.strip())
    except InvalidOperation:
        raise ApiError(400, f"The field '{name}' is invalid.") from None


def date(query: Mapping[str, str], name: str) -> datetime | None:
    """A date filter: "RFC-2822 or ISO-8601" (the spec's words); no offset reads as UTC."""
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    moment: datetime | None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
    if moment is None:
        raise ApiError(400, f"The field '{name}' is invalid.")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return body


async def v3_body(request: Request) -> dict[str, Any] | Response:
    """A v3 route's JSON object, or the 400 the spec shows for a malformed one."""
    try:
        return await json_body(request)
    except ApiError:
        return gateway_error(400, "Input is invalid.")


def too_many_requests() -> Response:
    # BigCommerce documents the headers of a 429, not its body; this is the gateway's shape.
    return gateway_error(429, "Too many requests")


def internal_error() -> Response:
    return JSONResponse([{"status": 500, "message": "Internal server error."}], 500)


def text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value.strip() or None if isinstance(value, str) else None
