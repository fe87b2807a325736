"""How shoptrack authenticates to a Shopify shop with a Dev Dashboard app's client id and
secret: the client credentials grant.

``POST https://{shop}.myshopify.com/admin/oauth/access_token`` with ``grant_type=
client_credentials``, ``client_id`` and ``client_secret`` (form-encoded, as shopify.dev's
"Using the client credentials grant" writes it) answers ``{"access_token", "scope",
"expires_in"}``: a token that works for 24 hours (``expires_in`` seconds), sent as
``X-Shopify-Access-Token`` like an admin-created app's token. No refresh token comes with it:
the grant is simply asked again. A refusal is an OAuth error, ``{"error", "error_description"}``
(``invalid_client`` for a wrong id or secret, ``shop_not_permitted`` where the shop does not
allow the grant).

``ClientCredentialsAuth`` obtains a token when none is kept or the kept one expires within
``RENEW_BEFORE``, and once more when the API answers 401 with it (revoked early, or the app's
scopes changed): the request is then sent again with the new token, once.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from datetime import timedelta
from typing import Any

import httpx

from shoptrack.connectors.errors import StoreConfigError, StoreDataError, StoreError
from shoptrack.connectors.http import USER_AGENT, classify, read_json
from shoptrack.connectors.tokens import IssuedToken, TokenKeeper

__all__ = ["ACCESS_TOKEN_HEADER", "RENEW_BEFORE", "TOKEN_PATH", "ClientCredentialsAuth"]

TOKEN_PATH = "/admin/oauth/access_token"  # noqa: S105  # a path, not a password
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"  # noqa: S105  # a header name
# A token this close to its expiry is renewed before use: a sync's pages never straddle it.
RENEW_BEFORE = timedelta(minutes=10)


class ClientCredentialsAuth(httpx.Auth):
    """Sends requests with a token from the client credentials grant, kept by ``tokens``."""

    requires_response_body = True  # the token endpoint's answer is read within the flow

    def __init__(self, client_id: str, client_secret: str, tokens: TokenKeeper) -> None:
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._tokens = tokens

    def __repr__(self) -> str:  # the secret stays out of reprs and logs
        return f"ClientCredentialsAuth(client_id={self._form['client_id']!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._tokens.load()
        if token is None or token.due(self._tokens.now(), RENEW_BEFORE):
            token = yield from self._obtain(request)
        request.headers[ACCESS_TOKEN_HEADER] = token.value
        response = yield request
        if response.status_code == 401:
            # Revoked before its time (the app's scopes changed, or it was reinstalled): one
            # new token, one more try; a second 401 is the store's answer.
            token = yield from self._obtain(request)
            request.headers[ACCESS_TOKEN_HEADER] = token.value
            yield request

    def _obtain(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, IssuedToken]:
        response = yield httpx.Request(
            "POST",
            request.url.copy_with(path=TOKEN_PATH, query=None),
            data=self._form,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        if response.status_code != 200:
            raise _refusal(response)
        body = read_json(response, "the access token answer")
        value = body.get("access_token") if isinstance(body, Mapping) else None
        if not isinstance(value, str) or not value:
            raise StoreDataError(
                'the access token answer has no "access_token"', store_answer=_without_token(body)
            )
        lifetime = body.get("expires_in")
        token = IssuedToken(
            value=value,
            expires_at=self._tokens.now() + timedelta(seconds=lifetime)
            if isinstance(lifetime, int | float) and not isinstance(lifetime, bool)
            else None,
            scope=str(body.get("scope") or ""),
        )
        self._tokens.save(token)
        return token


def _refusal(response: httpx.Response) -> StoreError:
    """The error a failed token request stands for: a rate limit, a 5xx or a firewall as any
    request's; an OAuth refusal (400, 401) as rejected credentials, in Shopify's words."""
    classified = classify(response)
    if response.status_code in (400, 401, 403):
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping) and body.get("error"):
            reason = str(body["error"])
            described = body.get("error_description")
            return StoreConfigError(
                f"Shopify refused the app's client id and secret ({reason}"
                + (f": {described}" if described else "")
                + "); copy both again from the app's Settings in the Dev Dashboard, and check"
                " that the app is installed on this shop",
                store_status=response.status_code,
                store_answer=response.text,
                code="credentials_rejected",
            )
    return classified or StoreError(
        f"the access token request was answered HTTP {response.status_code}",
        store_status=response.status_code,
        store_answer=response.text,
    )


def _without_token(body: Any) -> str:
    # An answer carrying a token, however malformed otherwise, is never quoted whole.
    if isinstance(body, Mapping):
        return str({key: value for key, value in body.items() if key != "access_token"})
    return str(body)
