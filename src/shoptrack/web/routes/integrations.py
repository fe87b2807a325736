"""Integrations: the list, adding one (the platform's own credential fields), its page with sync
progress (*Sync now*, *Backfill*) and recent deliveries, its settings with the status-rule
editor, and removing it."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.connectors import connector_for, known_platforms
from shoptrack.domain.status import Lifecycle, StatusSet
from shoptrack.errors import InputError, NotFoundError
from shoptrack.integrations import CredentialsRejectedError, connect, remove, webhook_url
from shoptrack.integrations import update as update_integration
from shoptrack.pipeline.sync import sync_interval
from shoptrack.shopify_app import SCOPES, callback_url, shopify_app_of
from shoptrack.store.inbox import delivery_counts, recent_deliveries
from shoptrack.store.integrations import Integration, get_integration, integration_row
from shoptrack.store.order_states import seen_statuses
from shoptrack.store.sync_runs import list_runs, queue_sync, queued_backfill
from shoptrack.web.queries import integration_summaries, sync_status
from shoptrack.web.rendering import humanize
from shoptrack.web.routes._common import FieldErrors, field_errors, pages, redirect
from shoptrack.web.security import (
    Form,
    FormDep,
    Visitor,
    VisitorDep,
    content_security_policy,
    services_of,
)
from shoptrack.web.statuses import platform_name, status_rows

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# The longest backfill offered: ten years of orders.
MAX_BACKFILL_DAYS = 3650
# Deliveries of a finished sync still waiting to be processed are watched this long.
_WATCH_PROCESSING = timedelta(hours=1)

_FIELD_HELP = {
    "store_url": "The store's address, e.g. https://shop.example.com",
    "api_base_url": "Only for a proxy or a simulated store: replaces the scheme, host and port "
    "of the store's API address.",
    "webhook_secret": "Leave empty: shoptrack makes one and registers the store's webhooks with "
    "it.",
}
_SECRET_WORDS = ("secret", "password", "token")


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One input of the add-an-integration form, from the connector's credentials model."""

    name: str
    label: str
    required: bool
    secret: bool
    help: str


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and set(typing.get_args(annotation)) == {
        str,
        type(None),
    }


def credential_fields(platform: str) -> list[CredentialField]:
    """The text fields of the platform's credentials, required ones first."""
    model = connector_for(platform).credentials_model
    fields = [
        CredentialField(
            name=name,
            label=humanize(name),
            required=info.is_required(),
            secret=any(word in name for word in _SECRET_WORDS),
            help=info.description or _FIELD_HELP.get(name, ""),
        )
        for name, info in model.model_fields.items()
        if _is_text(info.annotation)
    ]
    return sorted(fields, key=lambda field: not field.required)


# -- the list ---------------------------------------------------------------------------------


@router.get("/integrations")
def integration_list(request: Request, visitor: VisitorDep) -> Response:
    services = services_of(request)
    with services.database.read() as connection:
        summaries = integration_summaries(connection, visitor.account_id)
    return pages(request).render(
        request, "integrations/list.html", {"integrations": summaries}, visitor=visitor
    )


# -- adding one -------------------------------------------------------------------------------


def _new_page(
    request: Request,
    visitor: Visitor,
    platform: str | None,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    store_answer: str | None = None,
    status: int = 200,
) -> Response:
    app = (
        shopify_app_of(services_of(request), visitor.account_id) if platform == "shopify" else None
    )
    response = pages(request).render(
        request,
        "integrations/new.html",
        {
            "shopify_app": app,
            "callback_url": callback_url(services_of(request)),
            "scopes": ", ".join(SCOPES),
            "platforms": [(p, platform_name(p)) for p in known_platforms()],
            "platform": platform,
            "platform_name": platform_name(platform) if platform else platform,
            "fields": credential_fields(platform) if platform else [],
            "values": values or {},
            "errors": errors or {},
            "store_answer": store_answer,
        },
        visitor=visitor,
        status=status,
    )
    if app is not None:
        # The install form's answer redirects to the shop's approval page, which Chromium
        # checks against the page's form-action.
        targets = ["https://*.myshopify.com"]
        if app.api_base_url:
            targets.append(app.api_base_url.rstrip("/"))
        response.headers["content-security-policy"] = content_security_policy(*targets)
    return response


