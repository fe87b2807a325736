"""``GET /api/metrics``, ``GET /api/metrics/{id}`` and ``POST /api/metric-aggregates``, in
Klaviyo's shapes (operations ``get_metrics``, ``get_metric`` and ``query_metric_aggregates``)."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import orjson
from fastapi import Request, Response
from pydantic import Field, field_validator

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    FILTER_PARAMETER,
    MAX_FILTER_TERMS,
    PAGE_CURSOR_PARAMETER,
    JSONAPIBody,
    Page,
    RequestDocument,
    RequestModel,
    fields_parameter,
    id_cursor,
    jsonapi_response,
    parse_fields,
    parse_filter,
    sparse,
)
from shoptrack.api.resources import METRIC_FIELDS, metric_resource
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import MetricAggregateResponse, MetricResponse, MetricResponseCollection
from shoptrack.domain.buckets import Interval, make_buckets
from shoptrack.errors import InputError, NotFoundError
from shoptrack.ids import new_id
from shoptrack.store.aggregates import DIMENSIONS, AggregateQuery, Series, aggregate
from shoptrack.store.events import list_metrics, metrics_by_id

__all__ = ["router"]

router = JSONAPIRouter("Metrics")

# Klaviyo pages metrics 200 at a time and takes no page[size] for them.
METRICS_PAGE_SIZE = 200
_METRIC_FILTERS = {"integration.name": ("equals",), "integration.category": ("equals",)}


def _refuse_include(request: Request) -> None:
    include = request.query_params.get("include")
    if include:
        raise InputError(
            f"cannot include {include}: metrics have no included resources here",
            parameter="include",
        )


@router.operation(
    "GET /api/metrics",
    "get_metrics",
    MetricResponseCollection,
    parameters=(FILTER_PARAMETER, PAGE_CURSOR_PARAMETER, fields_parameter("metric", METRIC_FIELDS)),
)
def get_metrics(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """Metrics of the account in id order, 200 a page, optionally of one integration (by its
    name or category)."""
    fields = parse_fields(request, "metric", METRIC_FIELDS)
    _refuse_include(request)
    wanted = {
        condition.field.removeprefix("integration."): str(condition.value)
        for condition in parse_filter(request.query_params.get("filter"), _METRIC_FILTERS)
    }
    after = id_cursor(request)
    with services.database.read() as connection:
        found = list_metrics(connection, account.id)
    # An account has tens of metrics (eight per integration, plus those sent through the API),
    # so they are filtered and paged by id here rather than in SQL.
    matching = [
        metric
        for metric in found
        if (after is None or metric.id > after)
        and all(metric.integration.get(key) == value for key, value in wanted.items())
    ]
    page = Page.of(matching, METRICS_PAGE_SIZE, lambda metric: [metric.id])
    base = base_url(request)
    return jsonapi_response(
        page.document(request, lambda metric: metric_resource(metric, base, fields))
    )


@router.operation(
    "GET /api/metrics/{metric_id}",
    "get_metric",
    MetricResponse,
    parameters=(fields_parameter("metric", METRIC_FIELDS),),
)
def get_metric(
    metric_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """One metric of the account."""
    fields = parse_fields(request, "metric", METRIC_FIELDS)
    _refuse_include(request)
    with services.database.read() as connection:
        metric = metrics_by_id(connection, account.id, [metric_id]).get(metric_id)
    if metric is None:
        raise NotFoundError(f"no metric {metric_id}", parameter="id")
    return jsonapi_response(
        {
            "data": metric_resource(metric, base_url(request), fields),
            "links": {"self": str(request.url)},
        }
    )


# --- POST /api/metric-aggregates -----------------------------------------------------------

_ATTRIBUTES = "/data/attributes"
# Klaviyo's dimensions for ``by``; shoptrack records the data of those in DIMENSIONS only (the
# others describe campaigns, messages, SMS and forms).
KLAVIYO_DIMENSIONS = frozenset(
    {
        "$attributed_channel",
        "$attributed_flow",
        "$attributed_message",
        "$attributed_variation",
        "$campaign_channel",
        "$flow",
        "$flow_channel",
        "$message",
        "$message_send_cohort",
        "$usage_amount",
        "$value_currency",
        "$variation",
        "$variation_send_cohort",
        "Bot Click",
        "Bounce Type",
        "Campaign Name",
        "Client Canonical",
        "Client Name",
        "Client Type",
        "Email Domain",
        "Failure Source",
        "Failure Type",
        "From Number",
        "From Phone Region",
        "Inbox Provider",
        "List",
        "Message Format",
        "Message Name",
        "Message Type",
        "Method",
        "Segment Count",
        "Subject",
        "To Number",
        "To Phone Region",
        "URL",
        "form_id",
    }
)
_AGGREGATE_FILTERS = {
    "datetime": ("greater-or-equal", "less-than"),
    **dict.fromkeys(DIMENSIONS, ("equals",)),
}
# Klaviyo answers for at most a year at a time (366 days, so a leap year fits).
MAX_RANGE = timedelta(days=366)
# Events are from 1990 on, so no answer changes by refusing ranges outside these; inside them
# every bucket boundary of every time zone is a datetime (at the years 1 and 9999 it is not).
_EARLIEST_QUERY = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST_QUERY = datetime(9000, 1, 1, tzinfo=UTC)
DEFAULT_PAGE_SIZE = 500
# A datetime written without quotes, so it reaches the filter parser as the text it was and an
# offset-less time can be read in the query's time zone rather than in UTC.
_BARE_DATETIME = re.compile(r"(\(\s*datetime\s*,\s*)([^\"'\s)][^)]*?)(\s*\))")


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class MetricAggregateAttributes(RequestModel):
    metric_id: str = Field(min_length=1)
    measurements: list[Literal["count", "sum_value", "unique"]] = Field(min_length=1)
    filter: list[str] = Field(min_length=1, max_length=MAX_FILTER_TERMS)
    interval: Interval | None = "day"
    timezone: str | None = "UTC"
    by: list[str] | None = None
    page_size: int | None = Field(default=None, ge=1)
    page_cursor: str | None = None
    sort: str | None = None

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in _time_zones():
            raise ValueError(
                f"{value!r} is not an IANA time zone name such as America/New_York "
                "(names are case-sensitive)"
            )
        return value

    @field_validator("by")
    @classmethod
    def _by(cls, value: list[str] | None) -> list[str] | None:
        allowed = ", ".join(DIMENSIONS)
        for name in value or ():
            if name in KLAVIYO_DIMENSIONS and name not in DIMENSIONS:
                raise ValueError(f"shoptrack records no {name!r}; by allows {allowed}")
            if name not in DIMENSIONS:
                raise ValueError(f"{name!r} is not a dimension; by allows {allowed}")
        return value


class MetricAggregateData(RequestModel):
    type: Literal["metric-aggregate"]
    attributes: MetricAggregateAttributes


class MetricAggregateQuery(RequestDocument[MetricAggregateData]):
    """The body of ``POST /api/metric-aggregates``."""


def _moment(text: Any, zone: zoneinfo.ZoneInfo, pointer: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError as error:
        raise InputError(
            f"{text!r} is not an ISO 8601 time such as 2026-03-01T00:00:00", pointer=pointer
        ) from error
    # A time without an offset is a wall-clock time in the query's time zone.
    moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    if not _EARLIEST_QUERY <= moment < _LATEST_QUERY:
        raise InputError(
            f"{text!r} is outside the years {_EARLIEST_QUERY.year} to {_LATEST_QUERY.year}",
            pointer=pointer,
        )
    return moment


def _parse_filters(
    filters: list[str], zone: zoneinfo.ZoneInfo
) -> tuple[datetime, datetime, tuple[tuple[str, str], ...]]:
    """The range ``[start, end)`` and the dimension conditions of Klaviyo's filter list."""
    bounds: dict[str, datetime] = {}
    equals: list[tuple[str, str]] = []
    for index, text in enumerate(filters):
        pointer = f"{_ATTRIBUTES}/filter/{index}"
        try:
            conditions = parse_filter(_BARE_DATETIME.sub(r'\1"\2"\3', text), _AGGREGATE_FILTERS)
        except InputError as error:
            raise InputError(error.detail, pointer=pointer) from error
        if len(equals) + len(bounds) + len(conditions) > MAX_FILTER_TERMS:
            raise InputError(
                f"the filters hold at most {MAX_FILTER_TERMS} conditions in all", pointer=pointer
            )
        for condition in conditions:
            if condition.field != "datetime":
                equals.append((condition.field, str(condition.value)))
            elif condition.operator in bounds:
                raise InputError(f"only one {condition.operator}(datetime,…)", pointer=pointer)
            else:
                bounds[condition.operator] = _moment(condition.value, zone, pointer)
    pointer = f"{_ATTRIBUTES}/filter"
    if set(bounds) != {"greater-or-equal", "less-than"}:
        raise InputError(
            "filter must bound the time range with greater-or-equal(datetime,…) and "
            "less-than(datetime,…)",
            pointer=pointer,
        )
    start, end = bounds["greater-or-equal"], bounds["less-than"]
    if start >= end:
        raise InputError("the time range must end after it starts", pointer=pointer)
    if end - start > MAX_RANGE:
        raise InputError("the time range may span at most one year", pointer=pointer)
    return start, end, tuple(equals)


