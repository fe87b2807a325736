"""The application factory: intake routes, the FastAPI app, and the process's background work."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

import shoptrack
from shoptrack.api.asgi import Answer, lean, send_answer
from shoptrack.api.auth import KeyCache
from shoptrack.api.errors import JSONAPI_CONTENT_TYPE, error_body
from shoptrack.api.events_intake import EventIntake
from shoptrack.api.intake import WebhookIntake
from shoptrack.api.openapi import install_openapi
from shoptrack.api.routes import (
    account_settings,
    alerts,
    diagnostics,
    events,
    flow_reports,
    flows,
    integrations,
    metrics,
    privacy,
    profiles,
    shopify_app,
    suppressions,
    tracking,
    unsubscribe,
)
from shoptrack.api.schemas import Health
from shoptrack.api.segment_intake import SegmentIntake
from shoptrack.errors import InputError, NotFoundError, ShoptrackError, UnavailableError
from shoptrack.pipeline.runtime import WorkerProcesses, build_workers
from shoptrack.pipeline.spool import Spool, spool_directory
from shoptrack.pipeline.writer import RETRY_AFTER_SECONDS, GroupCommitWriter
from shoptrack.services import Services
from shoptrack.store.database import database_unavailable
from shoptrack.tracker import TRACKER_PATH, TrackerScript
from shoptrack.web import WebUI, create_web

__all__ = ["BackgroundWork", "Runtime", "ShoptrackApp", "create_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BackgroundWork(Protocol):
    """The workers a serving process runs: threads of its own, or a worker process."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def wake(self) -> None: ...

    def failing(self) -> str | None: ...


@dataclass(slots=True)
class Runtime:
    """The long-lived parts of a serving process."""

    services: Services
    writer: GroupCommitWriter
    workers: BackgroundWork | None

    def start(self) -> None:
        self.writer.start()
        if self.workers is not None:
            self.workers.start()

    def stop(self) -> None:
        """Stops accepting, writes what was handed over, then stops the workers."""
        self.writer.stop()
        if self.workers is not None:
            self.workers.stop()


Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
# C0 controls and DEL, NUL aside (refused as input, with 400, before this is asked).
_CONTROL_CHARACTERS = re.compile(r"[\x01-\x1f\x7f]")


def _unavailable(error: BaseException) -> UnavailableError:
    original = getattr(error, "orig", None) or error
    return UnavailableError(
        f"the database is unavailable ({' '.join(str(original).split())[:300]}): try again later",
        retry_after=RETRY_AFTER_SECONDS,
    )


