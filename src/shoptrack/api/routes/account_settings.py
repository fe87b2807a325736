"""``GET|PATCH /api/account-settings``: what an account sets for itself, as one JSON:API resource
(type ``account-settings``, id the account's). PATCH changes the attributes it gives."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, ValidationError

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import add_route, jsonapi_response, refuse_unstorable
from shoptrack.domain.account_settings import ATTRIBUTES_POINTER, AccountSettings
from shoptrack.domain.api_events import pointer_of
from shoptrack.errors import ConflictError, InputError
from shoptrack.store.accounts import account_settings, save_account_settings

__all__ = ["RESOURCE_TYPE", "router", "settings_resource"]

RESOURCE_TYPE = "account-settings"


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["account-settings"]
    id: str | None = None
    attributes: dict[str, Any]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data: _Data


def settings_resource(account_id: str, settings: AccountSettings, base: str) -> dict[str, Any]:
    return {
        "type": RESOURCE_TYPE,
        "id": account_id,
        "attributes": settings.model_dump(),
        "links": {"self": f"{base}/api/account-settings"},
    }


router = APIRouter(tags=["Account settings"])


def get_account_settings(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's settings, every one with its value or default."""
    with services.database.read() as connection:
        settings = account_settings(connection, account.id)
    return jsonapi_response({"data": settings_resource(account.id, settings, base_url(request))})


def patch_account_settings(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: Annotated[Any, Body(media_type="application/vnd.api+json")],
) -> Response:
    """Changes the settings the body's attributes name; the others keep their values."""
    refuse_unstorable(body)
    try:
        data = _Document.model_validate(body).data
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        pointer = pointer_of(tuple(first["loc"]))
        raise InputError(f"{pointer}: {first['msg']}", pointer=pointer) from error
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


add_route(
    router,
    "/api/account-settings",
    get_account_settings,
    ["GET"],
    operation_id="get_account_settings",
)
add_route(
    router,
    "/api/account-settings",
    patch_account_settings,
    ["PATCH"],
    operation_id="update_account_settings",
)
