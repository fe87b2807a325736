"""Installing the account's Shopify app on a store from the web UI: ``GET
/integrations/shopify/install?shop=…`` sends the browser to Shopify's approval page, and
Shopify sends it back to ``GET /integrations/shopify/callback`` (``shoptrack.shopify_app``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from shoptrack.shopify_app import CALLBACK_PATH, INSTALL_PATH, begin_install, finish_install
from shoptrack.web.routes._common import redirect
from shoptrack.web.security import VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get(INSTALL_PATH)
def install(request: Request, visitor: VisitorDep) -> Response:
    """To Shopify's approval page for the shop named by ``shop``; a shop outside
    myshopify.com, or an account without its app, is an error page naming the fix."""
    url = begin_install(
        services_of(request),
        account_id=visitor.account_id,
        session_token=visitor.session_token,
        shop=request.query_params.get("shop", ""),
        test_orders=request.query_params.get("test_orders") in ("1", "on", "true"),
    )
    return RedirectResponse(url, status_code=303)


@router.get(CALLBACK_PATH)
def callback(request: Request, visitor: VisitorDep) -> Response:
    """Shopify's redirect back: checked, its code exchanged, the shop connected."""
    result = finish_install(
        services_of(request),
        session_token=visitor.session_token,
        parameters=request.query_params.multi_items(),
    )
    flash = [("ok", f"{result.integration.name} is connected; its orders are being imported.")]
    flash += [("warning", warning) for warning in result.warnings]
    return redirect(f"/integrations/{result.integration.id}", visitor, flash)
