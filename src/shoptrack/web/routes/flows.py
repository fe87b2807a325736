"""Flows: the list with status and statistics, creating one from the library, a flow's page with
its steps and per-step statistics, its status switch, and the email editor.

Every change goes through the flows service (``shoptrack.flows.service``), as the API's and the
CLI's do: the same checks, the same "haven't received" warning, the same template compilation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from shoptrack.errors import InputError, NotFoundError
from shoptrack.flows.library import LIBRARY, FlowTemplate
from shoptrack.flows.model import (
    Action,
    ConditionalSplit,
    FlowStatus,
    MessageStatus,
    SendEmail,
    SendWebhook,
    TimeDelay,
)
from shoptrack.flows.service import (
    FlowRequest,
    Safeguards,
    create_flow,
    edit_message,
    set_status,
)
from shoptrack.store.accounts import account_settings
from shoptrack.store.events import MetricView, list_metrics, metrics_by_id
from shoptrack.store.flow_reports import revenue_by_flow
from shoptrack.store.flows import (
    FlowRecord,
    StepStatistics,
    flow_statistics,
    get_flow,
    list_flows,
    step_statistics,
)
from shoptrack.web.flow_figures import flow_figures, revenue_totals
from shoptrack.web.periods import RANGES, read_period
from shoptrack.web.routes._common import (
    FieldErrors,
    field_errors,
    moved,
    moving_old_links,
    pages,
    redirect,
)
from shoptrack.web.security import Form, FormDep, Visitor, VisitorDep, services_of

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# More flows than an account has in practice: the list shows them all.
_MAX_FLOWS = 1000
_EMAIL_FIELDS = ("subject", "preview_text", "html", "text", "from_email", "from_label")
_STATUS_WORDS = {
    "draft": "nobody enters",
    "manual": "profiles enter, nothing is sent",
    "live": "profiles enter and messages go out",
}
# Why a profile was skipped or left, in words (codes as the flow engine records them).
_REASONS = {
    "delivery_failed": "the delivery failed",
    "smart_sending": "emailed recently (smart sending)",
    "unsubscribed": "unsubscribed",
    "suppressed": "on the suppression list",
    "no_email": "no email address",
    "template_error": "the template could not be rendered",
    "template_limit": "the template asked for too much (time, memory or size)",
    "unreachable": "the webhook's address could not be reached",
    "address_not_allowed": "the webhook's address is not one shoptrack may reach",
    "message_draft": "the message is a draft",
    "message_manual": "the message is manual",
    "flow_manual": "the flow is manual",
    "profile_filter": "no longer matches the profile filter",
    "flow_stopped": "the flow was stopped",
    "step_removed": "the step was removed",
    "exit_step": "an exit step",
    "erased": "the profile was deleted",
    "error": "an error",
    "reentry": "entered before (re-entry rule)",
}


def _source(metric: MetricView | None) -> str:
    return "a removed metric" if metric is None else metric.integration.get("name") or "API"


# -- the list ---------------------------------------------------------------------------------


def _without_days(request: Request) -> Response | None:
    """Before the shared period picker, ``?days=7|30|90`` chose a flow page's period; such a
    link is sent on to the same period as ``range``, its other parameters kept."""
    if "days" not in request.query_params:
        return None
    named = f"{request.query_params['days']}d"
    chosen = named in RANGES and "range" not in request.query_params
    return moved(request, "days", [("range", named)] if chosen else [])


@router.get("/flows")
@moving_old_links(_without_days)
def flow_list(request: Request, visitor: VisitorDep) -> Response:
    """Every flow with its status and statistics, and the revenue credited to it over the
    period chosen beside the period before."""
    services = services_of(request)
    now = services.clock.now()
    with services.database.read() as connection:
        flows = list_flows(connection, visitor.account_id, limit=_MAX_FLOWS)
        metrics = metrics_by_id(
            connection, visitor.account_id, sorted({f.trigger_metric_id for f in flows})
        )
        zone = account_settings(connection, visitor.account_id).zone
        period = read_period(request.query_params, now, zone)
        revenue, earlier = period.and_previous(
            lambda when: revenue_by_flow(connection, visitor.account_id, when.start, when.end)
        )
        rows = [
            {
                "flow": flow,
                "metric": metrics.get(flow.trigger_metric_id),
                "source": _source(metrics.get(flow.trigger_metric_id)),
                "statistics": flow_statistics(connection, flow, now),
                "revenue": revenue_totals(revenue.get(flow.id, {})),
                "revenue_before": None
                if earlier is None
                else revenue_totals(earlier.get(flow.id, {})),
            }
            for flow in sorted(flows, key=lambda f: (f.archived, f.name.lower(), f.id))
        ]
    return pages(request).render(
        request,
        "flows/list.html",
        {"rows": rows, "status_words": _STATUS_WORDS, "period": period},
        visitor=visitor,
    )


# -- creating one from the library ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LibraryChoice:
    """A library flow with the account's metrics that may trigger it."""

    template: FlowTemplate
    metrics: list[MetricView]


