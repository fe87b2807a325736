"""The onsite tracker: the JavaScript a store's pages include to send Viewed Product, Added to
Cart and Started Checkout to ``/client/events``, and the handler that serves it.

``GET /static/shoptrack.js`` is public (no key, no session), readable from any origin, and
carries this server's version, which the tracker reports in the ``$tracker_version`` property of
every event (the doctor's ``plugin_outdated`` compares the two). With ``?v=`` equal to that
version it may be cached for a year; without, for an hour.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib.resources import files
from urllib.parse import parse_qs

import shoptrack
from shoptrack.api.asgi import Receive, Scope, Send, header_map, respond

__all__ = ["TRACKER_PATH", "TrackerScript", "tracker_source"]

TRACKER_PATH = "/static/shoptrack.js"
# The placeholder in shoptrack.js that serving replaces with the server's version.
VERSION_MARKER = "__SHOPTRACK_VERSION__"

_CONTENT_TYPE = "text/javascript; charset=utf-8"
_CACHE_VERSIONED = b"public, max-age=31536000, immutable"
_CACHE_UNVERSIONED = b"public, max-age=3600"
_COMMON_HEADERS = [
    # Stores include it from their own origins (and may isolate theirs: CORP, COEP).
    (b"access-control-allow-origin", b"*"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"x-content-type-options", b"nosniff"),
]


@cache
def tracker_source(version: str = shoptrack.__version__) -> bytes:
    """The tracker as served: ``shoptrack.js`` with ``version`` in place of its placeholder."""
    template = files("shoptrack.tracker").joinpath("shoptrack.js").read_text(encoding="utf-8")
    if template.count(VERSION_MARKER) != 1:
        raise RuntimeError(f"shoptrack.js must hold {VERSION_MARKER} exactly once")
    return template.replace(VERSION_MARKER, version).encode()


class TrackerScript:
    """The ASGI handler of ``TRACKER_PATH``: GET and HEAD, with an ETag."""

    def __init__(self, version: str = shoptrack.__version__) -> None:
        self._version = version
        self._body = tracker_source(version)
        self._etag = f'"{hashlib.sha256(self._body).hexdigest()[:20]}"'.encode()

    async def __call__(self, scope: Scope, _receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await respond(
                send,
                405,
                b"the tracker is fetched with GET",
                "text/plain; charset=utf-8",
                [*_COMMON_HEADERS, (b"allow", b"GET, HEAD")],
            )
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        versioned = (query.get("v") or [None])[0] == self._version
        headers = [
            *_COMMON_HEADERS,
            (b"cache-control", _CACHE_VERSIONED if versioned else _CACHE_UNVERSIONED),
            (b"etag", self._etag),
        ]
        matches = _etags(header_map(scope).get("if-none-match", ""))
        if self._etag in matches or b"*" in matches:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = self._body if scope["method"] == "GET" else b""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", _CONTENT_TYPE.encode()),
                    (b"content-length", str(len(self._body)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _etags(header: str) -> set[bytes]:
    """The entity tags of an ``If-None-Match`` header (weak ones compare equal, as RFC 9110
    has it for GET)."""
    tags = (part.strip().removeprefix("W/") for part in header.split(","))
    return {tag.encode() for tag in tags if tag}