@router.get("/integrations/new")
def new_integration(request: Request, visitor: VisitorDep) -> Response:
    platform = request.query_params.get("platform")
    platforms = known_platforms()
    if platform not in platforms:
        platform = platforms[0] if len(platforms) == 1 else None
    return _new_page(request, visitor, platform)


@router.post("/integrations/new")
def add_integration(request: Request, visitor: VisitorDep, form: FormDep) -> Response:
    platform = form.get("platform")
    if platform not in known_platforms():
        errors = {"platform": "Platform: choose the store's platform"}
        return _new_page(request, visitor, None, errors=errors, status=400)
    fields = credential_fields(platform)
    values = {"name": form.get("name")} | {
        field.name: form.get(field.name) for field in fields if not field.secret
    }
    missing = {
        field.name: f"{field.label}: required"
        for field in fields
        if field.required and not form.get(field.name).strip()
    }
    if not form.get("name").strip():
        missing = {"name": "Name: give the integration a name, e.g. the store's name"} | missing
    if missing:
        return _new_page(request, visitor, platform, values=values, errors=missing, status=400)
    credentials = {field.name: form.get(field.name) for field in fields if form.get(field.name)}
    try:
        result = connect(
            services_of(request),
            account_id=visitor.account_id,
            platform=platform,
            name=form.get("name"),
            credentials=credentials,
        )
    except CredentialsRejectedError as error:
        answer = error.meta.get("store_answer")
        return _new_page(
            request,
            visitor,
            platform,
            values=values,
            errors={"": error.detail},
            store_answer=str(answer) if answer else None,
            status=422,
        )
    except InputError as error:
        known = {field.name for field in fields} | {"name"}
        errors = field_errors(error, known)
        return _new_page(request, visitor, platform, values=values, errors=errors, status=400)
    flash = [("ok", f"{result.integration.name} is connected; its orders are being imported.")]
    flash += [("warning", warning) for warning in result.warnings]
    return redirect(f"/integrations/{result.integration.id}", visitor, flash)


# -- one integration --------------------------------------------------------------------------


def _own(request: Request, visitor: Visitor, integration_id: str) -> Integration:
    """The integration, if it is the visitor's account's (else a 404, as if it did not exist)."""
    with services_of(request).database.read() as connection:
        integration = get_integration(connection, visitor.account_id, integration_id)
    if integration.removed_at is not None:
        raise NotFoundError(f"integration {integration_id} was removed", parameter="integration")
    return integration


def _sync_panel(request: Request, visitor: Visitor, integration_id: str) -> dict[str, Any]:
    services = services_of(request)
    now = services.clock.now()
    with services.database.read() as connection:
        row = integration_row(connection, integration_id)
        status = sync_status(connection, row, now, stale=_WATCH_PROCESSING)
    return {
        "integration_id": integration_id,
        "sync": status,
        "enabled": row.enabled,
        "queued_backfill": queued_backfill(row.sync_cursor),
        "max_backfill_days": MAX_BACKFILL_DAYS,
    }


@router.get("/integrations/{integration_id}")
def integration_page(request: Request, integration_id: str, visitor: VisitorDep) -> Response:
    integration = _own(request, visitor, integration_id)
    services = services_of(request)
    now = services.clock.now()
    with services.database.read() as connection:
        row = integration_row(connection, integration.id)
        deliveries = recent_deliveries(connection, integration.id)
        counts = delivery_counts(connection, integration.id, now - timedelta(days=1))
        runs = list_runs(connection, visitor.account_id, integration.id, limit=10)
    credentials = integration.credentials(services.cipher)
    return pages(request).render(
        request,
        "integrations/show.html",
        {
            "integration": integration,
            "row": row,
            "platform_name": platform_name(integration.platform),
            "webhook_url": webhook_url(services, integration),
            "credential_fields": sorted(humanize(k) for k, v in credentials.items() if v),
            "deliveries": deliveries,
            "delivery_counts": counts,
            "runs": runs,
            "interval": sync_interval(integration),
            **_sync_panel(request, visitor, integration.id),
        },
        visitor=visitor,
    )


