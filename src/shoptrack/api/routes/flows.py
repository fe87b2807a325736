"""Flows over HTTP: ``GET /api/flows`` and ``/api/flows/{id}`` in Klaviyo's ``flow`` shape;
creation from the library (``POST /api/flows``, extension attribute ``template``), status
changes, message edits, statistics, retargeting after a platform switch, and a profile's flow
activity (the suppression list is ``suppressions``, the public unsubscribe page
``unsubscribe``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import (
    FILTER_PARAMETER,
    PAGE_CURSOR_PARAMETER,
    JSONAPIBody,
    Page,
    PageSize,
    RequestDocument,
    RequestModel,
    fields_parameter,
    id_cursor,
    iso,
    jsonapi_response,
    parse_fields,
    parse_filter,
    query_parameter,
)
from shoptrack.api.resources import (
    FLOW_FIELDS,
    created_flow_document,
    diagnostics_url,
    flow_resource,
    message_resource,
    retarget_resource,
    statistics_resource,
)
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import (
    FlowActivityResponseCollection,
    FlowCreated,
    FlowMessageResponse,
    FlowMessageResponseCollection,
    FlowResponse,
    FlowResponseCollection,
    FlowRetargetResponse,
    FlowStatisticsResponse,
)
from shoptrack.errors import InputError, NotFoundError
from shoptrack.flows.service import (
    FlowRequest,
    Safeguards,
    create_flow_now,
    edit_message,
    retarget,
    set_status,
)
from shoptrack.store.flows import (
    FlowRecord,
    activity_of_profile,
    flow_statistics,
    get_flow,
    list_flows,
)
from shoptrack.store.profiles import get_profile

__all__ = ["router"]

router = JSONAPIRouter("Flows")

# Klaviyo pages flows 50 at a time at most.
_PAGE_SIZE = PageSize(50, maximum=50)
_FLOW_FIELDS = fields_parameter("flow", FLOW_FIELDS)
# More flows than an account has in practice: listing reads them all after the cursor.
MAX_ACCOUNT_FLOWS = 10_000
_FILTERS = {
    "status": ("equals",),
    "archived": ("equals",),
    "name": ("equals", "contains"),
    "trigger_metric_id": ("equals",),
}


class FlowCreateAttributes(RequestModel):
    """A library ``template`` or a ``definition`` (Klaviyo's shape, checked by the flow
    model), and its trigger, status and name."""

    template: str | None = None
    definition: dict[str, Any] | None = None
    trigger_metric_id: str | None = None
    status: str | None = None
    name: str | None = None


class FlowCreateData(RequestModel):
    type: Literal["flow"]
    attributes: FlowCreateAttributes


class FlowCreateDocument(RequestDocument[FlowCreateData]):
    """The body of ``POST /api/flows``."""


class FlowUpdateAttributes(RequestModel):
    status: str | None = None
    name: str | None = None
    archived: bool | None = None


class FlowUpdateData(RequestModel):
    type: Literal["flow"]
    id: str | None = None
    attributes: FlowUpdateAttributes = FlowUpdateAttributes()


class FlowUpdateDocument(RequestDocument[FlowUpdateData]):
    """The body of ``PATCH /api/flows/{id}``."""


class FlowMessageAttributes(BaseModel):
    """What a message may change: an email's ``name``, ``status``, ``subject``,
    ``preview_text``, ``html``, ``text``, ``from_email``, ``from_label`` and ``smart_sending``;
    a webhook's ``name``, ``status``, ``url`` and ``secret``. Other names are refused, each
    naming the field."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str | None = None
    status: str | None = None
    subject: str | None = None
    preview_text: str | None = None
    html: str | None = None
    text: str | None = None
    from_email: str | None = None
    from_label: str | None = None
    smart_sending: bool | None = None
    url: str | None = None
    secret: str | None = None


class FlowMessageData(RequestModel):
    type: Literal["flow-message"]
    id: str | None = None
    attributes: FlowMessageAttributes = FlowMessageAttributes()


class FlowMessageDocument(RequestDocument[FlowMessageData]):
    """The body of ``PATCH /api/flows/{id}/flow-messages/{step}``."""