def _new_page(
    request: Request,
    visitor: Visitor,
    *,
    errors: FieldErrors | None = None,
    chosen: str | None = None,
    status: int = 200,
) -> Response:
    with services_of(request).database.read() as connection:
        metrics = list_metrics(connection, visitor.account_id)
    choices = [
        LibraryChoice(
            template,
            sorted(
                (m for m in metrics if m.name == template.metric),
                key=lambda m: (m.integration.get("name") or "").lower(),
            ),
        )
        for template in LIBRARY.values()
    ]
    return pages(request).render(
        request,
        "flows/new.html",
        {"choices": choices, "errors": errors or {}, "chosen": chosen, "source": _source},
        visitor=visitor,
        status=status,
    )


@router.get("/flows/new")
def new_flow(request: Request, visitor: VisitorDep) -> Response:
    return _new_page(request, visitor)


@router.post("/flows/new")
def add_flow(request: Request, visitor: VisitorDep, form: FormDep) -> Response:
    services = services_of(request)
    template = form.get("template")
    flow_request = FlowRequest(
        account_id=visitor.account_id,
        template=template,
        trigger_metric_id=form.get("trigger_metric_id") or None,
        name=form.get("name").strip() or None,
        status=FlowStatus.DRAFT.value,
    )
    try:
        with services.database.write() as connection:
            created = create_flow(
                connection,
                flow_request,
                services.clock.now(),
                diagnostics_url="/doctor",
                safeguards=Safeguards.of(services),
            )
    except InputError as error:  # NotFoundError too: a metric of another account
        errors = field_errors(error, {"template", "trigger_metric_id", "name"})
        return _new_page(request, visitor, errors=errors, chosen=template, status=400)
    flash = [("ok", f"{created.flow.name} is created, as a draft: nobody enters it yet.")]
    flash += [("warning", warning["detail"]) for warning in created.warnings]
    return redirect(f"/flows/{created.flow.id}", visitor, flash)


# -- one flow ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepView:
    """One step of a flow as its page shows it: what it does, where it leads, what happened."""

    step: Action
    kind: str
    summary: str
    leads_to: list[tuple[str, str]]  # (label, step id)
    statistics: StepStatistics
    is_message: bool


def _describe(step: Action) -> tuple[str, str, list[tuple[str, str | None]]]:
    if isinstance(step, TimeDelay):
        unit = step.unit[:-1] if step.value == 1 else step.unit
        return "Time delay", f"Wait {step.value} {unit}", [("then", step.next)]
    if isinstance(step, ConditionalSplit):
        words = "; ".join(_condition(c) for c in step.conditions)
        return "Conditional split", words, [("yes", step.yes), ("no", step.no)]
    if isinstance(step, SendEmail):
        return "Email", step.name, [("then", step.next)]
    if isinstance(step, SendWebhook):
        # The secret itself was shown once, when it was made; here only that it is set.
        summary = f"{step.name}: POST {step.url}, signed (secret set)"
        return "Webhook", summary, [("then", step.next)]
    return "Exit", "Leave the flow", []  # an ExitStep: mypy knows no other kind is left


