"""REST API key authentication as ``WC_REST_Authentication`` does it.

Over https (``is_ssl()``): ``consumer_key``/``consumer_secret`` query arguments, else HTTP Basic.
Then, or always over plain http, OAuth 1.0a one-legged: the ``oauth_*`` parameters from the
query, a form body or an ``Authorization: OAuth`` header; HMAC-SHA1 or HMAC-SHA256 keyed with
``consumer_secret + "&"`` over the site's own URL for the path and every parameter (the body of a
JSON request is not signed); a 15-minute timestamp window and single-use nonces. The signature is
computed by oauthlib over the parameters as PHP received them (``$_GET``: a repeated key keeps
its last value, ``status[]`` becomes ``status[0]``), which is what WooCommerce signs too.

An unknown key sent by Basic or query is not an error: the request goes on anonymously and the
route's permission check refuses it (401 ``woocommerce_rest_cannot_view``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import unquote

from oauthlib import oauth1
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from shoptrack.simulators._php import PhpArray, flatten
from shoptrack.simulators._wordpress import WPError

__all__ = ["ApiKey", "Authenticator", "Permission"]

Permission = Literal["read", "write", "read_write"]

_AUTH_ERROR = "woocommerce_rest_authentication_error"
_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_WINDOW = timedelta(minutes=15)
# WC_REST_Authentication::parse_header(): only `oauth_*` names, quoted or bare values.
_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))')
_BASIC_REALM = (
    'Basic realm="WooCommerce API. Use a consumer key in the username field and a consumer'
    ' secret in the password field."'
)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One REST API key (WooCommerce > Settings > Advanced > REST API)."""

    consumer_key: str
    consumer_secret: str
    permissions: Permission = "read_write"


@dataclass(slots=True)
class Authenticator:
    """Finds the key a request is made with; remembers the nonces each key has used."""

    keys: list[ApiKey]
    https: bool
    _nonces: dict[str, dict[str, datetime]] = field(default_factory=dict)

    def authenticate(
        self,
        *,
        method: str,
        url: str,
        query: PhpArray,
        form: PhpArray,
        authorization: str,
        now: datetime,
    ) -> ApiKey | None:
        """The key of the request, None when anonymous; ``WPError`` when a key was refused.

        ``url`` is the site's URL for the requested path, without the query.
        """
        refused: WPError | None = None
        if self.https:
            found, refused = self._basic(query, authorization)
            if found is not None:
                return found
        params = self._oauth_params(query, form, authorization)
        if params is None:
            if refused is not None:
                raise refused
            return None
        return self._oauth(method, url, params, now)

    def check_permission(self, key: ApiKey | None, method: str) -> None:
        """``check_permissions()``: a read key cannot write, a write key cannot read."""
        if key is None:
            return
        writing = method not in ("GET", "HEAD", "OPTIONS")
        if writing and key.permissions == "read":
            raise WPError(_AUTH_ERROR, "The API key provided does not have write permissions.", 401)
        if not writing and key.permissions == "write":
            raise WPError(_AUTH_ERROR, "The API key provided does not have read permissions.", 401)

    def _key(self, consumer_key: str) -> ApiKey | None:
        # WooCommerce stores a hash of the key and looks the sanitized input up; so do we.
        wanted = consumer_key.strip()
        return next((k for k in self.keys if k.consumer_key == wanted), None)

    def _basic(self, query: PhpArray, authorization: str) -> tuple[ApiKey | None, WPError | None]:
        consumer_key, consumer_secret = query.get("consumer_key"), query.get("consumer_secret")
        if not (isinstance(consumer_key, str) and isinstance(consumer_secret, str)):
            consumer_key = consumer_secret = ""
        if not (consumer_key and consumer_secret) and authorization[:6].lower() == "basic ":
            try:
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user = password = ""
            consumer_key, consumer_secret = user, password
        key = self._key(consumer_key) if consumer_key and consumer_secret else None
        if key is None:
            return None, None
        if not hmac.compare_digest(key.consumer_secret, consumer_secret):
            # Real WooCommerce may lose this header: its OAuth pass runs next and resets the
            # auth method the header depends on. Sent here so a client can be tested on it.
            error = WPError(
                _AUTH_ERROR,
                "Consumer secret is invalid.",
                401,
                headers={"www-authenticate": _BASIC_REALM},
            )
            return None, error
        return key, None

    def _oauth_params(self, query: PhpArray, form: PhpArray, authorization: str) -> PhpArray | None:
        params: PhpArray = {**query, **form}
        header = authorization.strip()
        if header.startswith("OAuth "):
            for name, quoted, bare in _HEADER_PARAM.findall(header):
                params[name] = unquote((quoted or bare).replace("+", " "))
        missing = [name for name in _REQUIRED if not params.get(name)]
        if len(missing) == len(_REQUIRED):
            return None  # not trying OAuth at all
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise WPError(
                "woocommerce_rest_authentication_missing_parameter",
                f"Missing OAuth parameter{plural} {', '.join(missing)}",
                401,
            )
        return params

    def _oauth(self, method: str, url: str, params: PhpArray, now: datetime) -> ApiKey:
        key = self._key(str(params["oauth_consumer_key"]))
        if key is None:
            raise WPError(_AUTH_ERROR, "Consumer key is invalid.", 401)
        given = unquote(str(params["oauth_signature"]).replace(" ", "+"))
        signed = {name: value for name, value in params.items() if name != "oauth_signature"}
        # Pairs, not a dict: oauthlib's stubs say dict, its code (and RFC 5849) take pairs.
        pairs: Any = flatten(signed)
        base_string = oauth_signature.signature_base_string(
            cast("Any", method.upper()),  # stubs want a Literal of method names
            oauth_signature.base_string_uri(url),
            oauth_signature.normalize_parameters(pairs),
        )
        signers: dict[str, Callable[[str, oauth1.Client], str]] = {
            "HMAC-SHA1": oauth_signature.sign_hmac_sha1_with_client,
            "HMAC-SHA256": oauth_signature.sign_hmac_sha256_with_client,
        }
        sign = signers.get(str(params["oauth_signature_method"]))
        if sign is None:
            raise WPError(_AUTH_ERROR, "Invalid signature - signature method is invalid.", 401)
        # Keyed with consumer_secret + "&": one-legged, there is no token secret.
        expected = sign(base_string, oauth1.Client(key.consumer_key, key.consumer_secret))
        if not hmac.compare_digest(expected, given):
            raise WPError(
                _AUTH_ERROR, "Invalid signature - provided signature does not match.", 401
            )
        self._check_timestamp_and_nonce(key, params, now)
        return key

    def _check_timestamp_and_nonce(self, key: ApiKey, params: PhpArray, now: datetime) -> None:
        raw_timestamp = str(params["oauth_timestamp"])
        timestamp = int(raw_timestamp) if raw_timestamp.isdigit() else 0
        if abs(now.timestamp() - timestamp) > _WINDOW.total_seconds():
            raise WPError(_AUTH_ERROR, "Invalid timestamp.", 401)
        used = self._nonces.setdefault(key.consumer_key, {})
        for old, seen in list(used.items()):
            if seen < now - _WINDOW:
                del used[old]
        nonce = str(params["oauth_nonce"])
        if nonce in used:
            raise WPError(_AUTH_ERROR, "Invalid nonce - nonce has already been used.", 401)
        used[nonce] = now
