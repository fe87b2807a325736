"""Who a Magento 2 REST request comes from, as the webapi area's user contexts decide it.

``CompositeUserContext`` asks, in order:

- ``TokenUserContext``: ``Authorization: Bearer <token>`` (exactly two space-separated pieces).
  An admin token (a JWT since 2.4.4, four hours) is an admin. An integration's access token is
  the integration only while "Allow OAuth Access Tokens to be used as standalone Bearer tokens"
  (``oauth/consumer/enable_integration_as_bearer``) is on; otherwise, as any unknown or expired
  token, it is ignored and the request goes on as a guest's, which the route's ACL check then
  refuses with 401 "The consumer isn't authorized to access %resources.".
- ``OauthUserContext``: ``Authorization: OAuth …`` (``Magento\\Framework\\Oauth\\Helper\\Request``
  reads the header's ``oauth_*`` pairs with ``rawurldecode()``, and the query's other pairs split
  on ``&`` and ``=`` with ``rawurldecode()``, so a ``+`` stays a plus sign), checked as
  ``Magento\\Framework\\Oauth\\Oauth::validateAccessTokenRequest`` does: the version, the required
  parameters, the token's length and the signature method (400), the consumer key, the
  timestamp and nonce (stored before the signature is checked), the token, then the
  HMAC-SHA256 signature keyed with ``consumer_secret&token_secret`` over the method, the
  request's URL and those parameters (401). Its errors are Magento's own words.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, quote, unquote

from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from shoptrack.simulators._magento2_web import MagentoError, required

__all__ = ["ADMIN_TOKEN_LIFETIME", "Authenticator", "Caller", "Integration"]

Caller = Literal["integration", "admin"]

ADMIN_TOKEN_LIFETIME = timedelta(hours=4)  # oauth/access_token_lifetime/admin
_KEY_LENGTH = 32  # Magento\Framework\Oauth\Helper\Oauth::LENGTH_* (consumer key, token, secrets)
_TIME_DEVIATION = 600  # Nonce\Generator::TIME_DEVIATION: how far in the future a timestamp may be
# Oauth::getSupportedSignatureMethods() in 2.4 (older releases took HMAC-SHA1 too).
_METHODS = ("HMAC-SHA256",)
_PROTOCOL = re.compile(r"oauth_[a-z_-]+")
_REQUIRED = (
    "oauth_consumer_key",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_nonce",
    "oauth_timestamp",
    "oauth_token",
)
_SIGN_IN_FAILED = (
    "The account sign-in was incorrect or your account is disabled temporarily. Please wait and"
    " try again later."
)


@dataclass(frozen=True, slots=True)
class Integration:
    """An activated integration (System > Extensions > Integrations): its OAuth consumer and
    access token, each a 32-character string of digits and lower-case letters."""

    consumer_id: int
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str
    name: str = "shoptrack"


@dataclass(slots=True)
class Authenticator:
    """Decides who each request comes from; remembers the nonces each consumer has used."""

    integration: Integration
    admin_username: str
    admin_password: str
    bearer_tokens: bool
    jwt_key: bytes
    _nonces: dict[str, int] = field(default_factory=dict)

    def caller(
        self,
        *,
        method: str,
        url: str,
        query: str,
        authorization: str,
        form: str | None,
        now: datetime,
    ) -> Caller | None:
        """The caller of a request, None for a guest; ``MagentoError`` when an OAuth request is
        refused. ``url`` is the scheme, host and path the request came to; ``query`` its raw
        query string; ``form`` its body when it is ``application/x-www-form-urlencoded``."""
        pieces = authorization.split(" ")
        if len(pieces) == 2 and pieces[0].lower() == "bearer":
            return self._bearer(pieces[1], now)
        at = authorization.lower().find("oauth ")
        if at == -1:
            return None
        params = _header_params(authorization[at + 6 :])
        if form is not None:
            # A form body's oauth_* pairs count only when the header had none.
            header_empty = not params
            for name, value in parse_qsl(form, keep_blank_values=True):
                if header_empty or not _PROTOCOL.search(name):
                    params[name] = value
        for pair in query.split("&") if query else ():
            parts = pair.split("=")
            if len(parts) == 2 and not _PROTOCOL.search(parts[0]):
                params[unquote(parts[0])] = unquote(parts[1])
        self._verify(method, url, params, now)
        return "integration"

    def admin_token(self, username: Any, password: Any, now: datetime) -> str:
        """``POST /V1/integration/admin/token`` (Magento_TwoFactorAuth off): a JWT for four
        hours, or Magento's refusal."""
        missing = [
            name
            for name, value in (("username", username), ("password", password))
            if not isinstance(value, str) or not value
        ]
        if missing:
            raise required(*missing)
        if not (
            hmac.compare_digest(str(username), self.admin_username)
            and hmac.compare_digest(str(password), self.admin_password)
        ):
            raise MagentoError(_SIGN_IN_FAILED, 401)
        issued = int(now.timestamp())
        header = {"kid": "1", "alg": "HS256"}
        claims = {"uid": 1, "utypid": 2, "iat": issued, "exp": issued + 4 * 3600}
        signing_input = f"{_b64(header)}.{_b64(claims)}"
        return f"{signing_input}.{self._jwt_signature(signing_input)}"

    def _bearer(self, token: str, now: datetime) -> Caller | None:
        if hmac.compare_digest(token, self.integration.access_token):
            # Opaque integration tokens: refused as Bearer on 2.4.4+ unless allowed in config.
            return "integration" if self.bearer_tokens else None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing_input = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._jwt_signature(signing_input)):
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (binascii.Error, ValueError):
            return None
        expires = claims.get("exp") if isinstance(claims, dict) else None
        if not isinstance(expires, int) or expires <= now.timestamp():
            return None  # an expired admin token is a guest's
        return "admin"

    def _jwt_signature(self, signing_input: str) -> str:
        digest = hmac.new(self.jwt_key, signing_input.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _verify(self, method: str, url: str, params: dict[str, str], now: datetime) -> None:
        """``Oauth::validateAccessTokenRequest`` and the checks it calls, in their order."""
        version = params.get("oauth_version")
        if version is not None and version != "1.0":
            raise MagentoError('The "%1" Oauth version isn\'t supported.', 400, [version])
        missing = [name for name in _REQUIRED if name not in params]
        if missing:
            raise required(*missing)
        if len(params["oauth_token"]) != _KEY_LENGTH:
            raise MagentoError("The token length is invalid. Check the length and try again.", 400)
        if params["oauth_signature_method"] not in _METHODS:
            raise MagentoError(
                "Signature method %1 is not supported", 400, [params["oauth_signature_method"]]
            )
        integration = self._consumer(params["oauth_consumer_key"])
        self._check_nonce(params["oauth_nonce"], params["oauth_timestamp"], now)
        if not hmac.compare_digest(params["oauth_token"], integration.access_token):
            raise MagentoError("Specified token does not exist", 401)
        signed = [(name, value) for name, value in params.items() if name != "oauth_signature"]
        base_string = oauth_signature.signature_base_string(
            cast("Any", method.upper()),  # the stubs want a Literal of method names
            oauth_signature.base_string_uri(url),
            oauth_signature.normalize_parameters(cast("Any", signed)),  # pairs, as RFC 5849 says
        )
        # HmacSignature: HMAC-SHA256 keyed rawurlencode(consumer secret)&rawurlencode(token
        # secret), base64.
        key = f"{quote(integration.consumer_secret, safe='~')}&"
        key += quote(integration.access_token_secret, safe="~")
        digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode()
        if not hmac.compare_digest(expected, params["oauth_signature"]):
            raise MagentoError("The signature is invalid. Verify and try again.", 401)

    def _consumer(self, consumer_key: str) -> Integration:
        if len(consumer_key) != _KEY_LENGTH:
            raise MagentoError("Consumer key is not the correct length", 401)
        if not hmac.compare_digest(consumer_key, self.integration.consumer_key):
            raise MagentoError("A consumer having the specified key does not exist", 401)
        return self.integration

    def _check_nonce(self, nonce: str, raw_timestamp: str, now: datetime) -> None:
        # Nonce\Generator::validateNonce: only a timestamp in the future is refused (its
        # OauthInputException is caught and re-thrown as this generic error); a nonce is
        # refused when the consumer has used it before, and kept before the signature is read.
        timestamp = int(raw_timestamp) if raw_timestamp.isdigit() else 0
        if timestamp <= 0 or timestamp > now.timestamp() + _TIME_DEVIATION:
            raise MagentoError("An error occurred validating the nonce", 401)
        consumer_id = self.integration.consumer_id
        if nonce in self._nonces:
            raise MagentoError(
                "The nonce is already being used by the consumer with ID %1", 401, [consumer_id]
            )
        # The cron job cleaning oauth_nonce drops entries older than a day.
        horizon = int(now.timestamp()) - 86_400
        for old in [n for n, seen in self._nonces.items() if seen < horizon]:
            del self._nonces[old]
        self._nonces[nonce] = timestamp


def _header_params(header: str) -> dict[str, str]:
    # Request::_processHeader: comma-separated name=value, quotes trimmed, rawurldecode()d;
    # pairs that are not oauth_* (realm) are left out.
    params: dict[str, str] = {}
    for pair in header.split(","):
        name, sep, value = pair.strip().partition("=")
        if sep and _PROTOCOL.search(name):
            params[unquote(name)] = unquote(value.strip('"'))
    return params


def _b64(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
