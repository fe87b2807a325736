"""The tracking links of flow emails, public and without a session: ``GET /t/o/{token}`` (the
open pixel) and ``GET /t/c/{token}`` (a tracked link, redirected with 302 to the address stored
for its delivery). The signed token is the only authority (``flows.tracking`` explains it).

The pixel answers the same image whatever the token, so that it tells nobody which tokens are
valid; a click on a link that is not valid answers 404 with a short page.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from shoptrack.api.deps import ServicesDep
from shoptrack.flows.engagement import EmailMetric, record_engagement
from shoptrack.flows.tracking import (
    PIXEL_GIF,
    TrackingToken,
    click_flag,
    open_flag,
    verify_tracking_token,
)
from shoptrack.services import Services
from shoptrack.store.engagement import delivery_facts, link_address, tracking_secret

__all__ = ["router"]

# Not in /openapi.json: these are addresses inside emails that mail clients and browsers
# follow, not an API a client calls (unlike /unsubscribe, which RFC 8058 mail providers POST
# to); describing them would only publish a token format nobody should build.
router = APIRouter(include_in_schema=False)

# Engagement must reach shoptrack each time: no cache may answer for it.
_NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}


def _verified(
    services: Services, token: str, kind: Literal["open", "click"]
) -> TrackingToken | None:
    with services.database.read() as connection:
        return verify_tracking_token(token, lambda key: tracking_secret(connection, key), kind)


def _client(request: Request) -> tuple[str | None, str | None]:
    address = request.client.host if request.client is not None else None
    return request.headers.get("user-agent"), address


def opened(token: str, request: Request, services: ServicesDep) -> Response:
    """Records Opened Email (at most one an hour per email), flagged when a mail privacy proxy
    fetched it; answers a transparent 1x1 GIF."""
    found = _verified(services, token, "open")
    if found is not None:
        now = services.clock.now()
        agent, address = _client(request)
        with services.database.write() as connection:
            facts = delivery_facts(connection, found.delivery_id)
            if facts is not None:
                flag = open_flag(agent, address, now, facts.sent_at)
                record_engagement(connection, facts, EmailMetric.OPENED, now, flag=flag)
    return Response(PIXEL_GIF, media_type="image/gif", headers=_NO_STORE)


def clicked(token: str, request: Request, services: ServicesDep) -> Response:
    """Records Clicked Email (at most one an hour per link of an email), flagged when a link
    scanner followed it, and redirects to the link's address."""
    found = _verified(services, token, "click")
    target = None
    if found is not None and found.position is not None:
        now = services.clock.now()
        agent, _ = _client(request)
        with services.database.write() as connection:
            facts = delivery_facts(connection, found.delivery_id)
            target = link_address(connection, found.delivery_id, found.position)
            if facts is not None and target is not None and request.method == "GET":
                record_engagement(
                    connection,
                    facts,
                    EmailMetric.CLICKED,
                    now,
                    link=found.position,
                    flag=click_flag(agent, now, facts.sent_at),
                    properties={"URL": target, "Link": found.position},
                )
    if target is None:
        page = (
            "<!doctype html><html lang=en><meta charset=utf-8><title>Link not valid</title>"
            "<p>This link is not valid: it was altered, or it leads nowhere any more.</p>"
        )
        return HTMLResponse(page, status_code=404, headers=_NO_STORE)
    return RedirectResponse(target, status_code=302, headers=_NO_STORE)


router.add_api_route("/t/o/{token}", opened, methods=["GET"])
# Link scanners often ask with HEAD first: they are redirected, and record nothing.
router.add_api_route("/t/c/{token}", clicked, methods=["GET", "HEAD"])
