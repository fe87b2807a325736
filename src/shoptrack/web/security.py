"""Who is signed in, and the checks every form goes through.

- The session cookie holds a random token (see ``shoptrack.users``); it is HttpOnly,
  ``SameSite=Lax``, and ``Secure`` whenever shoptrack is reached over HTTPS.
- Every form carries a CSRF token, checked on every POST: for a signed-in browser it is an HMAC
  of the session token (nothing stored, and it changes with each sign-in); the sign-in form,
  which has no session yet, uses a double-submit cookie. A form or an htmx request may send it
  as the ``csrf_token`` field or the ``X-CSRF-Token`` header.
- Messages shown once after a redirect ("flash") travel in a cookie signed with the session
  token, so no other site and no other session can put words on a page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import Depends, Request
from starlette.responses import Response

from shoptrack.services import Services
from shoptrack.users import SESSION_LIFETIME, User, user_of_session

__all__ = [
    "CSRF_FIELD",
    "SESSION_COOKIE",
    "SIGN_IN_CSRF_COOKIE",
    "CsrfRejectedError",
    "Form",
    "FormDep",
    "SignInRequiredError",
    "Visitor",
    "VisitorDep",
    "add_flash",
    "clear_session_cookie",
    "content_security_policy",
    "keep_sign_in_csrf_token",
    "read_flash",
    "read_form",
    "safe_next",
    "services_of",
    "set_session_cookie",
    "sign_in_csrf_token",
    "tokens_match",
    "visitor_or_none",
]

SESSION_COOKIE = "shoptrack_session"
SIGN_IN_CSRF_COOKIE = "shoptrack_csrf"
FLASH_COOKIE = "shoptrack_flash"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# A form here is a few fields; anything larger is refused before it is parsed.
MAX_FORM_BYTES = 64 * 1024


def content_security_policy(*form_targets: str) -> str:
    """The pages' policy: no inline script or style anywhere, shoptrack's own files only.
    Forms post to shoptrack, and to ``form_targets`` (origins a form's answer redirects to,
    which Chromium checks against ``form-action`` too)."""
    form_action = " ".join(("'self'", *form_targets))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action {form_action}; frame-ancestors 'none'; "
        "base-uri 'none'; object-src 'none'"
    )


class SignInRequiredError(Exception):
    """The page needs a signed-in user; answered with a redirect to the sign-in page."""


class CsrfRejectedError(Exception):
    """A form arrived without the CSRF token of this browser's session."""


class FormTooLargeError(Exception):
    """A form body over ``MAX_FORM_BYTES``, or one that cannot be decoded."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """The signed-in user of a request, with their session's token and CSRF token."""

    user: User
    session_token: str
    csrf_token: str

    @property
    def account_id(self) -> str:
        return self.user.account_id


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _hmac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def tokens_match(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())


def _visitor(request: Request) -> Visitor:
    token = request.cookies.get(SESSION_COOKIE)
    user = user_of_session(services_of(request), token)
    if user is None or token is None:
        raise SignInRequiredError
    return Visitor(user, token, _hmac(token, b"shoptrack csrf"))


VisitorDep = Annotated[Visitor, Depends(_visitor)]


def visitor_or_none(request: Request) -> Visitor | None:
    """The signed-in visitor, or None: for pages any browser may see (errors)."""
    try:
        return _visitor(request)
    except SignInRequiredError:
        return None


class Form:
    """A URL-encoded form's fields (each may repeat: check boxes)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self._fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self._fields.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self._fields.get(name, []))

    def __contains__(self, name: object) -> bool:
        return name in self._fields


async def read_form(request: Request) -> Form:
    """The request's URL-encoded form (the only kind the web UI's forms send)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return Form({})  # no fields: not even a CSRF token, so a POST is refused as forged
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLargeError
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=1000)
    except (UnicodeDecodeError, ValueError) as error:
        raise FormTooLargeError from error
    return Form(fields)


async def _checked_form(request: Request, visitor: VisitorDep) -> Form:
    """The form of a signed-in user's POST, refused without their session's CSRF token."""
    form = await read_form(request)
    given = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not tokens_match(visitor.csrf_token, given):
        raise CsrfRejectedError
    return form


FormDep = Annotated[Form, Depends(_checked_form)]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or services_of(request).settings.public_url.startswith(
        "https://"
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path="/")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


def sign_in_csrf_token(request: Request) -> str:
    """The sign-in form's CSRF token: this browser's double-submit cookie, or a new one that
    ``keep_sign_in_csrf_token`` then sets."""
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE)
    if not token or len(token) > 128:
        token = secrets.token_urlsafe(32)
    return token


def keep_sign_in_csrf_token(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SIGN_IN_CSRF_COOKIE,
        token,
        max_age=3600 * 12,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def safe_next(value: str | None) -> str:
    """A local path to go on to after signing in; anything else (another site) is home."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(character) < 32 for character in value):
        return "/"
    return value


# -- flash messages ---------------------------------------------------------------------------

Flash = list[tuple[str, str]]  # (level: "ok" | "warning" | "error", text)


def add_flash(response: Response, visitor: Visitor, messages: Flash) -> None:
    """Messages for the next page this browser shows (after a redirect)."""
    if not messages:
        return
    payload = base64.urlsafe_b64encode(orjson.dumps(messages)).decode().rstrip("=")
    signature = _hmac(visitor.session_token, b"flash:" + payload.encode())
    response.set_cookie(
        FLASH_COOKIE, f"{payload}.{signature}", max_age=300, path="/", httponly=True, samesite="lax"
    )


def read_flash(request: Request, visitor: Visitor | None) -> Flash:
    """The messages waiting for this page, if their signature is this session's."""
    cookie = request.cookies.get(FLASH_COOKIE)
    if not cookie or visitor is None or "." not in cookie:
        return []
    payload, _, signature = cookie.rpartition(".")
    if not tokens_match(_hmac(visitor.session_token, b"flash:" + payload.encode()), signature):
        return []
    try:
        decoded: Any = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return []
    if not isinstance(decoded, list):
        return []
    return [
        (str(item[0]), str(item[1]))
        for item in decoded
        if isinstance(item, list) and len(item) == 2
    ]
