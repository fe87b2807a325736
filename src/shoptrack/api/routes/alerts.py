"""The watchdog's alerts and who hears of them, as JSON:API resources.

- ``GET /api/alerts`` (type ``alert``): open alerts first, then the resolved ones, each newest
  first; ``filter=equals(status,"open")`` (or ``"resolved"``), ``equals(integration_id,"…")``,
  ``equals(code,"…")``; at most 100 a page with a cursor. ``GET /api/alerts/{id}``: one.
- ``GET|POST /api/alert-subscriptions``, ``DELETE /api/alert-subscriptions/{id}`` (type
  ``alert-subscription``): an email address or a webhook URL; a webhook's ``whsec_`` secret is
  in the 201 that makes it, and never again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from shoptrack.alerts import subscribe, subscriptions, unsubscribe
from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    FILTER_PARAMETER,
    PAGE_CURSOR_PARAMETER,
    JSONAPIBody,
    Page,
    PageSize,
    RequestDocument,
    RequestModel,
    jsonapi_response,
    parse_filter,
    read_cursor,
    utc_time,
)
from shoptrack.api.resources import alert_resource, subscription_resource
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import (
    AlertResponse,
    AlertResponseCollection,
    AlertSubscriptionCreated,
    AlertSubscriptionResponseCollection,
)
from shoptrack.errors import InputError, NotFoundError
from shoptrack.store.alerts import get_alert, list_alerts

__all__ = ["router"]

_PAGE_SIZE = PageSize(50, maximum=100)
_FILTERS = {"status": ("equals",), "integration_id": ("equals",), "code": ("equals",)}
_STATUSES = ("open", "resolved")


class SubscriptionAttributes(BaseModel):
    """What to subscribe: an ``email`` address or a webhook ``url``, exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    email: str | None = Field(default=None, max_length=320, examples=["ops@example.com"])
    url: str | None = Field(
        default=None, max_length=2000, examples=["https://example.com/hooks/shoptrack"]
    )


class SubscriptionData(RequestModel, extra="forbid"):
    type: Literal["alert-subscription"]
    attributes: SubscriptionAttributes


class SubscriptionDocument(RequestDocument[SubscriptionData], extra="forbid"):
    """The body of ``POST /api/alert-subscriptions``."""


router = JSONAPIRouter("Alerts")


def _alert_key(cursor: list[Any]) -> tuple[bool, datetime, str]:
    """The alert a page of alerts ends with, as its cursor holds it."""
    resolved, opened, alert_id = cursor
    if not isinstance(resolved, bool) or not isinstance(alert_id, str):
        raise TypeError("not an alert cursor")
    return resolved, utc_time(str(opened)), alert_id


@router.operation(
    "GET /api/alerts",
    "get_alerts",
    AlertResponseCollection,
    parameters=(
        {
            **FILTER_PARAMETER,
            "description": 'equals(status,"open") or "resolved", equals(integration_id,"…"), '
            'equals(code,"…"), joined by and(…) or commas',
        },
        _PAGE_SIZE.parameter,
        PAGE_CURSOR_PARAMETER,
    ),
)
def get_alerts(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's alerts: open ones first, then the resolved ones, newest first."""
    conditions = parse_filter(request.query_params.get("filter"), _FILTERS)
    wanted: dict[str, str] = {}
    for condition in conditions:
        if not isinstance(condition.value, str):
            raise InputError(f"filter: {condition.field} takes a quoted string", parameter="filter")
        wanted[condition.field] = condition.value
    status = wanted.get("status")
    if status is not None and status not in _STATUSES:
        raise InputError(
            f'filter: status is "open" or "resolved", not {status!r}', parameter="filter"
        )
    size = _PAGE_SIZE.read(request)
    with services.database.read() as connection:
        found = list_alerts(
            connection,
            account.id,
            status=status,
            integration_id=wanted.get("integration_id"),
            code=wanted.get("code"),
            after=read_cursor(request, _alert_key),
            limit=size + 1,
        )
    page = Page.of(found, size, lambda alert: [not alert.is_open, alert.opened_at, alert.id])
    base = base_url(request)
    return jsonapi_response(page.document(request, lambda alert: alert_resource(alert, base)))


@router.operation("GET /api/alerts/{alert_id}", "get_alert", AlertResponse)
def get_one_alert(
    alert_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """One alert, with the finding as last seen."""
    with services.database.read() as connection:
        alert = get_alert(connection, account.id, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert {alert_id} in this account", parameter="id")
    return jsonapi_response({"data": alert_resource(alert, base_url(request))})


@router.operation(
    "GET /api/alert-subscriptions", "get_alert_subscriptions", AlertSubscriptionResponseCollection
)
def get_subscriptions(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """Who hears of the account's alerts."""
    base = base_url(request)
    found = subscriptions(services, account.id)
    return jsonapi_response(
        {
            "data": [subscription_resource(s, base) for s in found],
            "links": {"self": str(request.url)},
        }
    )


@router.operation(
    "POST /api/alert-subscriptions",
    "create_alert_subscription",
    AlertSubscriptionCreated,
    more_errors=(409, 422),
    status_code=201,
)
def create_subscription(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[SubscriptionDocument],
) -> Response:
    """Subscribes an email address or a webhook URL; a webhook's secret is in this answer
    only."""
    attributes = body.data.attributes
    made = subscribe(services, account.id, email=attributes.email, url=attributes.url)
    resource = subscription_resource(made.subscription, base_url(request), secret=made.secret)
    return jsonapi_response({"data": resource}, status_code=201)


@router.operation(
    "DELETE /api/alert-subscriptions/{subscription_id}",
    "delete_alert_subscription",
    status_code=204,
)
def delete_subscription(
    subscription_id: str, account: AccountDep, services: ServicesDep
) -> Response:
    """Unsubscribes; notices not sent yet to it are cancelled."""
    unsubscribe(services, account.id, subscription_id=subscription_id)
    return Response(status_code=204)
