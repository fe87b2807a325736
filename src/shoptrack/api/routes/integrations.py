"""``/api/integrations``: connect, read, change and remove stores; their sync runs and
deliveries; queue a sync; replay deliveries. JSON:API in shoptrack's own types (``integration``,
``sync-run``, ``delivery``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from sqlalchemy import select, update

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import add_route, iso, jsonapi_response, page_size
from shoptrack.errors import InputError, NotFoundError
from shoptrack.integrations import ConnectResult, connect, remove, webhook_url
from shoptrack.integrations import update as update_integration
from shoptrack.pipeline.runtime import process_inbox
from shoptrack.services import Services
from shoptrack.store.inbox import InboxState, ReplaySelection, replay
from shoptrack.store.integrations import get_integration, integration_row, list_integrations
from shoptrack.store.schema import inbox, integrations
from shoptrack.store.sync_runs import get_run, list_runs

__all__ = ["integration_document", "router", "sync_run_resource"]

router = APIRouter(tags=["Integrations"])


def integration_document(services: Services, integration_id: str, base: str) -> dict[str, Any]:
    """The ``integration`` resource: never its credentials, only which fields are set."""
    with services.database.read() as connection:
        row = integration_row(connection, integration_id)
        last = list_runs(connection, row.account_id, row.id, limit=1)
        integration = get_integration(connection, row.account_id, row.id)
    credentials = integration.credentials(services.cipher)
    return {
        "type": "integration",
        "id": row.id,
        "attributes": {
            "platform": row.platform,
            "name": row.name,
            "enabled": row.enabled,
            "health": row.health,
            "health_detail": row.health_detail,
            "settings": {**integration.rules.to_settings(), **row.settings},
            "credential_fields": sorted(k for k, v in credentials.items() if v),
            "webhook_url": webhook_url(services, integration),
            "created": iso(row.created_at),
            "updated": iso(row.updated_at),
            "removed": iso(row.removed_at),
            "next_sync_at": iso(row.next_sync_at),
            "sync_cursor": row.sync_cursor,
            "last_sync": sync_run_resource(last[0], base)["attributes"] if last else None,
        },
        "links": {"self": f"{base}/api/integrations/{row.id}/"},
    }


def sync_run_resource(row: Any, base: str) -> dict[str, Any]:
    return {
        "type": "sync-run",
        "id": row.id,
        "attributes": {
            "integration_id": row.integration_id,
            "state": row.state,
            "backfill": row.backfill,
            "window_since": iso(row.window_since),
            "window_until": iso(row.window_until),
            "started": iso(row.started_at),
            "finished": iso(row.finished_at),
            "pages": row.pages,
            "orders_seen": row.orders_seen,
            "rows_written": row.rows_written,
            "events_recorded": row.events_recorded,
            # Fetched, not processed yet: its events are recorded once this is 0.
            "pending_rows": row.pending_rows,
            "error": None
            if row.error_code is None
            else {
                "code": row.error_code,
                "kind": row.error_kind,
                "detail": row.error_detail,
                "store_answer": row.error_answer,
            },
        },
        "links": {"self": f"{base}/api/integrations/{row.integration_id}/sync-runs/{row.id}/"},
    }


async def _body(request: Request, resource_type: str) -> dict[str, Any]:
    try:
        document = orjson.loads(await request.body())
    except orjson.JSONDecodeError as error:
        raise InputError(f"the body is not JSON: {error}", pointer="/") from error
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or data.get("type") != resource_type:
        raise InputError(
            f'the body must be {{"data": {{"type": "{resource_type}", …}}}}', pointer="/data/type"
        )
    attributes = data.get("attributes", {})
    if not isinstance(attributes, dict):
        raise InputError("attributes must be an object", pointer="/data/attributes")
    for name in ("credentials", "settings"):
        if name in attributes and not isinstance(attributes[name], dict):
            raise InputError(f"{name} must be an object", pointer=f"/data/attributes/{name}")
    return attributes


def _answer(services: Services, request: Request, result: ConnectResult, status: int) -> Response:
    document = integration_document(services, result.integration.id, base_url(request))
    meta: dict[str, Any] = {}
    if result.trimmed_fields:
        meta["trimmed_fields"] = result.trimmed_fields
    if result.warnings:
        meta["warnings"] = result.warnings
    body: dict[str, Any] = {"data": document}
    if meta:
        body["meta"] = meta
    return jsonapi_response(body, status)


async def create(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """Connect a store: credentials checked against it, metrics created, webhooks registered."""
    attributes = await _body(request, "integration")
    for name in ("platform", "name", "credentials"):
        if not attributes.get(name):
            raise InputError(f"{name} is required", pointer=f"/data/attributes/{name}")
    result = connect(
        services,
        account_id=account.id,
        platform=str(attributes["platform"]),
        name=str(attributes["name"]),
        credentials=attributes["credentials"],
        settings=attributes.get("settings") or {},
    )
    return _answer(services, request, result, 201)


def list_all(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's integrations (removed ones left out)."""
    with services.database.read() as connection:
        found = list_integrations(connection, account.id)
    base = base_url(request)
    return jsonapi_response(
        {
            "data": [integration_document(services, i.id, base) for i in found],
            "links": {"self": str(request.url)},
        }
    )