# ASCII digits only ("²".isdigit() is true, yet int() refuses it), few enough for int().
_OFFSET = re.compile(r"[0-9]{1,18}")


def _page_offset(cursor: str | None) -> int:
    """The row a page starts at: ``page_cursor`` holds a previous answer's next link or just
    its ``page[cursor]`` value."""
    if not cursor:
        return 0
    if "?" in cursor:
        cursor = parse_qs(urlsplit(cursor).query).get("page[cursor]", [""])[0]
    if _OFFSET.fullmatch(cursor) is None:
        raise InputError(
            "page_cursor is not a cursor this server gave", pointer=f"{_ATTRIBUTES}/page_cursor"
        )
    return int(cursor)


def _exact(amount: Decimal) -> orjson.Fragment:
    # Written as the decimal it is (29.97, not 29.969999999999999), not through a float.
    return orjson.Fragment(format(amount.normalize(), "f"))


def _measurements(series: Series, names: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        if name == "sum_value":
            values[name] = [_exact(amount) for amount in series.sum_value]
        else:
            values[name] = getattr(series, name)
    return values


_Row = tuple[tuple[str, ...], Series]


def _check_sort(sort: str | None, by: Sequence[str], measurements: Sequence[str]) -> None:
    """Klaviyo's ``sort``: a dimension of ``by`` or a measurement asked for, ``-`` for
    descending."""
    if sort is None or sort.removeprefix("-") in (*by, *measurements):
        return
    allowed = [key for name in (*by, *measurements) for key in (name, f"-{name}")]
    raise InputError(f"sort allows {', '.join(allowed)}", pointer=f"{_ATTRIBUTES}/sort")


def _sorted_rows(
    series: dict[tuple[str, ...], Series], sort: str | None, by: list[str]
) -> list[_Row]:
    """The rows by dimension values, then by ``sort`` (a measurement by its total)."""
    rows = sorted(series.items(), key=lambda row: row[0])
    if sort is None:
        return rows
    name = sort.removeprefix("-")
    if name in by:
        position = by.index(name)
        return sorted(rows, key=lambda row: row[0][position], reverse=sort.startswith("-"))
    return sorted(rows, key=lambda row: sum(getattr(row[1], name)), reverse=sort.startswith("-"))


@router.operation(
    "POST /api/metric-aggregates",
    "query_metric_aggregates",
    MetricAggregateResponse,
    more_errors=(404,),
    parameters=(fields_parameter("metric-aggregate", ("data", "dates", "id")),),
)
def query_metric_aggregates(
    document: JSONAPIBody[MetricAggregateQuery],
    request: Request,
    account: AccountDep,
    services: ServicesDep,
) -> Response:
    """Counts, value sums and unique profiles of one metric per hour, day, week or month in a
    time zone's calendar, optionally per currency."""
    attributes = document.data.attributes
    fields = parse_fields(request, "metric-aggregate", ("data", "dates", "id"))
    zone = zoneinfo.ZoneInfo(attributes.timezone or "UTC")
    start, end, equals = _parse_filters(attributes.filter, zone)
    measurements = list(dict.fromkeys(attributes.measurements))
    by = list(dict.fromkeys(attributes.by or ()))
    _check_sort(attributes.sort, by, measurements)
    offset = _page_offset(attributes.page_cursor)
    buckets = make_buckets(start, end, attributes.interval or "day", zone)
    query = AggregateQuery(
        account_id=account.id,
        metric_id=attributes.metric_id,
        start=start,
        end=end,
        buckets=buckets,
        measurements=tuple(measurements),
        by=tuple(by),
        equals=equals,
    )
    with services.database.read() as connection:
        if not metrics_by_id(connection, account.id, [attributes.metric_id]):
            raise NotFoundError(
                f"no metric {attributes.metric_id}", pointer=f"{_ATTRIBUTES}/metric_id"
            )
        series = aggregate(connection, query)
    rows = _sorted_rows(series, attributes.sort, by)
    page_size = attributes.page_size or DEFAULT_PAGE_SIZE
    page = rows[offset : offset + page_size]
    self_link = f"{base_url(request)}/api/metric-aggregates/"
    links = {"self": self_link}
    if offset + page_size < len(rows):
        links["next"] = f"{self_link}?{urlencode({'page[cursor]': offset + page_size})}"
    result = {
        "dates": [start_time.isoformat() for start_time in buckets.starts],
        "data": [
            {"dimensions": list(key), "measurements": _measurements(values, measurements)}
            for key, values in page
        ],
    }
    return jsonapi_response(
        {
            "data": {
                "type": "metric-aggregate",
                "id": new_id(),
                "attributes": sparse(result, fields),
                "links": {"self": self_link},
            },
            "links": links,
        }
    )