async def _answering_outages(handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    """Runs an intake handler; a database that cannot be reached while it reads (a key, an
    integration) is a 503 ``unavailable`` with ``Retry-After``, never a 500 in plain text."""
    started = False

    async def tracking(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await handler(scope, receive, tracking)
    except Exception as error:
        if started or not database_unavailable(error):
            raise
        await send_answer(send, Answer.error(_unavailable(error)))


class ShoptrackApp:
    """Routes the intake paths to their lean handlers and everything else to FastAPI."""

    def __init__(
        self,
        api: FastAPI,
        webhooks: WebhookIntake,
        events: EventIntake,
        segment: SegmentIntake,
        runtime: Runtime,
        *,
        web: WebUI | None = None,
    ) -> None:
        self.api = api
        self.runtime = runtime
        self.web = web
        self.webhooks = webhooks
        self._webhooks = lean(webhooks.deliver)
        self._fast: dict[tuple[str, str | None], Handler] = {}
        for path in ("/api/events", "/api/events/"):
            self._fast[(path, "POST")] = lean(events.api_events)
        for path in ("/client/events", "/client/events/"):
            self._fast[(path, None)] = lean(events.client_events)
        for path in ("/v1/batch", "/v1/batch/"):
            self._fast[(path, "POST")] = lean(segment.batch)
        # The onsite tracker: public, for any origin; the web UI's /static never sees it.
        self._fast[(TRACKER_PATH, None)] = TrackerScript()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if "\x00" in path or b"%00" in scope.get("query_string", b""):
                # No id, filter or key holds NUL, and PostgreSQL refuses to compare text with it.
                error = InputError("the URL may not contain the NUL character (%00)")
                await send_answer(send, Answer.error(error))
                return
            if _CONTROL_CHARACTERS.search(path):
                # No path of shoptrack holds one, nor does any id; the router's ``$`` would
                # otherwise match before a trailing newline, and /api/events/%0A list events.
                missing = NotFoundError("no resource here: ids hold no control characters")
                await send_answer(send, Answer.error(missing))
                return
            if path.startswith("/webhooks/"):
                await _answering_outages(self._webhooks, scope, receive, send)
                return
            handler = self._fast.get((path, scope["method"])) or self._fast.get((path, None))
            if handler is not None:
                await _answering_outages(handler, scope, receive, send)
                return
            if self.web is not None and self.web.handles(path):
                await self.web(scope, receive, send)
                return
        await self.api(scope, receive, send)


# Starlette's own errors (unknown path, wrong method) in shoptrack's codes.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


class _StarletteError(ShoptrackError):
    """A refusal of Starlette's own (an unknown path, a method the path does not take), with
    its status and its words as the title, in shoptrack's codes."""

    def __init__(self, error: HTTPException) -> None:
        detail = str(error.detail)
        super().__init__(detail, code=_HTTP_CODES.get(error.status_code, "invalid"))
        # Each refusal carries Starlette's status and words, not one class's.
        self.status = error.status_code  # type: ignore[misc]
        self.title = detail  # type: ignore[misc]


def _jsonapi(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type=JSONAPI_CONTENT_TYPE)


async def _database_error(_request: Request, error: SQLAlchemyError) -> Response:
    """A database that cannot be reached is 503 ``unavailable`` on every route."""
    if not database_unavailable(error):
        raise error  # a fault of shoptrack's own: the server error it is
    refusal = _unavailable(error)
    return Response(
        error_body(refusal),
        status_code=refusal.status,
        media_type=JSONAPI_CONTENT_TYPE,
        headers={"Retry-After": str(refusal.retry_after)},
    )


def _invalid_input(error: RequestValidationError) -> InputError:
    """The first of a request's validation errors as a 400 ``invalid``: a body's field named by
    its JSON pointer, a query, path or header parameter by its name."""
    first = error.errors()[0]
    where, *path = first.get("loc", ("body",))
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if where != "body":
        name = str(path[0]) if path else str(where)
        return InputError(f"{name}: {message}", parameter=name)
    pointer = "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in path)
    return InputError(f"{pointer}: {message}", pointer=pointer)


def _health(
    services: Services, writer: GroupCommitWriter, workers: BackgroundWork | None
) -> Callable[[], Awaitable[Response]]:
    """``GET /health``."""

    async def health() -> Response:
        """Whether this process takes deliveries into its database now: 503 ``degraded``, with
        the reason, while the database takes no writes or spooled deliveries wait for it; and,
        as ``processing``, why its workers do not process them, while they do not.

        What the writer found on its last write (it is asked to try one every few seconds, and
        never waited for: a health check answers fast, whatever the database does)."""
        writer.request_probe()
        state = writer.state()
        reason = state.degraded
        if reason is None:
            try:
                await run_in_threadpool(services.database.ping)
            except Exception as error:
                if not database_unavailable(error):
                    raise
                reason = f"the database cannot be read: {_unavailable(error).detail}"
        document: dict[str, Any] = {
            "status": "ok" if reason is None else "degraded",
            "version": shoptrack.__version__,
        }
        if reason is not None:
            document["reason"] = reason
        failing = workers.failing() if workers is not None else None
        if failing is not None:
            document["processing"] = failing
        if state.spool is not None:
            document["spool"] = {
                "deliveries": state.spool.entries,
                "bytes": state.spool.bytes,
                "max_bytes": state.spool.max_bytes,
            }
        return Response(
            orjson.dumps(document),
            status_code=200 if reason is None else 503,
            media_type="application/json",
        )

    return health


def create_app(
    services: Services, *, run_workers: bool = True, worker_process: bool = False
) -> ShoptrackApp:
    """Builds the ASGI app; its lifespan starts the intake writer and, unless told not to, the
    workers (an API-only process leaves processing to ``shoptrack worker`` processes).

    ``worker_process`` runs the workers in child processes, as ``serve`` does; otherwise they
    are threads of this process, sharing its services (and its clock: what tests use)."""
    workers: BackgroundWork | None = None
    if run_workers:
        workers = WorkerProcesses(services.settings) if worker_process else build_workers(services)
    settings = services.settings
    writer = GroupCommitWriter(
        services.database,
        services.clock,
        spool=Spool(spool_directory(settings.data_dir), int(settings.spool_size))
        if settings.spool_size
        else None,
        on_commit=workers.wake if workers else None,
    )
    runtime = Runtime(services, writer, workers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    api = FastAPI(
        title="shoptrack",
        version=shoptrack.__version__,
        description="E-commerce event tracking with a Klaviyo-compatible API.",
        lifespan=lifespan,
        redirect_slashes=False,
    )

    @api.exception_handler(ShoptrackError)
    async def _shoptrack_error(_request: Request, error: ShoptrackError) -> Response:
        return _jsonapi(error.status, error_body(error))

    api.add_exception_handler(SQLAlchemyError, _database_error)  # type: ignore[arg-type]  # Starlette types handlers loosely

    @api.exception_handler(HTTPException)
    async def _http_error(_request: Request, error: HTTPException) -> Response:
        return _jsonapi(error.status_code, error_body(_StarletteError(error)))

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, error: RequestValidationError) -> Response:
        return _jsonapi(400, error_body(_invalid_input(error)))

    install_openapi(api)
    keys = KeyCache(services)
    api.state.services = services
    api.state.keys = keys
    api.include_router(events.router)
    api.include_router(integrations.router)
    api.include_router(metrics.router)
    api.include_router(profiles.router)
    api.include_router(privacy.router)
    api.include_router(diagnostics.router)
    api.include_router(account_settings.router)
    api.include_router(shopify_app.router)
    api.include_router(alerts.router)
    api.include_router(flows.router)
    api.include_router(suppressions.router)
    api.include_router(unsubscribe.router)
    api.include_router(tracking.router)
    api.include_router(flow_reports.router)

    health = _health(services, writer, workers)
    for path in ("/health", "/health/"):
        api.add_api_route(
            path,
            health,
            methods=["GET"],
            include_in_schema=path == "/health",
            operation_id="get_health",
            response_model=Health,
            responses={503: {"model": Health, "description": "degraded: the reason says why"}},
        )

    return ShoptrackApp(
        api,
        WebhookIntake(services, writer),
        EventIntake(services, writer, keys),
        SegmentIntake(services, writer, keys),
        runtime,
        web=create_web(services),
    )
