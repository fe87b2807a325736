"""``GET|PUT /api/shopify-app``: the account's Shopify app (type ``shopify-app``), which it
installs on stores it does not own. PUT sets the client id and secret; no answer ever holds the
secret."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    JSONAPIBody,
    RequestDocument,
    RequestModel,
    checked_later_as,
    iso,
    jsonapi_response,
)
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import ShopifyAppResponse
from shoptrack.errors import ConflictError, NotFoundError
from shoptrack.services import Services
from shoptrack.shopify_app import (
    COMPLIANCE_PATH,
    SCOPES,
    AppSettings,
    callback_url,
    configure,
    parse_settings,
    shopify_app_of,
)
from shoptrack.store.shopify_apps import ShopifyApp

__all__ = ["RESOURCE_TYPE", "app_resource", "router"]

RESOURCE_TYPE = "shopify-app"
_ATTRIBUTES = "/data/attributes"


class ShopifyAppChangeData(RequestModel, extra="forbid"):
    type: Literal["shopify-app"]
    id: str | None = None
    # Checked by ``AppSettings``, which names the field that is wrong.
    attributes: dict[str, Any] = checked_later_as(
        AppSettings, required=("client_id", "client_secret")
    )


class ShopifyAppChange(RequestDocument[ShopifyAppChangeData], extra="forbid"):
    """The body of ``PUT /api/shopify-app``: the app's client id and secret."""


def app_resource(services: Services, account_id: str, app: ShopifyApp, base: str) -> dict[str, Any]:
    public = services.settings.public_url.rstrip("/")
    return {
        "type": RESOURCE_TYPE,
        "id": account_id,
        "attributes": {
            "client_id": app.client_id,
            "api_base_url": app.api_base_url,
            "scopes": list(SCOPES),
            "callback_url": callback_url(services),
            "compliance_webhooks_url": public + COMPLIANCE_PATH,
            "previous_secrets_kept": len(app.previous_secrets),
            "updated": iso(app.updated_at),
        },
        "links": {"self": f"{base}/api/shopify-app"},
    }


router = JSONAPIRouter("Shopify app")


@router.operation("GET /api/shopify-app", "get_shopify_app", ShopifyAppResponse, more_errors=(404,))
def get_shopify_app(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's Shopify app, without its secret; 404 until one is configured."""
    app = shopify_app_of(services, account.id)
    if app is None:
        raise NotFoundError(
            "no Shopify app is configured for this account: PUT /api/shopify-app with its"
            " client_id and client_secret"
        )
    return jsonapi_response({"data": app_resource(services, account.id, app, base_url(request))})


@router.operation(
    "PUT /api/shopify-app", "update_shopify_app", ShopifyAppResponse, more_errors=(409,)
)
def put_shopify_app(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[ShopifyAppChange],
) -> Response:
    """Sets the app's client id and secret. A new secret of the same client id keeps the old
    ones for verifying what Shopify signed before the rotation."""
    data = body.data
    if data.id is not None and data.id != account.id:
        raise ConflictError(
            f"data.id {data.id} is not this account's id {account.id}", pointer="/data/id"
        )
    app = configure(services, account.id, parse_settings(data.attributes, _ATTRIBUTES))
    return jsonapi_response({"data": app_resource(services, account.id, app, base_url(request))})