@router.get("/integrations/{integration_id}/sync-status")
def sync_panel(request: Request, integration_id: str, visitor: VisitorDep) -> Response:
    """The sync progress panel alone: htmx polls it while a sync is queued or running."""
    integration = _own(request, visitor, integration_id)
    return pages(request).render(
        request,
        "integrations/_sync.html",
        _sync_panel(request, visitor, integration.id),
        visitor=visitor,
    )


def _queue(
    request: Request, visitor: Visitor, integration: Integration, backfill_days: int | None
) -> Response:
    """Queues a sync (with ``backfill_days``, a backfill) for the workers' next round; answers
    htmx with the progress panel, a plain form with a redirect."""
    services = services_of(request)
    flash: list[tuple[str, str]] = []
    if not integration.enabled:
        flash.append(("error", "This integration is disabled: enable it in its settings first."))
    else:
        with services.database.write() as connection:
            queue_sync(
                connection,
                visitor.account_id,
                integration.id,
                services.clock.now(),
                backfill_days=backfill_days,
            )
    if request.headers.get("hx-request") == "true":
        context = _sync_panel(request, visitor, integration.id) | {
            "message": flash[0][1] if flash else ""
        }
        return pages(request).render(request, "integrations/_sync.html", context, visitor=visitor)
    queued = (
        f"A backfill of {backfill_days} days is queued" if backfill_days else "A sync is queued"
    )
    flash = flash or [("ok", f"{queued}; it starts within a few seconds.")]
    return redirect(f"/integrations/{integration.id}", visitor, flash)


@router.post("/integrations/{integration_id}/sync")
def sync_now(
    request: Request, integration_id: str, visitor: VisitorDep, _form: FormDep
) -> Response:
    """Queues a sync now: the next round of the workers runs it."""
    return _queue(request, visitor, _own(request, visitor, integration_id), None)


@router.post("/integrations/{integration_id}/backfill")
def backfill(request: Request, integration_id: str, visitor: VisitorDep, form: FormDep) -> Response:
    """Queues a backfill: the next sync reads ``days`` back and records what it finds as
    backfill (it starts no flow), as ``shoptrack sync --backfill DAYS`` does."""
    integration = _own(request, visitor, integration_id)
    text = form.get("days").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_BACKFILL_DAYS:
        message = f"Days: a whole number from 1 to {MAX_BACKFILL_DAYS}"
        if request.headers.get("hx-request") == "true":
            context = _sync_panel(request, visitor, integration.id) | {"message": message}
            return pages(request).render(
                request, "integrations/_sync.html", context, visitor=visitor, status=400
            )
        return redirect(f"/integrations/{integration.id}", visitor, [("error", message)])
    return _queue(request, visitor, integration, int(text))


# -- settings ---------------------------------------------------------------------------------

_STAGES = (
    (Lifecycle.PLACED, "placed_statuses", "Placed"),
    (Lifecycle.FULFILLED, "fulfilled_statuses", "Fulfilled"),
    (Lifecycle.CANCELLED, "cancelled_statuses", "Cancelled"),
    (Lifecycle.REFUNDED, "refunded_statuses", "Refunded"),
)


