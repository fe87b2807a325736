"""Profiles: a list searched by email and sorted by last activity, lifetime value or order count,
paged by cursor; a profile's orders (lifetime value, order count, average order value, first and
last order, per currency), its properties as a table, and its activity feed, newest first: its
events, an order's events together under its order number, and the steps it took in flows
(entered, waited, emailed, skipped and why, exited)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.domain.events import Metric
from shoptrack.errors import NotFoundError
from shoptrack.store.events import event_page
from shoptrack.store.profile_listing import SORTS, earliest_event, order_figures, profile_listing
from shoptrack.store.profiles import PROFILE_ATTRIBUTES, get_profile
from shoptrack.web.queries import (
    FeedEvent,
    FlowStep,
    feed_events,
    flow_steps_of_profile,
)
from shoptrack.web.routes._common import pages
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FEED_PAGE = 25


PROFILE_PAGE = 50


@router.get("/profiles")
def profile_list(request: Request, visitor: VisitorDep) -> Response:
    params = request.query_params
    search = params.get("q", "")[:320]
    sort = params.get("sort", "")
    if sort not in SORTS:
        sort = next(iter(SORTS))
    with services_of(request).database.read() as connection:
        listing = profile_listing(
            connection,
            visitor.account_id,
            search=search,
            sort_name=sort,
            currency=params.get("currency"),
            after=params.get("after"),
            limit=PROFILE_PAGE,
        )
    context = {
        "listing": listing,
        "search": search,
        "sort": sort,
        "sorts": SORTS,
        "paged": bool(params.get("after")),
    }
    return pages(request).render(request, "profiles/list.html", context, visitor=visitor)


def _cursor(value: str | None) -> tuple[datetime, str] | None:
    """The feed's page key, written ``<time>~<event id>``; anything else is the first page."""
    if not value or "~" not in value:
        return None
    moment, _, event_id = value.partition("~")
    try:
        time = datetime.fromisoformat(moment)
    except ValueError:
        return None
    return (time, event_id) if time.tzinfo is not None and event_id else None


def _cursor_text(key: tuple[datetime, str] | None) -> str | None:
    return None if key is None else f"{key[0].isoformat()}~{key[1]}"


def _attributes(profile: Any) -> list[tuple[str, Any]]:
    """The profile's standard attributes that are set, as (label, value)."""
    names = ("email", "phone_number", "external_id", "first_name", "last_name", *PROFILE_ATTRIBUTES)
    found: list[tuple[str, Any]] = []
    for name in names:
        value = getattr(profile, name)
        if isinstance(value, Mapping):
            found += [(f"{name}.{key}", shown) for key, shown in _flattened(value)]
        elif value:
            found.append((name, value))
    return found


