"""Rendering pages: the Jinja2 environment, its filters, and what every page is given."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse

from shoptrack.clock import relative
from shoptrack.web.period_figures import change
from shoptrack.web.security import FLASH_COOKIE, Visitor, read_flash, services_of
from shoptrack.web.statuses import platform_name

__all__ = ["NAVIGATION", "Pages", "humanize"]

# The layout's links, in order; a link shows once the web UI serves its page.
NAVIGATION = (
    ("Home", "/"),
    ("Integrations", "/integrations"),
    ("Metrics", "/metrics"),
    ("Profiles", "/profiles"),
    ("Flows", "/flows"),
    ("Doctor", "/doctor"),
    ("Alerts", "/alerts"),
    ("Settings", "/settings"),
)

_ACRONYMS = {"url": "URL", "api": "API", "id": "ID"}


def humanize(name: str) -> str:
    """``store_url`` → "Store URL": a field's name as a label."""
    words = [_ACRONYMS.get(word, word) for word in name.split("_")]
    first = words[0] if words[0].isupper() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def _moment(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%d %b %Y, %H:%M UTC")


def _time(value: datetime | None, now: datetime) -> Markup:
    """A ``<time>`` saying how long ago, with the exact time on hover."""
    if value is None:
        return Markup("—")
    return Markup('<time datetime="{iso}" title="{exact}">{ago}</time>').format(
        iso=value.isoformat(), exact=_moment(value), ago=relative(value, now)
    )


def _money(value: Decimal | int | float | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f}"


def _number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def _pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("shoptrack.web", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters |= {
        "moment": _moment,
        "money": _money,
        "number": _number,
        "pretty_json": _pretty_json,
        "humanize": humanize,
        "platform": platform_name,
    }
    environment.globals["change"] = change
    return environment


class Pages:
    """Renders the web UI's templates with what every page needs."""

    def __init__(self, served_paths: Sequence[str]) -> None:
        served = set(served_paths)
        self.navigation = [(label, path) for label, path in NAVIGATION if path in served]

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        visitor: Visitor | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        now = services_of(request).clock.now()
        flash = read_flash(request, visitor)
        html = (
            _environment()
            .get_template(template)
            .render(
                {
                    "request": request,
                    "visitor": visitor,
                    "csrf_token": visitor.csrf_token if visitor else "",
                    "navigation": self.navigation,
                    "path": request.url.path,
                    "flash": flash,
                    "now": now,
                    "when": functools.partial(_time, now=now),
                    **(context or {}),
                }
            )
        )
        response = HTMLResponse(html, status_code=status)
        if flash:
            response.delete_cookie(FLASH_COOKIE, path="/", httponly=True, samesite="lax")
        return response