def _settings_page(
    request: Request,
    visitor: Visitor,
    integration: Integration,
    *,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    with services_of(request).database.read() as connection:
        seen = seen_statuses(connection, integration.id)
    rules = integration.rules
    named = {s for stage, _, _ in _STAGES for s in rules.for_stage(stage).statuses}
    rows = status_rows(integration.platform, seen, named)
    stages = [
        {
            "value": stage.value,
            "label": label,
            "exclude": rules.for_stage(stage).exclude,
            "checked": {raw for raw, _, _ in rows if raw in rules.for_stage(stage)},
        }
        for stage, _, label in _STAGES
    ]
    settings = integration.settings
    defaults = {
        "name": integration.name,
        "enabled": integration.enabled,
        "timezone": settings.get("timezone") or "",
        "sync_interval_minutes": settings.get("sync_interval_minutes") or "",
        "backfill_days": settings.get("backfill_days") or "",
    }
    return pages(request).render(
        request,
        "integrations/settings.html",
        {
            "integration": integration,
            "platform_name": platform_name(integration.platform),
            "rows": rows,
            "seen": set(seen),
            "stages": stages,
            "values": defaults | (values or {}),
            "errors": errors or {},
            "default_interval": int(sync_interval(integration).total_seconds() // 60),
        },
        visitor=visitor,
        status=status,
    )


@router.get("/integrations/{integration_id}/settings")
def settings_page(request: Request, integration_id: str, visitor: VisitorDep) -> Response:
    return _settings_page(request, visitor, _own(request, visitor, integration_id))


def _whole_number(form: Form, name: str, label: str) -> int | None:
    text = form.get(name).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{label}: {text!r} is not a whole number", parameter=name) from None


def _rules_from_form(integration: Integration, form: Form) -> dict[str, Any]:
    """The four status lists as settings: each stage keeps its mode (listing the statuses it
    includes, or those it excludes), and a list equal to the platform's default is dropped so
    the default keeps applying."""
    shown = set(form.getlist("status"))
    current = integration.rules
    defaults = connector_for(integration.platform).default_rules
    settings: dict[str, Any] = {}
    for stage, key, _ in _STAGES:
        before = current.for_stage(stage)
        checked = set(form.getlist(f"rule_{stage.value}")) & shown
        kept = before.statuses - shown  # named by the rule but not offered: left as they were
        chosen = (
            StatusSet.excluding((shown - checked) | kept)
            if before.exclude
            else StatusSet.including(checked | kept)
        )
        settings[key] = None if chosen == defaults.for_stage(stage) else chosen.to_setting()
    return settings


@router.post("/integrations/{integration_id}/settings")
def save_settings(
    request: Request, integration_id: str, visitor: VisitorDep, form: FormDep
) -> Response:
    integration = _own(request, visitor, integration_id)
    values = {
        "name": form.get("name"),
        "enabled": "enabled" in form,
        "timezone": form.get("timezone").strip(),
        "sync_interval_minutes": form.get("sync_interval_minutes").strip(),
        "backfill_days": form.get("backfill_days").strip(),
    }
    known = {"name", "timezone", "sync_interval_minutes", "backfill_days", "settings"}
    try:
        settings = {
            "enabled": values["enabled"],
            "timezone": values["timezone"] or None,
            "sync_interval_minutes": _whole_number(
                form, "sync_interval_minutes", "Sync interval (minutes)"
            ),
            "backfill_days": _whole_number(form, "backfill_days", "Backfill days"),
            **_rules_from_form(integration, form),
        }
        result = update_integration(
            services_of(request),
            account_id=visitor.account_id,
            integration_id=integration.id,
            name=form.get("name"),
            settings=settings,
        )
    except InputError as error:
        errors = field_errors(error, known)
        if "settings" in errors:
            errors = {"rules": errors.pop("settings")} | errors
        return _settings_page(
            request, visitor, integration, values=values, errors=errors, status=400
        )
    flash = [("ok", "The settings are saved.")]
    flash += [("warning", warning) for warning in result.warnings]
    return redirect(f"/integrations/{integration.id}", visitor, flash)


# -- removing ---------------------------------------------------------------------------------


@router.get("/integrations/{integration_id}/remove")
def remove_page(request: Request, integration_id: str, visitor: VisitorDep) -> Response:
    integration = _own(request, visitor, integration_id)
    return pages(request).render(
        request, "integrations/remove.html", {"integration": integration}, visitor=visitor
    )


@router.post("/integrations/{integration_id}/remove")
def remove_integration(
    request: Request, integration_id: str, visitor: VisitorDep, _form: FormDep
) -> Response:
    integration = _own(request, visitor, integration_id)
    remove(services_of(request), account_id=visitor.account_id, integration_id=integration.id)
    flash = [("ok", f"{integration.name} is removed; its events and metrics stay.")]
    return redirect("/integrations", visitor, flash)
