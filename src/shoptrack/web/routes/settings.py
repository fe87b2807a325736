"""The account's Settings page: the account settings resource (``domain.account_settings``) as a
form, saved whole; a setting that is not valid is named beside its field and nothing is saved."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Request
from starlette.responses import Response

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
) -> Response:
    return pages(request).render(
        request,
        "settings.html",
        {"values": values, "errors": errors or {}, "zones": sorted(available_timezones())},
        visitor=visitor,
        status=status,
    )


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
