"""``/api/integrations``: connect, read, change and remove stores; their sync runs and
deliveries; queue a sync; replay deliveries. JSON:API in shoptrack's own types (``integration``,
``sync-run``, ``delivery``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Request, Response
from pydantic import AwareDatetime, Field

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    JSONAPIBody,
    PageSize,
    RequestDocument,
    RequestModel,
    iso,
    jsonapi_response,
    query_parameter,
)
from shoptrack.api.resources import (
    connected_document,
    integration_resource,
    sync_run_resource,
)
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import (
    DeliveryResponseCollection,
    IntegrationResponse,
    IntegrationResponseCollection,
    ReplayQueued,
    SyncRunResponse,
    SyncRunResponseCollection,
)
from shoptrack.errors import ConflictError, InputError, NotFoundError
from shoptrack.integrations import ConnectResult, connect, integration_view, remove
from shoptrack.integrations import update as update_integration
from shoptrack.pipeline.runtime import process_inbox
from shoptrack.services import Services
from shoptrack.store.inbox import InboxState, ReplaySelection, list_deliveries, replay
from shoptrack.store.integrations import get_integration, list_integrations
from shoptrack.store.sync_runs import get_run, list_runs
from shoptrack.store.sync_runs import queue_sync as store_queue_sync

__all__ = ["router"]

router = JSONAPIRouter("Integrations")
_SYNC_RUNS_PAGE = PageSize(50, maximum=200)
_DELIVERIES_PAGE = PageSize(50, maximum=500)


class IntegrationAttributes(RequestModel):
    """What connecting a store (all but ``settings`` required) or changing one (any) takes."""

    platform: str | None = Field(default=None, max_length=32)
    name: str | None = Field(default=None, max_length=200)
    credentials: dict[str, Any] | None = None
    settings: dict[str, Any] | None = None


class IntegrationData(RequestModel):
    type: Literal["integration"]
    attributes: IntegrationAttributes = IntegrationAttributes()


class IntegrationDocument(RequestDocument[IntegrationData]):
    """The body of ``POST /api/integrations`` and ``PATCH /api/integrations/{id}``."""


class ReplayAttributes(RequestModel):
    """Which stored deliveries to process again: ``ids``, or ``states`` received from
    ``since`` to ``until``."""

    # Pydantic fields (RUF012 sees no model in a base from another module): each model made
    # gets a copy of the default.
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = []  # noqa: RUF012
    states: list[InboxState] = [InboxState.DEAD]  # noqa: RUF012
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class ReplayData(RequestModel):
    type: Literal["delivery-replay"]
    attributes: ReplayAttributes = ReplayAttributes()


class ReplayDocument(RequestDocument[ReplayData]):
    """The body of ``POST /api/integrations/{id}/deliveries/replay``."""


def _answer(services: Services, request: Request, result: ConnectResult, status: int) -> Response:
    view = integration_view(services, result.integration.id)
    return jsonapi_response(connected_document(view, result, base_url(request)), status)


@router.operation(
    "POST /api/integrations",
    "create_integration",
    IntegrationResponse,
    more_errors=(422,),
    status_code=201,
)
def create(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[IntegrationDocument],
) -> Response:
    """Connect a store: credentials checked against it, metrics created, webhooks registered."""
    attributes = body.data.attributes
    for name in ("platform", "name", "credentials"):
        if not getattr(attributes, name):
            raise InputError(f"{name} is required", pointer=f"/data/attributes/{name}")
    result = connect(
        services,
        account_id=account.id,
        platform=str(attributes.platform),
        name=str(attributes.name),
        credentials=attributes.credentials or {},
        settings=attributes.settings or {},
    )
    return _answer(services, request, result, 201)


@router.operation("GET /api/integrations", "get_integrations", IntegrationResponseCollection)
def list_all(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's integrations (removed ones left out)."""
    with services.database.read() as connection:
        found = list_integrations(connection, account.id)
    base = base_url(request)
    return jsonapi_response(
        {
            "data": [integration_resource(integration_view(services, i.id), base) for i in found],
            "links": {"self": str(request.url)},
        }
    )


def _own(services: Services, account_id: str, integration_id: str) -> None:
    with services.database.read() as connection:
        get_integration(connection, account_id, integration_id)


