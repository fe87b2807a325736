"""Request signing that some stores require: OAuth 1.0a one-legged (WooCommerce over plain
HTTP, Magento 2 integrations), done by oauthlib."""

from __future__ import annotations

from collections.abc import Generator
from typing import Literal

import httpx
from oauthlib import oauth1

__all__ = ["OAuth1Auth"]

_METHODS: frozenset[Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]] = (
    frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
)


class OAuth1Auth(httpx.Auth):
    """Signs each request with OAuth 1.0a, in the query string (WooCommerce) or the
    ``Authorization`` header (Magento 2)."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        *,
        token: str | None = None,
        token_secret: str | None = None,
        in_header: bool = False,
    ) -> None:
        self._client = oauth1.Client(
            consumer_key,
            client_secret=consumer_secret,
            resource_owner_key=token,
            resource_owner_secret=token_secret,
            signature_method=oauth1.SIGNATURE_HMAC_SHA256,
            signature_type=oauth1.SIGNATURE_TYPE_AUTH_HEADER
            if in_header
            else oauth1.SIGNATURE_TYPE_QUERY,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        method = request.method.upper()
        if method not in _METHODS:
            raise ValueError(f"cannot sign a {method} request")
        uri, headers, _ = self._client.sign(str(request.url), http_method=method)
        request.url = httpx.URL(uri)
        if "Authorization" in headers:
            request.headers["Authorization"] = headers["Authorization"]
        yield request
