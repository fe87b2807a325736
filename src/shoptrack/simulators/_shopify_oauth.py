"""The Shopify simulator's token endpoint: the client credentials grant of a Dev Dashboard app.

``POST /admin/oauth/access_token`` with ``grant_type=client_credentials``, ``client_id`` and
``client_secret`` (form-encoded as shopify.dev's "Using the client credentials grant" writes the
request, or JSON as ``@shopify/shopify-api``'s ``clientCredentials`` sends it) answers 200
``{"access_token": "shpat_…", "scope": "read_orders,…", "expires_in": 86399}``: a new token
with the app's scopes, which stops working ``expires_in`` seconds later by the simulator's clock
(24 hours, less the second Shopify's own answers take off). Tokens issued before stay valid until
their own expiry.

A refusal is an OAuth error body, ``{"error": …, "error_description": …}``, with 400:
``invalid_request`` when a parameter is missing, ``unsupported_grant_type`` for another grant,
``invalid_client`` for an unknown client id or a wrong secret. [UNCERTAIN] the exact
``error_description`` wording and whether Shopify answers ``invalid_client`` with 400 or 401:
the body's shape and codes are the OAuth 2.0 ones (RFC 6749 §5.2) that Shopify's other OAuth
refusals follow (``{"error":"invalid_request","error_description":"The authorization code was
not found or was already used"}``, 400, quoted in public issues).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shoptrack.simulators._shopify_listing import internal_error, json_response

if TYPE_CHECKING:
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = ["TOKEN_LIFETIME", "token_route"]

# What expires_in says of a new token: 24 hours, as Shopify's answers give it.
TOKEN_LIFETIME = timedelta(seconds=86399)


def _refusal(error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, 400)


async def _form(request: Request) -> Mapping[str, Any]:
    raw = (await request.body()).decode("utf-8", "replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            body = json.loads(raw)
        except ValueError:
            return {}
        return body if isinstance(body, Mapping) else {}
    return dict(parse_qsl(raw))


def token_route(sim: ShopifySimulator) -> Route:
    """``POST /admin/oauth/access_token`` of ``sim``, behind the edge's faults."""

    async def endpoint(request: Request) -> Response:
        with sim._lock:
            edge = sim.edge.answer(
                request.headers.get("user-agent", ""), request.url.netloc, internal_error
            )
        if edge is not None:
            return edge
        form = await _form(request)
        grant = form.get("grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not grant or not client_id or not client_secret:
            return _refusal(
                "invalid_request",
                "The request is missing a required parameter: grant_type, client_id and"
                " client_secret are required.",
            )
        if grant != "client_credentials":
            return _refusal(
                "unsupported_grant_type", "The authorization grant type is not supported."
            )
        if not (
            secrets.compare_digest(str(client_id), sim.client_id)
            and secrets.compare_digest(str(client_secret), sim.client_secret)
        ):
            return _refusal("invalid_client", "Client authentication failed.")
        token = sim.issue_token()
        return json_response(
            {
                "access_token": token.value,
                "scope": ",".join(token.scopes),
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            }
        )

    return Route("/admin/oauth/access_token", endpoint, methods=["POST"])
