"""Open and click tracking of flow emails: signed tokens, tracked links, UTM parameters, the
open pixel, and how opens by mail privacy proxies and clicks by link scanners are told apart.

**Tokens.** ``/t/o/{token}`` (open) and ``/t/c/{token}`` (click) carry a version, the id of the
tracking key that signed them, the kind, the delivery's id (a random ULID: nothing about the
recipient) and, for a click, the link's position — and a truncated HMAC-SHA256. The link's
address is not in the token: a click is redirected only to the address stored for that delivery
and position (``email_links``), so the endpoint cannot be used as an open redirect, and an
address that holds personal data (a checkout link with an email in it) never appears in clear.

**Why the key lives in the database.** Tokens sit in sent mail for years, so they must verify
after ``SHOPTRACK_SECRET_KEY`` is rotated away: their key is a random secret of its own in
``tracking_keys``, named by id in every token (a new key can be added; old ones keep verifying).
Keeping it beside the data it protects gives nothing away: whoever reads the table can already
read (and write) the engagement it would let them forge, and a forged token can at most record
an open or a click of an existing delivery, or redirect to an address that delivery's email
already holds. It protects nothing else: the credential key and unsubscribe links stay derived
from ``SHOPTRACK_SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

__all__ = [
    "CLICK_SCANNER_WINDOW",
    "OPEN_PROXY_WINDOW",
    "PIXEL_GIF",
    "TrackedParts",
    "TrackingKey",
    "TrackingToken",
    "click_flag",
    "open_flag",
    "sign_tracking_token",
    "track_links",
    "verify_tracking_token",
    "with_utm",
]

_VERSION = 1
_MAC_BYTES = 16
_PURPOSE = b"shoptrack email tracking v1\x00"
_HEAD = struct.Struct(">BHc16s")  # version, key id, kind, delivery id
_POSITION = struct.Struct(">H")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_VALUE = {character: value for value, character in enumerate(_CROCKFORD)}
MAX_LINKS = 500  # positions fit two bytes; an email with more links is no email

# A transparent 1x1 GIF: what the open pixel answers, whatever the token.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

# An open this soon after the message was handed over is a machine's: Apple Mail Privacy
# Protection and other proxies fetch images as the message arrives, not as it is read.
OPEN_PROXY_WINDOW = timedelta(seconds=10)
# A click this soon after delivery is a link scanner's: no person opens and clicks that fast.
CLICK_SCANNER_WINDOW = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class TrackingKey:
    """A tracking key: its id (in every token it signs) and its secret."""

    id: int
    secret: bytes


@dataclass(frozen=True, slots=True)
class TrackingToken:
    """What a tracking link names: an open of a delivery, or a click on one of its links."""

    kind: Literal["open", "click"]
    delivery_id: str
    position: int | None = None


def _ulid_bytes(delivery_id: str) -> bytes:
    value = 0
    for character in delivery_id.upper():
        value = value * 32 + _CROCKFORD_VALUE[character]
    return value.to_bytes(17, "big")[1:] if value < 1 << 128 else b""


def _ulid_text(raw: bytes) -> str:
    value = int.from_bytes(raw, "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _PURPOSE + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def sign_tracking_token(key: TrackingKey, token: TrackingToken) -> str:
    """The URL-safe token: version, key id, kind, delivery id (and link position), then MAC."""
    delivery = _ulid_bytes(token.delivery_id)
    if len(delivery) != 16:
        raise ValueError(f"{token.delivery_id!r} is not a delivery id")
    kind = b"o" if token.kind == "open" else b"c"
    payload = _HEAD.pack(_VERSION, key.id, kind, delivery)
    if token.kind == "click":
        if token.position is None or not 0 <= token.position < MAX_LINKS:
            raise ValueError("a click token names the position of a link")
        payload += _POSITION.pack(token.position)
    return _b64(payload + _mac(key.secret, payload))


def verify_tracking_token(
    text: str, keys: Callable[[int], bytes | None], kind: Literal["open", "click"]
) -> TrackingToken | None:
    """The token's delivery (and link) if a known key signed it for ``kind``; None for
    anything else — altered, truncated, another kind, an unknown key."""
    if len(text) > 100:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None
    size = _HEAD.size + (_POSITION.size if kind == "click" else 0)
    if len(raw) != size + _MAC_BYTES:
        return None
    payload, mac = raw[:size], raw[size:]
    version, key_id, kind_byte, delivery = _HEAD.unpack_from(payload)
    if version != _VERSION or kind_byte != (b"o" if kind == "open" else b"c"):
        return None
    secret = keys(key_id)
    if secret is None or not hmac.compare_digest(_mac(secret, payload), mac):
        return None
    position = _POSITION.unpack_from(payload, _HEAD.size)[0] if kind == "click" else None
    return TrackingToken(kind, _ulid_text(delivery), position)


# --- links ---------------------------------------------------------------------------------

UTM_SOURCE = "shoptrack"
UTM_MEDIUM = "email"


def with_utm(url: str, campaign: str) -> str:
    """``url`` with ``utm_source=shoptrack``, ``utm_medium=email`` and ``utm_campaign`` added
    to its query (those it has already are left as they are; its own order and encoding kept)."""
    parts = urlsplit(url)
    present = {name for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
    wanted = (("utm_source", UTM_SOURCE), ("utm_medium", UTM_MEDIUM), ("utm_campaign", campaign))
    added = "&".join(
        f"{name}={quote(value, safe='')}" for name, value in wanted if name not in present
    )
    if not added:
        return url
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _trackable(url: str, unsubscribe_url: str) -> bool:
    """Links of the web (http and https) other than the unsubscribe link; mailto:, tel: and
    anchors are left alone."""
    if url == unsubscribe_url or url.startswith(unsubscribe_url.rsplit("/", 1)[0] + "/"):
        return False
    scheme = urlsplit(url).scheme.lower()
    return scheme in ("http", "https") and bool(urlsplit(url).netloc)


class _Anchors(HTMLParser):
    """Where each ``<a href>`` start tag is, and its (unescaped) address."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[tuple[int, int], str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = next((value for name, value in attrs if name == "href"), None)
        raw = self.get_starttag_text()
        if href is not None and raw is not None:
            self.found.append((self.getpos(), raw, href.strip()))


