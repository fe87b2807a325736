"""``GET|PATCH /api/account-settings``: what an account sets for itself, as one JSON:API resource
(type ``account-settings``, id the account's). PATCH changes the attributes it gives."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    JSONAPIBody,
    RequestDocument,
    RequestModel,
    checked_later_as,
    jsonapi_response,
)
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import AccountSettingsResponse
from shoptrack.domain.account_settings import ATTRIBUTES_POINTER, AccountSettings
from shoptrack.errors import ConflictError
from shoptrack.store.accounts import account_settings, save_account_settings

__all__ = ["RESOURCE_TYPE", "router", "settings_resource"]

RESOURCE_TYPE = "account-settings"


class AccountSettingsChangeData(RequestModel, extra="forbid"):
    type: Literal["account-settings"]
    id: str | None = None
    # Checked by ``AccountSettings.changed``, which names an unknown setting and lists the
    # known ones; described as the settings it may hold.
    attributes: dict[str, Any] = checked_later_as(AccountSettings)


class AccountSettingsChange(RequestDocument[AccountSettingsChangeData], extra="forbid"):
    """The body of ``PATCH /api/account-settings``: the settings to change."""


def settings_resource(account_id: str, settings: AccountSettings, base: str) -> dict[str, Any]:
    return {
        "type": RESOURCE_TYPE,
        "id": account_id,
        "attributes": settings.model_dump(),
        "links": {"self": f"{base}/api/account-settings"},
    }


router = JSONAPIRouter("Account settings")


@router.operation("GET /api/account-settings", "get_account_settings", AccountSettingsResponse)
def get_account_settings(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's settings, every one with its value or default."""
    with services.database.read() as connection:
        settings = account_settings(connection, account.id)
    return jsonapi_response({"data": settings_resource(account.id, settings, base_url(request))})


@router.operation(
    "PATCH /api/account-settings",
    "update_account_settings",
    AccountSettingsResponse,
    more_errors=(409,),
)
def patch_account_settings(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[AccountSettingsChange],
) -> Response:
    """Changes the settings the body's attributes name; the others keep their values."""
    data = body.data
    if data.id is not None and data.id != account.id:
        raise ConflictError(
            f"data.id {data.id} is not this account's id {account.id}", pointer="/data/id"
        )
    with services.database.write() as connection:
        settings = account_settings(connection, account.id).changed(
            data.attributes, ATTRIBUTES_POINTER
        )
        save_account_settings(connection, account.id, settings)
    return jsonapi_response({"data": settings_resource(account.id, settings, base_url(request))})
