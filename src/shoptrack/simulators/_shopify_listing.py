"""Listing as the REST Admin API does it: filters, sort order and cursor pages (``page_info``).

A first page takes the resource's filters; every later page is named by the opaque
``page_info`` of the previous answer's ``Link`` header, which carries those filters itself, so a
request with ``page_info`` may add only ``limit`` and ``fields`` (shopify.dev, "Make paginated
requests to the REST Admin API"): any other parameter is answered 400 naming it. The ``Link``
header of a first page has only ``rel="next"``, of a last page only ``rel="previous"``, and a
single page has none; the URLs repeat ``limit`` and ``fields``. Pages are keyset pages over the
sort order, tie-broken by id, so a page boundary never repeats or skips a resource.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "ApiError",
    "Cursor",
    "PageOf",
    "internal_error",
    "json_response",
    "known_filters",
    "link_header",
    "origin",
    "page",
    "page_response",
    "paging",
    "parse_cursor",
    "parse_limit",
    "parse_time",
    "pick_fields",
]

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 250
# Parameters that may accompany page_info.
_WITH_PAGE_INFO = frozenset({"limit", "fields", "page_info"})


class ApiError(Exception):
    """An answer of the Admin API other than a success: ``{"errors": ...}`` with a status."""

    def __init__(self, status: int, errors: Any, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response({"errors": self.errors}, self.status, self.headers)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """JSON as Shopify sends it (``application/json; charset=utf-8``)."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(
        content, status, dict(headers or {}), media_type="application/json; charset=utf-8"
    )


def internal_error() -> Response:
    """Shopify's answer when its own server fails."""
    return json_response({"errors": "Internal Server Error"}, 500)


def parse_limit(value: str | None) -> int:
    """``limit``: 50 by default, at most 250. Out-of-range values are brought within range
    [UNCERTAIN: Shopify's answer to limit=251 is not documented; clients rely on the cap]."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        number = int(value)
    except ValueError:
        raise ApiError(400, {"limit": "Limit must be an integer"}) from None
    return min(max(number, 1), MAX_LIMIT)


def parse_time(name: str, value: str, zone: tzinfo) -> datetime:
    """An ISO 8601 filter time; one without an offset is the shop's wall clock [UNCERTAIN]."""
    # A '+' left unescaped in a query string arrives as a space.
    text = value.strip().replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, {name: f"{name} must be a valid ISO 8601 date and time"}) from None
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def pick_fields(resource: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """``fields=id,updated_at``: only those top-level keys, in the resource's order."""
    if not fields:
        return resource
    wanted = {name.strip() for name in fields.split(",") if name.strip()}
    return {key: value for key, value in resource.items() if key in wanted}


@dataclass(frozen=True, slots=True)
class Cursor:
    """What a ``page_info`` carries: the filters of the first page, the sort order, and the
    resource a page starts after (``next``) or ends before (``previous``)."""

    query: dict[str, str]
    order: str
    direction: str
    last_id: int
    last_value: int

    def token(self) -> str:
        document = {
            "query": self.query,
            "order": self.order,
            "direction": self.direction,
            "last_id": self.last_id,
            "last_value": self.last_value,
        }
        raw = json.dumps(document, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_cursor(params: Mapping[str, str]) -> Cursor | None:
    """The cursor of a later page, or None for a first page; 400 for a bad one, or for another
    filter beside it."""
    token = params.get("page_info")
    if token is None:
        return None
    extra = [name for name in params if name not in _WITH_PAGE_INFO]
    if extra:
        raise ApiError(
            400,
            {
                name: f"{name} cannot be passed when page_info is present. See"
                " https://shopify.dev/api/usage/pagination-rest for more information."
                for name in extra
            },
        )
    try:
        document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor = Cursor(
            query={str(k): str(v) for k, v in document["query"].items()},
            order=str(document["order"]),
            direction=str(document["direction"]),
            last_id=int(document["last_id"]),
            last_value=int(document["last_value"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise ApiError(400, {"page_info": "Invalid value."}) from None
    if cursor.direction not in ("next", "prev"):
        raise ApiError(400, {"page_info": "Invalid value."})
    return cursor


@dataclass(frozen=True, slots=True)
class PageOf(Generic[T]):
    """One page, and the cursors of the pages beside it (None where there is none)."""

    items: list[T]
    following: Cursor | None
    preceding: Cursor | None


def page(
    items: Sequence[T],
    *,
    key: Callable[[T], tuple[int, int]],
    descending: bool,
    limit: int,
    cursor: Cursor | None,
    query: dict[str, str],
    order: str,
) -> PageOf[T]:
    """The page ``cursor`` names (the first without one) of ``items``, sorted by ``key``
    (``(sort value, id)``)."""
    ordered = sorted(items, key=key, reverse=descending)
    keys = [key(item) for item in ordered]

    def later(value: tuple[int, int], than: tuple[int, int]) -> bool:
        """Whether ``value`` comes after ``than`` in the listing's order."""
        return value < than if descending else value > than

    begin, end = 0, min(limit, len(keys))
    if cursor is not None:
        anchor = (cursor.last_value, cursor.last_id)
        if cursor.direction == "next":
            begin = next((i for i, k in enumerate(keys) if later(k, anchor)), len(keys))
            end = min(begin + limit, len(keys))
        else:
            end = next((i for i, k in enumerate(keys) if not later(anchor, k)), len(keys))
            begin = max(end - limit, 0)
    if begin >= end:
        return PageOf([], None, None)

    def at(position: tuple[int, int], direction: str) -> Cursor:
        return Cursor(query, order, direction, position[1], position[0])

    return PageOf(
        list(ordered[begin:end]),
        at(keys[end - 1], "next") if end < len(keys) else None,
        at(keys[begin], "prev") if begin > 0 else None,
    )


def link_header(url: str, params: Mapping[str, str], listed: PageOf[Any]) -> str | None:
    """The ``Link`` header of a page: ``<url>; rel="previous", <url>; rel="next"``."""
    kept = {name: params[name] for name in ("limit", "fields") if params.get(name)}
    links = []
    for rel, cursor in (("previous", listed.preceding), ("next", listed.following)):
        if cursor is not None:
            links.append(f'<{url}?{urlencode(kept | {"page_info": cursor.token()})}>; rel="{rel}"')
    return ", ".join(links) or None


def paging(
    params: Mapping[str, str], filters: frozenset[str]
) -> tuple[Cursor | None, dict[str, str], int]:
    """A list's cursor (None for a first page), the filters it applies (a later page's are
    its first page's) and its limit."""
    cursor = parse_cursor(params)
    query = cursor.query if cursor is not None else known_filters(params, filters)
    return cursor, query, parse_limit(params.get("limit"))


def page_response(
    request: Request, params: Mapping[str, str], listed: PageOf[Any], body: dict[str, Any]
) -> Response:
    """A page of a list, with the ``Link`` header to the pages beside it."""
    link = link_header(f"{origin(request)}{request.url.path}", params, listed)
    return json_response(body, headers={"link": link} if link else None)


def known_filters(params: Mapping[str, str], names: frozenset[str]) -> dict[str, str]:
    """The parameters among ``names``: Shopify ignores those a resource does not know."""
    return {name: value for name, value in params.items() if name in names}


def origin(request: Request) -> str:
    """Where the links of a page point: Shopify writes its own host, the simulator the one the
    request came to, so that clients follow them wherever it serves."""
    return f"{request.url.scheme}://{request.url.netloc}"
