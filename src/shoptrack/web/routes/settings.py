"""The account's Settings page: the account settings resource (``domain.account_settings``) as a
form, saved whole; a setting that is not valid is named beside its field and nothing is saved.
It holds the account's Shopify app (``shoptrack.shopify_app``), and lists who hears of the
account's alerts, and adds and removes them (``shoptrack.alerts``)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.alerts import subscribe, subscriptions, unsubscribe
from shoptrack.domain.account_settings import AccountSettings
from shoptrack.errors import InputError
from shoptrack.shopify_app import (
    COMPLIANCE_PATH,
    SCOPES,
    callback_url,
    configure,
    parse_settings,
    shopify_app_of,
)
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
    shopify: dict[str, Any] | None = None,
) -> Response:
    """The page; ``subscription`` holds the alert subscription form's values, its errors and
    a new webhook's secret (shown this once); ``shopify`` the Shopify app form's."""
    services = services_of(request)
    app = shopify_app_of(services, visitor.account_id)
    return pages(request).render(
        request,
        "settings.html",
        {
            "values": values,
            "errors": errors or {},
            "zones": sorted(available_timezones()),
            "subscriptions": subscriptions(services_of(request), visitor.account_id),
            "subscription": {"values": {}, "errors": {}, "secret": None} | (subscription or {}),
            "shopify": {
                "app": app,
                "values": {"client_id": app.client_id if app else ""},
                "errors": {},
                "callback_url": callback_url(services),
                "compliance_url": services.settings.public_url.rstrip("/") + COMPLIANCE_PATH,
                "scopes": ", ".join(SCOPES),
            }
            | (shopify or {}),
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


@router.post("/settings/shopify-app")
def save_shopify_app(request: Request, visitor: VisitorDep, form: FormDep) -> Response:
    """Stores the account's Shopify app; a new secret keeps the old ones for verifying."""
    values = {"client_id": form.get("client_id"), "api_base_url": form.get("api_base_url")}
    try:
        configure(
            services_of(request),
            visitor.account_id,
            parse_settings(
                {
                    "client_id": values["client_id"],
                    "client_secret": form.get("client_secret"),
                    "api_base_url": values["api_base_url"].strip() or None,
                },
                "/data/attributes",
            ),
        )
    except InputError as error:
        errors = field_errors(error, {"client_id", "client_secret", "api_base_url"})
        return _page(
            request,
            visitor,
            _current(request, visitor),
            status=400,
            shopify={"values": values, "errors": errors},
        )
    return redirect(
        "/settings#shopify-app",
        visitor,
        [("ok", "The Shopify app is saved: install it on a store from Add a Shopify store.")],
    )
