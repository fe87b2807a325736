"""Profiles: search by email; a profile's properties and its activity feed, newest first: its
events, and the steps it took in flows (entered, waited, emailed, skipped and why, exited)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.errors import NotFoundError
from shoptrack.store.profiles import PROFILE_ATTRIBUTES, get_profile
from shoptrack.web.queries import (
    FeedEvent,
    FlowStep,
    event_page,
    flow_steps_of_profile,
    search_profiles,
)
from shoptrack.web.routes._common import pages
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

FEED_PAGE = 25


@router.get("/profiles")
def profile_list(request: Request, visitor: VisitorDep) -> Response:
    search = request.query_params.get("q", "")[:320]
    with services_of(request).database.read() as connection:
        found = search_profiles(connection, visitor.account_id, search)
    return pages(request).render(
        request, "profiles/list.html", {"profiles": found, "search": search}, visitor=visitor
    )


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
    return [(name, getattr(profile, name)) for name in names if getattr(profile, name)]


def _merged(feed: list[FeedEvent], steps: list[FlowStep]) -> list[FeedEvent | FlowStep]:
    """Events and flow steps in one list, newest first; at the same time, the flow steps first
    (an event's flow steps follow it)."""
    items: list[FeedEvent | FlowStep] = [*feed, *steps]
    return sorted(items, key=lambda item: (item.time, isinstance(item, FlowStep)), reverse=True)


@router.get("/profiles/{profile_id}")
def profile_page(request: Request, profile_id: str, visitor: VisitorDep) -> Response:
    before = _cursor(request.query_params.get("before"))
    with services_of(request).database.read() as connection:
        profile = get_profile(connection, visitor.account_id, profile_id)
        if profile is None:
            raise NotFoundError(f"no profile {profile_id} in this account", parameter="profile")
        feed, following = event_page(
            connection, visitor.account_id, profile_id=profile.id, before=before, limit=FEED_PAGE
        )
        # The flow steps of the stretch of time these events cover (all older ones on the last
        # page), so that paging back shows each once.
        steps = flow_steps_of_profile(
            connection,
            visitor.account_id,
            profile.id,
            since=feed[-1].time if feed and following is not None else None,
            before=before[0] if before is not None else None,
        )
    context = {
        "profile": profile,
        "attributes": _attributes(profile),
        "feed": _merged(feed, steps),
        "following": _cursor_text(following),
    }
    if before is not None and request.headers.get("hx-request") == "true":
        # "Older events": only the next items, appended under the ones shown.
        return pages(request).render(request, "profiles/_feed.html", context, visitor=visitor)
    return pages(request).render(request, "profiles/show.html", context, visitor=visitor)