def _own(services: Services, account_id: str, integration_id: str) -> None:
    with services.database.read() as connection:
        get_integration(connection, account_id, integration_id)


def get_one(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    _own(services, account.id, integration_id)
    return jsonapi_response(
        {"data": integration_document(services, integration_id, base_url(request))}
    )


async def patch(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """Change the name, and merge credentials and settings key by key."""
    attributes = await _body(request, "integration")
    result = update_integration(
        services,
        account_id=account.id,
        integration_id=integration_id,
        name=attributes.get("name"),
        credentials=attributes.get("credentials"),
        settings=attributes.get("settings"),
    )
    return _answer(services, request, result, 200)


def delete(integration_id: str, account: AccountDep, services: ServicesDep) -> Response:
    """Remove: the integration stops; its events and metrics stay."""
    remove(services, account_id=account.id, integration_id=integration_id)
    return Response(status_code=204)


def sync_runs(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    _own(services, account.id, integration_id)
    with services.database.read() as connection:
        rows = list_runs(connection, account.id, integration_id, page_size(request, 50, 200))
    base = base_url(request)
    return jsonapi_response(
        {"data": [sync_run_resource(r, base) for r in rows], "links": {"self": str(request.url)}}
    )


def sync_run(
    integration_id: str, run_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    with services.database.read() as connection:
        row = get_run(connection, account.id, run_id)
    if row is None or row.integration_id != integration_id:
        raise NotFoundError(f"no sync run {run_id}", parameter="run_id")
    return jsonapi_response({"data": sync_run_resource(row, base_url(request))})


def queue_sync(integration_id: str, account: AccountDep, services: ServicesDep) -> Response:
    """Queue a sync now: the next worker round runs it."""
    _own(services, account.id, integration_id)
    with services.database.write() as connection:
        connection.execute(
            update(integrations)
            .where(integrations.c.id == integration_id)
            .values(next_sync_at=services.clock.now())
        )
    return Response(status_code=202)


def deliveries(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """What the store sent: accepted (pending or processed), rejected or ignored, and why."""
    _own(services, account.id, integration_id)
    state = request.query_params.get("state")
    query = select(inbox).where(
        inbox.c.account_id == account.id, inbox.c.integration_id == integration_id
    )
    if state is not None:
        if state not in {s.value for s in InboxState}:
            raise InputError(
                f"state must be one of {', '.join(s.value for s in InboxState)}", parameter="state"
            )
        query = query.where(inbox.c.state == state)
    with services.database.read() as connection:
        rows = connection.execute(
            query.order_by(inbox.c.id.desc()).limit(page_size(request, 50, 500))
        ).all()
    return jsonapi_response(
        {
            "data": [
                {
                    "type": "delivery",
                    "id": str(row.id),
                    "attributes": {
                        "source": row.source,
                        "topic": row.topic,
                        "state": row.state,
                        "reason": row.reason,
                        "received": iso(row.received_at),
                        "processed": iso(row.processed_at),
                        "attempts": row.attempts,
                        "last_error": row.last_error,
                        "nul_characters_removed": row.nul_characters_removed,
                    },
                }
                for row in rows
            ],
            "links": {"self": str(request.url)},
        }
    )


def _moment(attributes: dict[str, Any], name: str) -> datetime | None:
    value = attributes.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as error:
        raise InputError(
            f"{name} must be an ISO 8601 time", pointer=f"/data/attributes/{name}"
        ) from error
    if moment.tzinfo is None:
        raise InputError(
            f"{name} needs its time zone, e.g. a trailing Z", pointer=f"/data/attributes/{name}"
        )
    return moment


async def replay_deliveries(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """Process stored deliveries again, as backfill: ``ids``, or ``states`` (dead by default)
    received from ``since`` to ``until``."""
    _own(services, account.id, integration_id)
    attributes = await _body(request, "delivery-replay")
    try:
        states = [InboxState(s) for s in attributes.get("states", ["dead"])]
    except ValueError as error:
        raise InputError(str(error), pointer="/data/attributes/states") from error
    if InboxState.REJECTED in states or InboxState.PENDING in states:
        raise InputError(
            "rejected and pending deliveries are not replayed", pointer="/data/attributes/states"
        )
    try:
        ids = [int(i) for i in attributes.get("ids", [])]
    except (TypeError, ValueError) as error:
        raise InputError("ids must be delivery ids", pointer="/data/attributes/ids") from error
    selection = ReplaySelection(
        account_id=account.id,
        integration_id=integration_id,
        ids=ids,
        states=states,
        since=_moment(attributes, "since"),
        until=_moment(attributes, "until"),
    )
    with services.database.write() as connection:
        queued = replay(connection, selection, services.clock.now())
    # Replayed rows are backfill and start no flow; live rows pending beside them still do.
    result = process_inbox(services)
    return jsonapi_response(
        {
            "meta": {
                "queued": queued,
                "processed": result.processed,
                "events_recorded": result.events_recorded,
            }
        },
        202,
    )


add_route(router, "/api/integrations", create, ["POST"], operation_id="create_integration")
add_route(router, "/api/integrations", list_all, ["GET"], operation_id="get_integrations")
add_route(
    router, "/api/integrations/{integration_id}", get_one, ["GET"], operation_id="get_integration"
)
add_route(
    router,
    "/api/integrations/{integration_id}",
    patch,
    ["PATCH"],
    operation_id="update_integration",
)
add_route(
    router,
    "/api/integrations/{integration_id}",
    delete,
    ["DELETE"],
    operation_id="delete_integration",
)
add_route(
    router,
    "/api/integrations/{integration_id}/sync-runs",
    sync_runs,
    ["GET"],
    operation_id="get_sync_runs",
)
add_route(
    router,
    "/api/integrations/{integration_id}/sync-runs/{run_id}",
    sync_run,
    ["GET"],
    operation_id="get_sync_run",
)
add_route(
    router,
    "/api/integrations/{integration_id}/sync",
    queue_sync,
    ["POST"],
    operation_id="queue_sync",
)
add_route(
    router,
    "/api/integrations/{integration_id}/deliveries",
    deliveries,
    ["GET"],
    operation_id="get_deliveries",
)
add_route(
    router,
    "/api/integrations/{integration_id}/deliveries/replay",
    replay_deliveries,
    ["POST"],
    operation_id="replay_deliveries",
)