def _condition(condition: Any) -> str:
    operator = str(condition.operator).replace("-", " ")
    if condition.type == "profile-metric":
        since = "since starting this flow" if condition.timeframe == "flow-start" else "ever"
        return f"has done {condition.metric} {operator} {condition.value} times {since}"
    return f"{condition.property} {operator} {condition.value!r}"


def _ordered_steps(flow: FlowRecord) -> list[Action]:
    """The steps from the entry on, each after the step leading to it; unreachable ones last."""
    by_id = {action.id: action for action in flow.definition.actions}
    ordered: list[Action] = []
    queue = [flow.definition.entry]
    while queue:
        step_id = queue.pop(0)
        if step_id is None or step_id not in by_id or by_id[step_id] in ordered:
            continue
        ordered.append(by_id[step_id])
        queue += list(by_id[step_id].successors())
    return ordered + [a for a in flow.definition.actions if a not in ordered]


def _own_flow(request: Request, visitor: Visitor, flow_id: str) -> FlowRecord:
    """The flow, if it is the visitor's account's (else a 404, as if it did not exist)."""
    with services_of(request).database.read() as connection:
        return get_flow(connection, visitor.account_id, flow_id)


@router.get("/flows/{flow_id}")
@moving_old_links(_without_days)
def flow_page(request: Request, flow_id: str, visitor: VisitorDep) -> Response:
    """The flow: what it earned over the period chosen (see ``periods.py``) beside the period
    before, its status and its steps, each with what happened there."""
    services = services_of(request)
    now = services.clock.now()
    with services.database.read() as connection:
        flow = get_flow(connection, visitor.account_id, flow_id)
        metric = metrics_by_id(connection, visitor.account_id, [flow.trigger_metric_id]).get(
            flow.trigger_metric_id
        )
        statistics = flow_statistics(connection, flow, now)
        per_step = step_statistics(connection, flow, now)
        zone = account_settings(connection, visitor.account_id).zone
        period = read_period(request.query_params, now, zone)
        figures = flow_figures(connection, flow, period)
    names = {action.id: action.id for action in flow.definition.actions}
    steps = []
    for step in _ordered_steps(flow):
        kind, summary, leads = _describe(step)
        steps.append(
            StepView(
                step=step,
                kind=kind,
                summary=summary,
                leads_to=[(label, names[target]) for label, target in leads if target],
                statistics=per_step.get(step.id, StepStatistics({}, 0)),
                is_message=isinstance(step, SendEmail | SendWebhook),
            )
        )
    return pages(request).render(
        request,
        "flows/show.html",
        {
            "flow": flow,
            "metric": metric,
            "source": _source(metric),
            "statistics": statistics,
            "steps": steps,
            "statuses": [status.value for status in FlowStatus],
            "message_statuses": [status.value for status in MessageStatus],
            "status_words": _STATUS_WORDS,
            "reasons": _REASONS,
            "figures": figures,
            "period": period,
        },
        visitor=visitor,
    )


@router.post("/flows/{flow_id}/status")
def change_status(request: Request, flow_id: str, visitor: VisitorDep, form: FormDep) -> Response:
    """The flow's status switch: draft, manual or live."""
    services = services_of(request)
    flow = _own_flow(request, visitor, flow_id)
    try:
        with services.database.write() as connection:
            changed = set_status(
                connection,
                visitor.account_id,
                flow.id,
                services.clock.now(),
                safeguards=Safeguards.of(services),
                status=form.get("status"),
            )
    except InputError as error:
        return redirect(f"/flows/{flow.id}", visitor, [("error", error.detail)])
    words = _STATUS_WORDS[changed.status.value]
    return redirect(
        f"/flows/{flow.id}", visitor, [("ok", f"The flow is {changed.status.value}: {words}.")]
    )