_HREF = re.compile(r"""(?<![\w-])href\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", re.IGNORECASE)
_TEXT_URL = re.compile(r"""https?://[^\s<>"')\]]+""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class TrackedParts:
    """An email's HTML and text with their links replaced, and the addresses the links lead to
    by position."""

    html: str
    text: str
    links: tuple[str, ...]


def track_links(
    html: str,
    text: str,
    *,
    unsubscribe_url: str,
    campaign: str | None,
    click_url: Callable[[int], str] | None,
    open_url: str | None,
) -> TrackedParts:
    """Adds UTM parameters (``campaign``: the flow's name, None for none) to every link of the
    web in both parts but the unsubscribe link; with ``click_url``, points each at its tracked
    link (one position per distinct address); with ``open_url``, adds the open pixel."""
    positions: dict[str, int] = {}

    def target(url: str) -> str:
        final = with_utm(url, campaign) if campaign is not None else url
        if click_url is None:
            return final
        if final not in positions:
            if len(positions) >= MAX_LINKS:
                return final
            positions[final] = len(positions)
        return click_url(positions[final])

    def text_link(match: re.Match[str]) -> str:
        # A sentence's full stop or comma after an address is no part of it.
        url = match.group(0).rstrip(".,;:!?")
        if not _trackable(url, unsubscribe_url):
            return match.group(0)
        return target(url) + match.group(0)[len(url) :]

    html = _replace_anchors(html, unsubscribe_url, target)
    text = _TEXT_URL.sub(text_link, text)
    if open_url is not None:
        pixel = (
            f'<img src="{escape(open_url)}" width="1" height="1" alt="" '
            'style="display:block;border:0;width:1px;height:1px">'
        )
        closing = html.lower().rfind("</body>")
        html = f"{html[:closing]}{pixel}{html[closing:]}" if closing >= 0 else f"{html}\n{pixel}\n"
    return TrackedParts(html, text, tuple(positions))


def _replace_anchors(html: str, unsubscribe_url: str, target: Callable[[str], str]) -> str:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    # The parser counts lines by "\n" alone.
    line_starts = [0, *(match.end() for match in re.finditer("\n", html))]
    pieces: list[str] = []
    done = 0
    for (line, column), raw, href in parser.found:
        start = line_starts[line - 1] + column
        if html[start : start + len(raw)] != raw or not _trackable(href, unsubscribe_url):
            continue
        found = _HREF.search(raw)
        if found is None:
            continue
        replaced = f'{raw[: found.start(1)]}"{escape(target(href))}"{raw[found.end(1) :]}'
        pieces.extend((html[done:start], replaced))
        done = start + len(raw)
    pieces.append(html[done:])
    return "".join(pieces)


# --- machines ------------------------------------------------------------------------------

# Apple's own network: Mail Privacy Protection fetches every image of a message from it, with
# the bare user agent "Mozilla/5.0", as the message reaches the device.
_APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
_PROXY_AGENTS = ("yahoomailproxy",)
# Security gateways and previews that follow every link of a message before anyone reads it.
_SCANNER_AGENTS = (
    "barracuda",
    "bingpreview",
    "bot",
    "crawler",
    "curl/",
    "forcepoint",
    "go-http-client",
    "headlesschrome",
    "mimecast",
    "ms-office",
    "microsoft office",
    "preview",
    "proofpoint",
    "python-",
    "scanner",
    "spider",
    "symantec",
    "urldefense",
    "wget",
)


def _in_apple_network(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address) in _APPLE_NETWORK
    except ValueError:
        return False


def open_flag(
    user_agent: str | None, address: str | None, at: datetime, delivered: datetime | None
) -> str | None:
    """Why an open looks like a mail privacy proxy's prefetch rather than a reader's, or None."""
    agent = (user_agent or "").strip()
    if agent == "Mozilla/5.0" or _in_apple_network(address):
        return "privacy proxy"
    if any(name in agent.lower() for name in _PROXY_AGENTS):
        return "privacy proxy"
    if delivered is not None and at - delivered < OPEN_PROXY_WINDOW:
        return "opened as it was delivered"
    return None


def click_flag(user_agent: str | None, at: datetime, delivered: datetime | None) -> str | None:
    """Why a click looks like a link scanner's rather than a reader's, or None."""
    agent = (user_agent or "").strip().lower()
    if not agent:
        return "no user agent"
    if any(name in agent for name in _SCANNER_AGENTS):
        return "link scanner"
    if delivered is not None and at - delivered < CLICK_SCANNER_WINDOW:
        return "clicked as it was delivered"
    return None
