"""The account's Settings page: the account settings resource (``domain.account_settings``) as a
form, saved whole; a setting that is not valid is named beside its field and nothing is saved.
It also lists who hears of the account's alerts, and adds and removes them
(``shoptrack.alerts``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.alerts import subscribe, subscriptions, unsubscribe
from shoptrack.domain.account_settings import AccountSettings
from shoptrack.errors import InputError
from shoptrack.store.accounts import account_settings, save_account_settings
from shoptrack.web.routes._common import FieldErrors, field_errors, pages, redirect
from shoptrack.web.security import FormDep, Visitor, VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    visitor: Visitor,
    values: dict[str, Any],
    errors: FieldErrors | None = None,
    status: int = 200,
    *,
    subscription: dict[str, Any] | None = None,
) -> Response:
    """The page; ``subscription`` holds the alert subscription form's values, its errors and
    a new webhook's secret (shown this once)."""
    return pages(request).render(
        request,
        "settings.html",
        {
            "values": values,
            "errors": errors or {},
            "zones": sorted(available_timezones()),
            "subscriptions": subscriptions(services_of(request), visitor.account_id),
            "subscription": {"values": {}, "errors": {}, "secret": None} | (subscription or {}),
        },
        visitor=visitor,
        status=status,
    )


def _current(request: Request, visitor: Visitor) -> dict[str, Any]:
    with services_of(request).database.read() as connection:
        return account_settings(connection, visitor.account_id).model_dump()


@router.get("/settings")
def settings_page(request: Request, visitor: VisitorDep) -> Response:
    with services_of(request).database.read() as connection:
        settings = account_settings(connection, visitor.account_id)
    return _page(request, visitor, settings.model_dump())


@router.post("/settings")
def save_settings(request: Request, visitor: VisitorDep, form: FormDep) -> Response:
    window = form.get("attribution_window_days").strip()
    values: dict[str, Any] = {
        "time_zone": form.get("time_zone").strip(),
        "test_sends": "test_sends" in form,
        # Not a whole number: given as typed, for the settings to name it.
        "attribution_window_days": int(window) if window.isdigit() else window,
        "attribution_clicks_only": "attribution_clicks_only" in form,
        "email_tracking": "email_tracking" in form,
        "utm_parameters": "utm_parameters" in form,
    }
    try:
        with services_of(request).database.write() as connection:
            settings = account_settings(connection, visitor.account_id).changed(values)
            save_account_settings(connection, visitor.account_id, settings)
    except InputError as error:
        errors = field_errors(error, set(AccountSettings.model_fields))
        return _page(request, visitor, values, errors, status=400)
    return redirect("/settings", visitor, [("ok", "The settings are saved.")])


@router.post("/settings/alert-subscriptions")
def add_alert_subscription(request: Request, visitor: VisitorDep, form: FormDep) -> Response:
    """Subscribes the address or URL given; a webhook's secret is shown on the page this once."""
    channel = form.get("channel")
    target = form.get(channel).strip() if channel in ("email", "url") else ""
    values = {"channel": channel, channel: target}
    try:
        if channel not in ("email", "url"):
            raise InputError("choose email or webhook", pointer="/data/attributes")
        made = subscribe(
            services_of(request),
            visitor.account_id,
            email=target if channel == "email" else None,
            url=target if channel == "url" else None,
        )
    except InputError as error:
        errors = field_errors(error, {"email", "url"})
        return _page(
            request,
            visitor,
            _current(request, visitor),
            status=error.status,
            subscription={"values": values, "errors": errors},
        )
    if made.secret is None:
        return redirect(
            "/settings#alert-subscriptions",
            visitor,
            [("ok", f"{made.subscription.target} is told of the account's alerts.")],
        )
    return _page(
        request,
        visitor,
        _current(request, visitor),
        status=201,
        subscription={"secret": made.secret, "made": made.subscription.target},
    )


@router.post("/settings/alert-subscriptions/{subscription_id}/remove")
def remove_alert_subscription(
    request: Request, subscription_id: str, visitor: VisitorDep, _form: FormDep
) -> Response:
    removed = unsubscribe(services_of(request), visitor.account_id, subscription_id=subscription_id)
    return redirect(
        "/settings#alert-subscriptions",
        visitor,
        [("ok", f"{removed.target} is no longer told of the account's alerts.")],
    )