# -- messages ---------------------------------------------------------------------------------


def _message(flow: FlowRecord, step_id: str) -> SendEmail | SendWebhook:
    step = flow.definition.step(step_id)
    if not isinstance(step, SendEmail | SendWebhook):
        raise NotFoundError(f"flow {flow.id} has no message {step_id}", parameter="step_id")
    return step


@router.post("/flows/{flow_id}/messages/{step_id}/status")
def change_message_status(
    request: Request, flow_id: str, step_id: str, visitor: VisitorDep, form: FormDep
) -> Response:
    """A message's own status switch (it sends only when it and its flow are live)."""
    services = services_of(request)
    flow = _own_flow(request, visitor, flow_id)
    step = _message(flow, step_id)
    try:
        with services.database.write() as connection:
            _, changed = edit_message(
                connection,
                visitor.account_id,
                flow.id,
                step.id,
                changes={"status": form.get("status")},
                now=services.clock.now(),
                safeguards=Safeguards.of(services),
            )
    except InputError as error:
        return redirect(f"/flows/{flow.id}", visitor, [("error", error.detail)])
    flash = [("ok", f"{changed.name} is {changed.status.value}.")]
    return redirect(f"/flows/{flow.id}", visitor, flash)


def _email_page(
    request: Request,
    visitor: Visitor,
    flow: FlowRecord,
    step: SendEmail,
    *,
    values: dict[str, Any] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    current = {name: getattr(step, name) or "" for name in _EMAIL_FIELDS}
    current["smart_sending"] = step.smart_sending
    return pages(request).render(
        request,
        "flows/email.html",
        {
            "flow": flow,
            "step": step,
            "values": current | (values or {}),
            "errors": errors or {},
        },
        visitor=visitor,
        status=status,
    )


def _email_step(flow: FlowRecord, step_id: str) -> SendEmail:
    step = _message(flow, step_id)
    if not isinstance(step, SendEmail):
        raise NotFoundError(f"flow {flow.id} has no email {step_id}", parameter="step_id")
    return step


@router.get("/flows/{flow_id}/messages/{step_id}")
def email_editor(request: Request, flow_id: str, step_id: str, visitor: VisitorDep) -> Response:
    flow = _own_flow(request, visitor, flow_id)
    return _email_page(request, visitor, flow, _email_step(flow, step_id))


def _email_changes(form: Form) -> dict[str, Any]:
    changes: dict[str, Any] = {name: form.get(name) for name in ("subject", "html", "text")}
    changes["preview_text"] = form.get("preview_text")
    for name in ("from_email", "from_label"):
        changes[name] = form.get(name).strip() or None
    changes["smart_sending"] = "smart_sending" in form
    return changes


@router.post("/flows/{flow_id}/messages/{step_id}")
def save_email(
    request: Request, flow_id: str, step_id: str, visitor: VisitorDep, form: FormDep
) -> Response:
    """Saves the email's templates and sender; one that does not compile re-renders the form
    with the error under its field, and nothing is saved."""
    services = services_of(request)
    flow = _own_flow(request, visitor, flow_id)
    step = _email_step(flow, step_id)
    changes = _email_changes(form)
    try:
        with services.database.write() as connection:
            edit_message(
                connection,
                visitor.account_id,
                flow.id,
                step.id,
                changes=changes,
                now=services.clock.now(),
                safeguards=Safeguards.of(services),
            )
    except InputError as error:
        values = {name: changes[name] or "" for name in _EMAIL_FIELDS}
        values["smart_sending"] = changes["smart_sending"]
        errors = field_errors(error, {*_EMAIL_FIELDS, "smart_sending"})
        return _email_page(request, visitor, flow, step, values=values, errors=errors, status=400)
    return redirect(f"/flows/{flow.id}", visitor, [("ok", f"{step.name} is saved.")])
