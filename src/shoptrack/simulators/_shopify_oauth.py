"""The Shopify simulator's OAuth: the client credentials grant of a Dev Dashboard app, and the
authorization code grant of an app installed on the shop.

``GET /admin/oauth/authorize?client_id&scope&redirect_uri&state`` is Shopify's approval page;
the simulated owner approves at once, so it redirects (302) to ``redirect_uri`` with ``code``,
``hmac``, ``host``, ``shop``, ``state`` and ``timestamp``, signed as Shopify signs redirects: hex
HMAC-SHA256, with the app's client secret, of the other parameters sorted and joined as
``key=value&…`` (shopify.dev, "Implement authorization code grant manually"). An unknown
``client_id`` or a missing ``redirect_uri`` is a 400 page. ``POST /admin/oauth/access_token``
with ``client_id``, ``client_secret`` and that ``code`` (once, within ``CODE_LIFETIME``) answers
``{"access_token": "shpat_…", "scope": "read_orders,…"}``: an offline token with the scopes
asked for, which works until the app is uninstalled.

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

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from shoptrack.simulators._kit import behind_edge
from shoptrack.simulators._shopify_listing import internal_error, json_response

if TYPE_CHECKING:
    from shoptrack.simulators.shopify import ShopifySimulator

__all__ = ["CODE_LIFETIME", "TOKEN_LIFETIME", "authorize_route", "redirect_hmac", "token_route"]

# How long an authorization code can be exchanged (Shopify does not say; codes are used at once).
CODE_LIFETIME = timedelta(minutes=10)

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
        form = await _form(request)
        grant = form.get("grant_type")
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if not grant and form.get("code"):
            return _exchange(sim, str(client_id or ""), str(client_secret or ""), str(form["code"]))
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
        if not _client_matches(sim, str(client_id), str(client_secret)):
            return _refusal("invalid_client", "Client authentication failed.")
        token = sim.issue_token()
        return json_response(
            {
                "access_token": token.value,
                "scope": ",".join(token.scopes),
                "expires_in": int(TOKEN_LIFETIME.total_seconds()),
            }
        )

    # The token endpoint is not slowed: only the edge's refusals meet it.
    guarded = behind_edge(sim, endpoint, internal_error, slow=False)
    return Route("/admin/oauth/access_token", guarded, methods=["POST"])


def _client_matches(sim: ShopifySimulator, client_id: str, client_secret: str) -> bool:
    return secrets.compare_digest(client_id, sim.client_id) and secrets.compare_digest(
        client_secret, sim.client_secret
    )


def _exchange(sim: ShopifySimulator, client_id: str, client_secret: str, code: str) -> Response:
    """The authorization code grant's exchange: an offline token for a code, once."""
    if not client_id or not client_secret:
        return _refusal(
            "invalid_request", "client_id, client_secret and code are required parameters."
        )
    if not _client_matches(sim, client_id, client_secret):
        return _refusal("invalid_client", "Client authentication failed.")
    token = sim.exchange_code(code)
    if token is None:
        return _refusal(
            "invalid_request", "The authorization code was not found or was already used"
        )
    return json_response({"access_token": token.value, "scope": ",".join(token.scopes)})


def redirect_hmac(secret: str, parameters: Mapping[str, str]) -> str:
    """How Shopify signs the query of a redirect to the app."""
    message = "&".join(f"{key}={value}" for key, value in sorted(parameters.items()))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def authorize_route(sim: ShopifySimulator) -> Route:
    """``GET /admin/oauth/authorize`` of ``sim``: approved at once, redirected back."""

    async def endpoint(request: Request) -> Response:
        query = request.query_params
        redirect_uri = query.get("redirect_uri") or ""
        if query.get("client_id") != sim.client_id or not redirect_uri.startswith(
            ("http://", "https://")
        ):
            return HTMLResponse(
                "<h1>Oauth error invalid_request</h1><p>The client_id or redirect_uri is"
                " invalid.</p>",
                400,
            )
        scopes = tuple(s for s in (query.get("scope") or "").split(",") if s)
        parameters = {
            "code": sim.grant_code(scopes),
            "host": base64.urlsafe_b64encode(f"{sim.shop_domain}/admin".encode()).decode(),
            "shop": sim.shop_domain,
            "state": query.get("state") or "",
            "timestamp": str(int(sim.clock().timestamp())),
        }
        parameters["hmac"] = redirect_hmac(sim.client_secret, parameters)
        return RedirectResponse(f"{redirect_uri}?{urlencode(parameters)}", 302)

    return Route("/admin/oauth/authorize", endpoint, methods=["GET"])
