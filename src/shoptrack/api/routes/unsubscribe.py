"""The public, token-signed unsubscribe page of flow emails: ``GET /unsubscribe/{token}`` asks
to confirm, ``POST`` (the form, and RFC 8058 one-click) suppresses the address."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse

from shoptrack.api.deps import ServicesDep
from shoptrack.api.schemas import error_responses
from shoptrack.flows.engagement import record_unsubscribe
from shoptrack.flows.unsubscribe import UnsubscribeLinkError, UnsubscribeToken, verify_token
from shoptrack.services import Services
from shoptrack.store.accounts import account_exists
from shoptrack.store.flows import suppress

__all__ = ["router"]

# Public: reached from emails, without an API key; the signed token is the authority.
router = APIRouter(tags=["Unsubscribe"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport"
content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">
<h1>{title}</h1>{body}</body></html>
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), body=body), status_code=status)


def _token(services: Services, token: str) -> UnsubscribeToken | HTMLResponse:
    try:
        return verify_token(services.settings.secret_keys(), token)
    except UnsubscribeLinkError as error:
        return _page("Link not valid", f"<p>{html.escape(error.detail)}.</p>", error.status)


def unsubscribe_page(token: str, services: ServicesDep) -> Response:
    """Asks to confirm (a link scanner's GET must not unsubscribe anyone)."""
    found = _token(services, token)
    if isinstance(found, HTMLResponse):
        return found
    address = html.escape(found.email)
    return _page(
        "Unsubscribe",
        f"<p>Stop all emails to <strong>{address}</strong>?</p>"
        f'<form method="post"><button type="submit">Unsubscribe</button></form>',
    )


def unsubscribe(token: str, services: ServicesDep) -> Response:
    """Unsubscribes the address: the confirmation form, and RFC 8058 one-click POSTs."""
    found = _token(services, token)
    if isinstance(found, HTMLResponse):
        return found
    account_id, address = found.account_id, found.email
    now: datetime = services.clock.now()
    with services.database.write() as connection:
        if account_exists(connection, account_id):
            suppress(connection, account_id, address, "unsubscribed", now)
            record_unsubscribe(connection, account_id, found.delivery_id, now)
    return _page("Unsubscribed", f"<p>{html.escape(address)} will get no more emails.</p>")


_UNSUBSCRIBE_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "a link this server did not make, or that was altered",
        "content": {"text/html": {"schema": {"type": "string"}}},
    },
    **error_responses(503),
}
router.add_api_route(
    "/unsubscribe/{token}",
    unsubscribe_page,
    methods=["GET"],
    operation_id="unsubscribe_page",
    response_class=HTMLResponse,
    responses=_UNSUBSCRIBE_ANSWERS,
)
router.add_api_route(
    "/unsubscribe/{token}",
    unsubscribe,
    methods=["POST"],
    operation_id="unsubscribe",
    response_class=HTMLResponse,
    responses=_UNSUBSCRIBE_ANSWERS,
)
