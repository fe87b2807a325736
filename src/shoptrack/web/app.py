"""The web UI as one ASGI app: its pages, static files, HTML errors and security headers.

``ShoptrackApp`` hands it the paths it serves (``WebUI.handles``); the API, webhooks, tracker
and ``/openapi.json`` never reach it, so they keep their own access rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from shoptrack.connectors.base import store_clients
from shoptrack.doctor import ClientFactory
from shoptrack.errors import ShoptrackError
from shoptrack.services import Services
from shoptrack.web.rendering import Pages
from shoptrack.web.routes import (
    alerts,
    auth,
    doctor,
    flows,
    home,
    integrations,
    metrics,
    profiles,
    settings,
    shopify,
)
from shoptrack.web.security import (
    CsrfRejectedError,
    FormTooLargeError,
    SignInRequiredError,
    clear_session_cookie,
    content_security_policy,
    visitor_or_none,
)

__all__ = ["WebUI", "create_web"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

STATIC_DIRECTORY = Path(__file__).parent / "static"

_PAGE_HEADERS = [
    (b"content-security-policy", content_security_policy().encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_NO_STORE = (b"cache-control", b"no-store")
_STATIC_CACHE = (b"cache-control", b"public, max-age=3600")


class WebUI:
    """The web UI's ASGI app and the paths it answers."""

    def __init__(self, app: FastAPI, roots: frozenset[str]) -> None:
        self.app = app
        self._roots = roots

    def handles(self, path: str) -> bool:
        """Whether ``path`` is a page (or static file) of the web UI."""
        return path == "/" or "/" + path.split("/", 2)[1] in self._roots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                additions = [*_PAGE_HEADERS, _STATIC_CACHE if static else _NO_STORE]
                headers += [(name, value) for name, value in additions if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_fragment(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def create_web(services: Services, *, doctor_client: ClientFactory | None = None) -> WebUI:
    """Builds the web UI for this process's services; the Doctor page asks stores through
    ``doctor_client`` (tests give one that never waits between retries)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    page_paths: list[str] = []
    for module in (
        auth,
        home,
        shopify,
        integrations,
        metrics,
        profiles,
        flows,
        doctor,
        alerts,
        settings,
    ):
        app.include_router(module.router)
        page_paths += [route.path for route in module.router.routes if isinstance(route, APIRoute)]
    pages = Pages(page_paths)
    app.state.services = services
    app.state.pages = pages
    app.state.doctor_client = doctor_client or store_clients(services.outbound)
    app.mount("/static", StaticFiles(directory=STATIC_DIRECTORY), name="static")

    @app.exception_handler(SignInRequiredError)
    async def _sign_in(request: Request, _error: SignInRequiredError) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/sign-in" if target == "/" else f"/sign-in?next={quote(target, safe='')}"
        if _wants_fragment(request):
            response: Response = Response(status_code=401, headers={"HX-Redirect": location})
        else:
            response = RedirectResponse(location, status_code=303)
        clear_session_cookie(response)
        return response

    @app.exception_handler(CsrfRejectedError)
    async def _csrf(request: Request, _error: CsrfRejectedError) -> Response:
        return pages.render(
            request,
            "error.html",
            {
                "title": "This form has expired",
                "detail": "The form was not sent from this browser's signed-in page, or it is "
                "too old. Go back, reload the page and send it again.",
            },
            status=403,
        )

    @app.exception_handler(FormTooLargeError)
    async def _bad_form(request: Request, _error: FormTooLargeError) -> Response:
        return pages.render(
            request,
            "error.html",
            {"title": "The form could not be read", "detail": "Send it from the page again."},
            status=400,
        )

    async def _error_page(request: Request, title: str, detail: str, status: int) -> Response:
        # Signed in, the error keeps the layout's navigation.
        visitor = await run_in_threadpool(visitor_or_none, request)
        context = {"title": title, "detail": detail}
        return pages.render(request, "error.html", context, visitor=visitor, status=status)

    @app.exception_handler(ShoptrackError)
    async def _shoptrack_error(request: Request, error: ShoptrackError) -> Response:
        title = "Not found" if error.status == 404 else error.title.rstrip(".")
        return await _error_page(request, title, error.detail, error.status)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, error: HTTPException) -> Response:
        titles = {404: "Not found", 405: "Method not allowed"}
        title = titles.get(error.status_code, "Error")
        return await _error_page(request, title, str(error.detail), error.status_code)

    roots = {"/static"} | {"/" + path.split("/", 2)[1] for path in page_paths if path != "/"}
    return WebUI(app, frozenset(roots))