@router.operation("GET /api/integrations/{integration_id}", "get_integration", IntegrationResponse)
def get_one(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    _own(services, account.id, integration_id)
    view = integration_view(services, integration_id)
    return jsonapi_response({"data": integration_resource(view, base_url(request))})


@router.operation(
    "PATCH /api/integrations/{integration_id}",
    "update_integration",
    IntegrationResponse,
    more_errors=(422,),
)
def patch(
    integration_id: str,
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[IntegrationDocument],
) -> Response:
    """Change the name, and merge credentials and settings key by key."""
    attributes = body.data.attributes
    result = update_integration(
        services,
        account_id=account.id,
        integration_id=integration_id,
        name=attributes.name,
        credentials=attributes.credentials,
        settings=attributes.settings,
    )
    return _answer(services, request, result, 200)


@router.operation(
    "DELETE /api/integrations/{integration_id}", "delete_integration", status_code=204
)
def delete(integration_id: str, account: AccountDep, services: ServicesDep) -> Response:
    """Remove: the integration stops; its events and metrics stay."""
    remove(services, account_id=account.id, integration_id=integration_id)
    return Response(status_code=204)


@router.operation(
    "GET /api/integrations/{integration_id}/sync-runs",
    "get_sync_runs",
    SyncRunResponseCollection,
    parameters=(_SYNC_RUNS_PAGE.parameter,),
)
def sync_runs(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    _own(services, account.id, integration_id)
    with services.database.read() as connection:
        rows = list_runs(connection, account.id, integration_id, _SYNC_RUNS_PAGE.read(request))
    base = base_url(request)
    return jsonapi_response(
        {"data": [sync_run_resource(r, base) for r in rows], "links": {"self": str(request.url)}}
    )


@router.operation(
    "GET /api/integrations/{integration_id}/sync-runs/{run_id}", "get_sync_run", SyncRunResponse
)
def sync_run(
    integration_id: str, run_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    with services.database.read() as connection:
        row = get_run(connection, account.id, run_id)
    if row is None or row.integration_id != integration_id:
        raise NotFoundError(f"no sync run {run_id}", parameter="run_id")
    return jsonapi_response({"data": sync_run_resource(row, base_url(request))})


class IntegrationDisabledError(ConflictError):
    """A sync was asked of a disabled integration: nothing would run it."""

    code = "integration_disabled"
    title = "The integration is disabled."


@router.operation(
    "POST /api/integrations/{integration_id}/sync",
    "queue_sync",
    more_errors=(409,),
    status_code=202,
)
def queue_sync(integration_id: str, account: AccountDep, services: ServicesDep) -> Response:
    """Queue a sync now: the next worker round runs it (409 while the integration is
    disabled)."""
    _own(services, account.id, integration_id)
    with services.database.write() as connection:
        queued = store_queue_sync(connection, account.id, integration_id, services.clock.now())
    if not queued:
        raise IntegrationDisabledError(
            "the integration is disabled: enable it (PATCH its settings.enabled) to sync it",
            parameter="integration_id",
        )
    return Response(status_code=202)


@router.operation(
    "GET /api/integrations/{integration_id}/deliveries",
    "get_deliveries",
    DeliveryResponseCollection,
    parameters=(
        query_parameter(
            "state",
            "only deliveries in this state",
            {"type": "string", "enum": [state.value for state in InboxState]},
        ),
        _DELIVERIES_PAGE.parameter,
    ),
)
def deliveries(
    integration_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """What the store sent: accepted (pending or processed), rejected or ignored, and why."""
    _own(services, account.id, integration_id)
    state = request.query_params.get("state")
    if state is not None and state not in {s.value for s in InboxState}:
        raise InputError(
            f"state must be one of {', '.join(s.value for s in InboxState)}", parameter="state"
        )
    with services.database.read() as connection:
        rows = list_deliveries(
            connection,
            account.id,
            integration_id,
            state=None if state is None else InboxState(state),
            limit=_DELIVERIES_PAGE.read(request),
        )
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


def _moment(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InputError(
            f"{name} has no UTC time (year 1 east of UTC, or 9999 west of it)",
            pointer=f"/data/attributes/{name}",
        ) from None


@router.operation(
    "POST /api/integrations/{integration_id}/deliveries/replay",
    "replay_deliveries",
    ReplayQueued,
    status_code=202,
)
def replay_deliveries(
    integration_id: str,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[ReplayDocument],
) -> Response:
    """Process stored deliveries again, as backfill: ``ids``, or ``states`` (dead by default)
    received from ``since`` to ``until``."""
    _own(services, account.id, integration_id)
    attributes = body.data.attributes
    if InboxState.REJECTED in attributes.states or InboxState.PENDING in attributes.states:
        raise InputError(
            "rejected and pending deliveries are not replayed", pointer="/data/attributes/states"
        )
    selection = ReplaySelection(
        account_id=account.id,
        integration_id=integration_id,
        ids=attributes.ids,
        states=attributes.states,
        since=_moment(attributes.since, "since"),
        until=_moment(attributes.until, "until"),
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
