"""``GET /api/events`` and ``GET /api/events/{id}`` (``POST /api/events`` is on the fast intake
path, in ``api/events_intake.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response

from shoptrack.api.attributions import attribution_resources
from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    FILTER_PARAMETER,
    PAGE_CURSOR_PARAMETER,
    Condition,
    Page,
    PageSize,
    fields_parameter,
    include_parameter,
    jsonapi_response,
    parse_fields,
    parse_filter,
    parse_include,
    read_cursor,
    sort_parameter,
    utc_time,
)
from shoptrack.api.resources import (
    EVENT_FIELDS,
    METRIC_FIELDS,
    PROFILE_FIELDS,
    event_resource,
    metric_resource,
    profile_resource,
)
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import EventResponse, EventResponseCollection
from shoptrack.errors import InputError, NotFoundError
from shoptrack.services import Services
from shoptrack.store.accounts import Account
from shoptrack.store.events import EventQuery, get_event, list_events, metrics_by_id, profiles_by_id

__all__ = ["router"]

_FILTERS = {
    "metric_id": ("equals",),
    "profile_id": ("equals",),
    "datetime": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
    "timestamp": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
}
_INCLUDES = ("attributions", "metric", "profile")
_PAGE_SIZE = PageSize(200, maximum=1000)
_SORTS = {"datetime": False, "-datetime": True, "timestamp": False, "-timestamp": True}
_RANGE_FIELDS = {
    "greater-or-equal": "since",
    "greater-than": "after",
    "less-or-equal": "until",
    "less-than": "before",
}


def _moment(condition: Condition) -> datetime:
    value = condition.value
    if condition.field == "timestamp" and isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):  # beyond the calendar, or NaN
            raise InputError(
                f"{value} is not a Unix time between the years 1 and 9999", parameter="filter"
            ) from None
    if isinstance(value, datetime):
        return value
    raise InputError(
        f"{condition.field} compares with an ISO 8601 time such as 2026-01-01T00:00:00Z",
        parameter="filter",
    )


def _query(request: Request, account: Account) -> EventQuery:
    changes: dict[str, Any] = {}
    for condition in parse_filter(request.query_params.get("filter"), _FILTERS):
        if condition.operator == "equals":
            changes[condition.field] = str(condition.value)
        else:
            changes[_RANGE_FIELDS[condition.operator]] = _moment(condition)
    sort = request.query_params.get("sort", "-datetime")
    if sort not in _SORTS:
        raise InputError(f"sort must be one of {', '.join(_SORTS)}", parameter="sort")
    after_key = read_cursor(request, lambda cursor: (utc_time(str(cursor[0])), str(cursor[1])))
    return EventQuery(
        account_id=account.id,
        newest_first=_SORTS[sort],
        after_key=after_key,
        limit=_PAGE_SIZE.read(request),
        **changes,
    )


def _included(
    services: Services, request: Request, account: Account, rows: list[Any], include: set[str]
) -> list[dict[str, Any]]:
    base = base_url(request)
    included: list[dict[str, Any]] = []
    with services.database.read() as connection:
        if "metric" in include:
            metric_fields = parse_fields(request, "metric", METRIC_FIELDS)
            found = metrics_by_id(connection, account.id, sorted({r.metric_id for r in rows}))
            included += [metric_resource(m, base, metric_fields) for m in found.values()]
        if "profile" in include:
            profile_fields = parse_fields(request, "profile", PROFILE_FIELDS)
            people = profiles_by_id(connection, account.id, sorted({r.profile_id for r in rows}))
            included += [profile_resource(p, base, profile_fields) for p in people.values()]
        if "attributions" in include:  # orders credited to flow emails
            included += attribution_resources(connection, account.id, [r.id for r in rows], base)
    return included


router = JSONAPIRouter("Events")
_INCLUDED_FIELDS = (
    fields_parameter("metric", METRIC_FIELDS),
    fields_parameter("profile", PROFILE_FIELDS),
    include_parameter(("metric", "profile")),
)


@router.operation(
    "GET /api/events",
    "get_events",
    EventResponseCollection,
    parameters=(
        FILTER_PARAMETER,
        sort_parameter(_SORTS),
        _PAGE_SIZE.parameter,
        PAGE_CURSOR_PARAMETER,
        fields_parameter("event", EVENT_FIELDS),
        *_INCLUDED_FIELDS,
    ),
)
def get_events(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """Events of the account, newest first by default, a page at a time."""
    query = _query(request, account)
    fields = parse_fields(request, "event", EVENT_FIELDS)
    include = parse_include(request, _INCLUDES)
    with services.database.read() as connection:
        rows = list_events(connection, query)
    page = Page.of(rows, query.limit, lambda row: [row.time, row.id])
    base = base_url(request)
    document = page.document(request, lambda row: event_resource(row, base, fields))
    if include:
        document["included"] = _included(services, request, account, list(page.items), include)
    return jsonapi_response(document)


@router.operation(
    "GET /api/events/{event_id}",
    "get_event",
    EventResponse,
    parameters=(fields_parameter("event", EVENT_FIELDS), *_INCLUDED_FIELDS),
)
def get_one_event(
    event_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """One event of the account."""
    fields = parse_fields(request, "event", EVENT_FIELDS)
    include = parse_include(request, _INCLUDES)
    with services.database.read() as connection:
        row = get_event(connection, account.id, event_id)
    if row is None:
        raise NotFoundError(f"no event {event_id}", parameter="id")
    document: dict[str, Any] = {"data": event_resource(row, base_url(request), fields)}
    if include:
        document["included"] = _included(services, request, account, [row], include)
    return jsonapi_response(document)