def _flattened(value: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """A property document as (name, text) rows: nested objects by dotted names, lists joined,
    so that properties read as a table rather than JSON."""
    rows: list[tuple[str, str]] = []
    for key, item in sorted(value.items()):
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            rows += _flattened(item, f"{name}.")
        elif isinstance(item, list):
            simple = all(not isinstance(part, Mapping | list) for part in item)
            text = ", ".join(map(str, item)) if simple else orjson.dumps(item).decode()
            rows.append((name, text))
        elif item is not None and item != {}:
            rows.append((name, "yes" if item is True else "no" if item is False else str(item)))
    return rows


# An order's events at the same time, in the order they happen to it.
_LIFECYCLE = {
    str(metric): rank
    for rank, metric in enumerate(
        (
            Metric.PLACED_ORDER,
            Metric.ORDERED_PRODUCT,
            Metric.FULFILLED_ORDER,
            Metric.CANCELLED_ORDER,
            Metric.REFUNDED_ORDER,
        )
    )
}


@dataclass(frozen=True, slots=True)
class OrderGroup:
    """An order's events on one page of the feed, newest first, under its order number."""

    number: str
    source: str
    events: list[FeedEvent]

    @property
    def time(self) -> datetime:
        return self.events[0].time

    @property
    def placed(self) -> FeedEvent | None:
        return next((e for e in self.events if e.metric == Metric.PLACED_ORDER), None)

    @property
    def summary(self) -> list[str]:
        """What happened to the order, oldest first: "Placed Order", "3 Ordered Product"…"""
        counts = Counter(event.metric for event in self.events)
        in_order = sorted(self.events, key=lambda e: (e.time, _LIFECYCLE.get(e.metric, 9)))
        named = dict.fromkeys(event.metric for event in in_order)
        return [f"{counts[m]} {m}" if counts[m] > 1 else m for m in named]


def _grouped(feed: list[FeedEvent]) -> list[FeedEvent | OrderGroup]:
    """The page's events with each order's events (those naming the same order of the same
    source) gathered where its newest one is; an order with a single event stays an event."""
    orders: dict[tuple[str, str], list[FeedEvent]] = {}
    for event in feed:
        order_id = event.properties.get("OrderId") if event.properties else None
        if order_id is not None:
            orders.setdefault((event.source, str(order_id)), []).append(event)
    items: list[FeedEvent | OrderGroup] = []
    placed: set[tuple[str, str]] = set()
    for event in feed:
        order_id = event.properties.get("OrderId") if event.properties else None
        key = (event.source, str(order_id))
        if order_id is None or len(orders[key]) == 1:
            items.append(event)
        elif key not in placed:
            placed.add(key)
            group = orders[key]
            number = next(
                (
                    str(e.properties["OrderNumber"])
                    for e in group
                    if e.properties.get("OrderNumber")
                ),
                key[1],
            )
            items.append(OrderGroup(number=number, source=event.source, events=group))
    return items


def _merged(
    feed: list[FeedEvent], steps: list[FlowStep]
) -> list[FeedEvent | OrderGroup | FlowStep]:
    """Events (an order's together) and flow steps in one list, newest first; at the same
    time, the flow steps first (an event's flow steps follow it)."""
    items: list[FeedEvent | OrderGroup | FlowStep] = [*_grouped(feed), *steps]
    return sorted(items, key=lambda item: (item.time, isinstance(item, FlowStep)), reverse=True)


@router.get("/profiles/{profile_id}")
def profile_page(request: Request, profile_id: str, visitor: VisitorDep) -> Response:
    before = _cursor(request.query_params.get("before"))
    with services_of(request).database.read() as connection:
        profile = get_profile(connection, visitor.account_id, profile_id)
        if profile is None:
            raise NotFoundError(f"no profile {profile_id} in this account", parameter="profile")
        rows, following = event_page(
            connection, visitor.account_id, profile_id=profile.id, before=before, limit=FEED_PAGE
        )
        feed = feed_events(rows)
        # The flow steps of the stretch of time these events cover (all older ones on the last
        # page), so that paging back shows each once.
        steps = flow_steps_of_profile(
            connection,
            visitor.account_id,
            profile.id,
            since=feed[-1].time if feed and following is not None else None,
            before=before[0] if before is not None else None,
        )
        earliest = earliest_event(connection, visitor.account_id, profile.id)
        figures = order_figures(connection, visitor.account_id, [profile.id]).get(profile.id, [])
    context = {
        "profile": profile,
        "attributes": _attributes(profile),
        "custom_properties": _flattened(profile.properties or {}),
        "first_seen": profile.created_at if earliest is None else min(earliest, profile.created_at),
        "figures": figures,
        "first_order": min((f.first_order_at for f in figures if f.first_order_at), default=None),
        "last_order": max((f.last_order_at for f in figures if f.last_order_at), default=None),
        "feed": _merged(feed, steps),
        "following": _cursor_text(following),
    }
    if before is not None and request.headers.get("hx-request") == "true":
        # "Older events": only the next items, appended under the ones shown.
        return pages(request).render(request, "profiles/_feed.html", context, visitor=visitor)
    return pages(request).render(request, "profiles/show.html", context, visitor=visitor)