class FlowRetargetAttributes(RequestModel):
    from_metric_id: str = Field(min_length=1)
    to_metric_id: str = Field(min_length=1)


class FlowRetargetData(RequestModel):
    type: Literal["flow-retarget"]
    attributes: FlowRetargetAttributes


class FlowRetargetDocument(RequestDocument[FlowRetargetData]):
    """The body of ``POST /api/flow-retargets``."""


@router.operation(
    "GET /api/flows",
    "get_flows",
    FlowResponseCollection,
    parameters=(FILTER_PARAMETER, _PAGE_SIZE.parameter, PAGE_CURSOR_PARAMETER, _FLOW_FIELDS),
)
def get_flows(request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """The account's flows in id order, at most 50 a page."""
    fields = parse_fields(request, "flow", FLOW_FIELDS)
    conditions = parse_filter(request.query_params.get("filter"), _FILTERS)
    for condition in conditions:
        expected = bool if condition.field == "archived" else str
        if not isinstance(condition.value, expected):
            kind = "true or false" if expected is bool else "a quoted string"
            raise InputError(f"filter: {condition.field} takes {kind}", parameter="filter")
    size = _PAGE_SIZE.read(request)
    after = id_cursor(request)
    with services.database.read() as connection:
        # An account has tens of flows, so they are filtered here rather than in SQL.
        found = list_flows(connection, account.id, after=after, limit=MAX_ACCOUNT_FLOWS)
    matching = [flow for flow in found if _matches(flow, conditions)]
    page = Page.of(matching, size, lambda flow: [flow.id])
    base = base_url(request)
    return jsonapi_response(page.document(request, lambda flow: flow_resource(flow, base, fields)))


def _matches(flow: FlowRecord, conditions: list[Any]) -> bool:
    for condition in conditions:
        value = {
            "status": flow.status.value,
            "archived": flow.archived,
            "name": flow.name,
            "trigger_metric_id": flow.trigger_metric_id,
        }[condition.field]
        if condition.operator == "contains":
            if str(condition.value).lower() not in str(value).lower():
                return False
        elif value != condition.value:
            return False
    return True


@router.operation(
    "GET /api/flows/{flow_id}",
    "get_flow",
    FlowResponse,
    parameters=(
        _FLOW_FIELDS,
        query_parameter(
            "additional-fields[flow]",
            "definition: add the flow's filters and steps",
            {"type": "string", "enum": ["definition"]},
        ),
    ),
)
def get_one(flow_id: str, request: Request, account: AccountDep, services: ServicesDep) -> Response:
    """One flow; ``additional-fields[flow]=definition`` adds its filters and steps."""
    fields = parse_fields(request, "flow", FLOW_FIELDS)
    extra = request.query_params.get("additional-fields[flow]")
    if extra not in (None, "definition"):
        raise InputError(
            "additional-fields[flow] allows definition", parameter="additional-fields[flow]"
        )
    with services.database.read() as connection:
        flow = get_flow(connection, account.id, flow_id)
    return jsonapi_response(
        {
            "data": flow_resource(flow, base_url(request), fields, definition=extra is not None),
            "links": {"self": str(request.url)},
        }
    )


@router.operation(
    "POST /api/flows", "create_flow", FlowCreated, more_errors=(404, 422), status_code=201
)
def post_flow(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[FlowCreateDocument],
) -> Response:
    """Creates a flow from the library (``template``) or from a ``definition``; answers 201
    with warnings (a trigger metric without recent events) in ``meta.warnings``."""
    attributes = body.data.attributes
    flow_request = FlowRequest(
        account_id=account.id,
        template=attributes.template,
        definition=attributes.definition,
        trigger_metric_id=attributes.trigger_metric_id,
        status=attributes.status,
        name=attributes.name,
    )
    base = base_url(request)
    created = create_flow_now(services, flow_request, diagnostics_url=diagnostics_url(base))
    return jsonapi_response(created_flow_document(created, base), 201)


@router.operation("PATCH /api/flows/{flow_id}", "update_flow", FlowResponse, more_errors=(422,))
def patch_flow(
    flow_id: str,
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[FlowUpdateDocument],
) -> Response:
    """Changes a flow's status (draft, manual, live), name or archived flag."""
    attributes = body.data.attributes
    with services.database.write() as connection:
        flow = set_status(
            connection,
            account.id,
            flow_id,
            services.clock.now(),
            safeguards=Safeguards.of(services),
            status=attributes.status,
            name=attributes.name,
            archived=attributes.archived,
        )
    return jsonapi_response({"data": flow_resource(flow, base_url(request))})


@router.operation(
    "GET /api/flows/{flow_id}/flow-messages", "get_flow_messages", FlowMessageResponseCollection
)
def get_messages(
    flow_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """The flow's messages (its email and webhook steps)."""
    with services.database.read() as connection:
        flow = get_flow(connection, account.id, flow_id)
    base = base_url(request)
    return jsonapi_response(
        {
            "data": [message_resource(flow, step, base) for step in flow.definition.messages()],
            "links": {"self": str(request.url)},
        }
    )


@router.operation(
    "PATCH /api/flows/{flow_id}/flow-messages/{step_id}",
    "update_flow_message",
    FlowMessageResponse,
    more_errors=(422,),
)
def patch_message(
    flow_id: str,
    step_id: str,
    *,
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[FlowMessageDocument],
) -> Response:
    """Edits a message: templates, sender, status and smart sending of an email; URL and
    status of a webhook. Templates are compiled before anything is stored."""
    attributes = body.data.attributes.model_dump(exclude_unset=True)
    with services.database.write() as connection:
        flow, step = edit_message(
            connection,
            account.id,
            flow_id,
            step_id,
            changes=attributes,
            now=services.clock.now(),
            safeguards=Safeguards.of(services),
        )
    return jsonapi_response({"data": message_resource(flow, step, base_url(request))})


@router.operation(
    "GET /api/flows/{flow_id}/statistics", "get_flow_statistics", FlowStatisticsResponse
)
def get_statistics(
    flow_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """What profiles did in the flow: entered, waiting, emailed, skipped and exited by reason."""
    with services.database.read() as connection:
        flow = get_flow(connection, account.id, flow_id)
        statistics = flow_statistics(connection, flow, services.clock.now())
    return jsonapi_response({"data": statistics_resource(flow, statistics, base_url(request))})


@router.operation(
    "POST /api/flow-retargets", "retarget_flows", FlowRetargetResponse, more_errors=(404,)
)
def post_retarget(
    account: AccountDep, services: ServicesDep, body: JSONAPIBody[FlowRetargetDocument]
) -> Response:
    """Moves the flows of one metric to another of the same name (after a platform switch)."""
    attributes = body.data.attributes
    with services.database.write() as connection:
        moved = retarget(
            connection,
            account.id,
            attributes.from_metric_id,
            attributes.to_metric_id,
            services.clock.now(),
        )
    return jsonapi_response(
        {"data": retarget_resource(attributes.from_metric_id, attributes.to_metric_id, moved)}
    )


@router.operation(
    "GET /api/profiles/{profile_id}/flow-activity",
    "get_profile_flow_activity",
    FlowActivityResponseCollection,
)
def get_profile_activity(
    profile_id: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """The profile's steps through flows, newest first (its flow activity feed)."""
    with services.database.read() as connection:
        if get_profile(connection, account.id, profile_id) is None:
            raise NotFoundError(f"no profile {profile_id}", parameter="id")
        rows = activity_of_profile(connection, account.id, profile_id)
    return jsonapi_response(
        {
            "data": [
                {
                    "type": "flow-activity",
                    "id": str(row.id),
                    "attributes": {
                        "flow_id": row.flow_id,
                        "flow_run_id": row.flow_run_id,
                        "step_id": row.step_id,
                        "kind": row.kind,
                        "reason": row.reason,
                        "detail": row.detail,
                        "datetime": iso(row.at),
                    },
                }
                for row in rows
            ],
            "links": {"self": str(request.url)},
        }
    )
