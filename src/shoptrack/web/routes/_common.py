"""What the page modules share: the renderer, redirects, and form errors by field."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, cast
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import RedirectResponse, Response

from shoptrack.errors import ShoptrackError
from shoptrack.web.rendering import Pages, humanize
from shoptrack.web.security import Visitor, add_flash

__all__ = ["FieldErrors", "field_errors", "moved", "moving_old_links", "pages", "redirect"]


def pages(request: Request) -> Pages:
    found: Pages = request.app.state.pages
    return found


def redirect(
    url: str, visitor: Visitor | None = None, flash: list[tuple[str, str]] | None = None
) -> Response:
    """A 303 to ``url`` (the browser follows it with a GET), with messages for that page."""
    response = RedirectResponse(url, status_code=303)
    if visitor is not None and flash:
        add_flash(response, visitor, flash)
    return response


def moved(request: Request, dropped: str, added: list[tuple[str, str]]) -> Response:
    """A permanent redirect from an old form of this page's URL: the same path and parameters
    without ``dropped``, ``added`` first."""
    params = request.query_params.multi_items()
    kept = added + [(name, value) for name, value in params if name != dropped]
    query = urlencode(kept)
    return RedirectResponse(f"{request.url.path}{'?' if query else ''}{query}", status_code=301)


P = ParamSpec("P")


def moving_old_links(
    old_link: Callable[[Request], Response | None],
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """Keeps a page's old links working: a request ``old_link`` answers (with ``moved``) gets
    that redirect, once the page's dependencies (sign-in) have passed; others get the page."""

    def decorate(page: Callable[P, Response]) -> Callable[P, Response]:
        @functools.wraps(page)  # FastAPI reads the page's parameters through the wrapper
        def answer(*args: P.args, **kwargs: P.kwargs) -> Response:
            request = cast("Request", kwargs["request"])  # FastAPI passes parameters by name
            return old_link(request) or page(*args, **kwargs)

        return answer

    return decorate


FieldErrors = dict[str, str]


def field_errors(error: ShoptrackError, known: set[str] | None = None) -> FieldErrors:
    """The error as ``{field: message}`` for a form: the field is the last part of its JSON
    pointer or its parameter (``/data/attributes/credentials/consumer_key`` → consumer_key);
    ``""`` holds an error no field of the form explains."""
    name = ""
    if error.pointer:
        name = error.pointer.rstrip("/").rsplit("/", 1)[-1]
    elif error.parameter:
        name = error.parameter
    detail = error.detail
    # Messages from the API name fields as they are written there ("credentials.x: …").
    prefix, _, rest = detail.partition(": ")
    if rest and prefix.rsplit(".", 1)[-1] == name:
        detail = f"{humanize(name)}: {rest}"
    if known is not None and name not in known:
        return {"": detail}
    return {name: detail}


def as_text(value: Any) -> str:
    return "" if value is None else str(value)
