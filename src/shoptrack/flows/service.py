"""Creating and changing flows — from the library or a definition, their status, their messages,
and moving them to another integration's metric — with the checks the API and the CLI share.

Every function but ``create_flow_now`` works inside the caller's transaction and raises
:class:`InputError` (a 4xx naming the field, under ``/data/attributes``) for what the caller got
wrong. A webhook step's ``url`` must be an address shoptrack may reach for its users
(``outbound``): it is checked whenever a step that sends is saved — 422 ``address_not_allowed``
naming the step's ``url`` — and again at every send. A webhook step's ``whsec_…`` secret is
encrypted like store credentials before it is stored, and shown once: in the answer that
creates it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy import Connection

from shoptrack.errors import InputError, NotFoundError
from shoptrack.flows.email import check_templates
from shoptrack.flows.library import LIBRARY, template_named
from shoptrack.flows.model import (
    FlowDefinition,
    FlowStatus,
    MessageStatus,
    SendEmail,
    SendWebhook,
)
from shoptrack.outbound import OutboundGuard
from shoptrack.store.events import MetricView, list_metrics, metrics_by_id
from shoptrack.store.flows import (
    FlowRecord,
    get_flow,
    insert_flow,
    recent_event_count,
    retarget_flows,
    update_flow,
)
from shoptrack.store.secrets import CredentialCipher

if TYPE_CHECKING:
    from shoptrack.services import Services

__all__ = [
    "QUIET_WINDOW",
    "CreatedFlow",
    "FlowRequest",
    "Safeguards",
    "TriggerMetricMismatchError",
    "create_flow",
    "create_flow_now",
    "edit_message",
    "new_webhook_secret",
    "retarget",
    "set_status",
]

ATTRIBUTES = "/data/attributes"
# A trigger metric without events for this long gets the "haven't received" warning.
QUIET_WINDOW = timedelta(days=30)
# Fields of a message that may be edited, by step type.
EDITABLE = {
    "send-email": (
        "name",
        "status",
        "subject",
        "preview_text",
        "html",
        "text",
        "from_email",
        "from_label",
        "smart_sending",
    ),
    "send-webhook": ("name", "status", "url", "secret"),
}
_STEP_TYPES = {"time-delay", "conditional-split", "send-email", "send-webhook", "exit"}
_CONDITION_TYPES = {"event-property", "profile-property", "profile-metric"}
# A Standard Webhooks signing secret: ``whsec_`` and a base64 key.
_WHSEC = re.compile(r"whsec_([A-Za-z0-9+/]{16,}={0,2})")


class TriggerMetricMismatchError(InputError):
    """The metric named does not fit: a library flow's trigger is another metric, or a flow is
    moved to a metric of another name."""

    code = "trigger_metric_mismatch"
    title = "The metric does not fit this flow."


@dataclass(frozen=True, slots=True)
class Safeguards:
    """What saving a flow's webhook steps takes: the outbound guard their URLs must pass, and
    the cipher their secrets are stored with."""

    guard: OutboundGuard
    cipher: CredentialCipher

    @classmethod
    def of(cls, services: Services) -> Safeguards:
        return cls(guard=services.outbound, cipher=services.cipher)

    def seal(self, secret: Any, pointer: str) -> str:
        """A ``whsec_…`` secret, checked and encrypted as ``secret_encrypted`` stores it."""
        match = _WHSEC.fullmatch(secret) if isinstance(secret, str) else None
        try:
            valid = match is not None and bool(base64.b64decode(match.group(1), validate=True))
        except binascii.Error:
            valid = False
        if not valid:
            raise InputError(
                "secret must be whsec_ followed by a base64 key of 16 characters or more "
                "(or leave it out: shoptrack makes one)",
                pointer=pointer,
            )
        return self.cipher.encrypt({"secret": secret})

    def check_webhooks(self, definition: FlowDefinition, base: str, *, live_only: bool) -> None:
        """Refuses the definition's webhook URLs that may not be reached (only those of live
        messages with ``live_only``): a 422 naming the step's ``url``."""
        for index, action in enumerate(definition.actions):
            if not isinstance(action, SendWebhook):
                continue
            if live_only and action.status is not MessageStatus.LIVE:
                continue
            self.guard.check_url(action.url, field=f"{base}.actions.{index}.url")


@dataclass(frozen=True, slots=True)
class FlowRequest:
    """What a caller asks to create: a library ``template`` or a ``definition``."""

    account_id: str
    template: str | None = None
    definition: Any = None
    trigger_metric_id: str | None = None
    status: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedFlow:
    """A new flow, the warnings its creation raised (it is created all the same), and its
    webhook steps' secrets by step id — to be shown in this answer, and never again."""

    flow: FlowRecord
    metric: MetricView
    warnings: list[dict[str, Any]] = field(default_factory=list)
    webhook_secrets: dict[str, str] = field(default_factory=dict)


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _pointer(location: tuple[int | str, ...], base: str) -> str:
    # Pydantic puts a discriminated union's tag into the location; a pointer has no such part.
    parts = [str(p) for p in location if p not in _STEP_TYPES and p not in _CONDITION_TYPES]
    return "/".join([base, *parts])


def _invalid(error: ValidationError, base: str) -> InputError:
    first = error.errors(include_url=False)[0]
    pointer = _pointer(tuple(first["loc"]), base)
    return InputError(f"{pointer}: {first['msg']}", pointer=pointer)


def _status(value: str | None, pointer: str) -> FlowStatus:
    try:
        return FlowStatus(value or FlowStatus.DRAFT.value)
    except ValueError:
        allowed = ", ".join(status.value for status in FlowStatus)
        raise InputError(f"status must be one of {allowed}", pointer=pointer) from None


def _metric(connection: Connection, account_id: str, metric_id: str, pointer: str) -> MetricView:
    metric = metrics_by_id(connection, account_id, [metric_id]).get(metric_id)
    if metric is None:
        raise NotFoundError(f"no metric {metric_id} in this account", pointer=pointer)
    return metric


def _only_metric_named(connection: Connection, account_id: str, name: str) -> MetricView:
    pointer = f"{ATTRIBUTES}/trigger_metric_id"
    found = [metric for metric in list_metrics(connection, account_id) if metric.name == name]
    if not found:
        raise InputError(
            f"the account has no {name} metric yet: connect a store or send {name} events "
            "through the API first",
            pointer=pointer,
        )
    if len(found) > 1:
        choices = ", ".join(f"{m.id} ({m.integration.get('name')})" for m in found)
        raise InputError(
            f"several {name} metrics; choose one with trigger_metric_id: {choices}",
            pointer=pointer,
        )
    return found[0]


def _sealed_webhook_secrets(
    document: Any, safeguards: Safeguards, base: str
) -> tuple[Any, dict[str, str]]:
    """A definition whose webhook steps carry their ``secret`` (a new one when none is given)
    encrypted, and those secrets by step id. ``secret_set``, as definitions are shown, is
    accepted and means nothing: a copied definition gets new secrets."""
    if not isinstance(document, Mapping) or not isinstance(document.get("actions"), list):
        return document, {}
    actions: list[Any] = []
    shown: dict[str, str] = {}
    for index, action in enumerate(document["actions"]):
        if not isinstance(action, Mapping) or action.get("type") != "send-webhook":
            actions.append(action)
            continue
        pointer = f"{base}/actions/{index}"
        if "secret_encrypted" in action:
            raise InputError(
                "secret_encrypted is shoptrack's own: give the secret as secret, or leave it out",
                pointer=f"{pointer}/secret_encrypted",
            )
        secret = action.get("secret") or new_webhook_secret()
        sealed = {k: v for k, v in action.items() if k not in ("secret", "secret_set")}
        sealed["secret_encrypted"] = safeguards.seal(secret, f"{pointer}/secret")
        actions.append(sealed)
        shown[str(action.get("id"))] = secret
    return {**document, "actions": actions}, shown


def _check_messages(definition: FlowDefinition, base: str) -> None:
    for index, action in enumerate(definition.actions):
        if isinstance(action, SendEmail):
            check_templates(action, f"{base}/actions/{index}")


def _quiet_warning(
    connection: Connection, account_id: str, metric: MetricView, now: datetime, diagnostics: str
) -> dict[str, Any] | None:
    """Klaviyo's warning for a trigger metric that has had no events for 30 days."""
    if recent_event_count(connection, account_id, metric.id, now - QUIET_WINDOW) > 0:
        return None
    source = metric.integration.get("name") or "the API"
    return {
        "code": "trigger_metric_quiet",
        "title": f"We haven't received {metric.name} events recently",
        "detail": (
            f"We haven't received {metric.name} events recently (none from {source} in the last "
            f"{QUIET_WINDOW.days} days), so this flow may not start. If you think this is an "
            f"error, see the doctor's findings: {diagnostics}"
        ),
        "metric_id": metric.id,
        "integration": metric.integration,
        "links": {"diagnostics": diagnostics},
    }


def create_flow(
    connection: Connection,
    request: FlowRequest,
    now: datetime,
    *,
    diagnostics_url: str,
    safeguards: Safeguards,
) -> CreatedFlow:
    """Creates a flow from the library (``template``) or from a ``definition``; warns when its
    trigger metric has been quiet (and creates it anyway)."""
    status = _status(request.status, f"{ATTRIBUTES}/status")
    if (request.template is None) == (request.definition is None):
        raise InputError("give either template or definition", pointer=f"{ATTRIBUTES}/template")
    metric_pointer = f"{ATTRIBUTES}/trigger_metric_id"
    if request.template is not None:
        template = template_named(request.template)
        if template is None:
            raise InputError(
                f"no template {request.template!r}; the library has {', '.join(LIBRARY)}",
                pointer=f"{ATTRIBUTES}/template",
            )
        if request.trigger_metric_id is None:
            metric = _only_metric_named(connection, request.account_id, template.metric)
        else:
            metric = _metric(
                connection, request.account_id, request.trigger_metric_id, metric_pointer
            )
        if metric.name != template.metric:
            raise TriggerMetricMismatchError(
                f"{template.key} is triggered by {template.metric}; metric {metric.id} is "
                f"{metric.name}",
                pointer=metric_pointer,
            )
        definition = template.build()
        webhook_secrets: dict[str, str] = {}
        name = request.name or template.name
    else:
        if request.trigger_metric_id is None:
            raise InputError(
                "trigger_metric_id is required with a definition", pointer=metric_pointer
            )
        metric = _metric(connection, request.account_id, request.trigger_metric_id, metric_pointer)
        base = f"{ATTRIBUTES}/definition"
        document, webhook_secrets = _sealed_webhook_secrets(request.definition, safeguards, base)
        try:
            definition = FlowDefinition.model_validate(document)
        except ValidationError as error:
            raise _invalid(error, base) from error
        _check_messages(definition, base)
        safeguards.check_webhooks(definition, "definition", live_only=False)
        name = request.name or f"{metric.name} flow"
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("name must be 1 to 200 characters", pointer=f"{ATTRIBUTES}/name")
    flow = insert_flow(
        connection,
        account_id=request.account_id,
        name=name,
        template=request.template,
        status=status,
        trigger_metric_id=metric.id,
        definition=definition,
        now=now,
    )
    warning = _quiet_warning(connection, request.account_id, metric, now, diagnostics_url)
    return CreatedFlow(flow, metric, [warning] if warning else [], webhook_secrets)


def create_flow_now(
    services: Services, request: FlowRequest, *, diagnostics_url: str
) -> CreatedFlow:
    """``create_flow`` in a transaction of its own, at the services' time and with their
    safeguards: what the API and the CLI call."""
    with services.database.write() as connection:
        return create_flow(
            connection,
            request,
            services.clock.now(),
            diagnostics_url=diagnostics_url,
            safeguards=Safeguards.of(services),
        )


def set_status(
    connection: Connection,
    account_id: str,
    flow_id: str,
    now: datetime,
    *,
    safeguards: Safeguards,
    status: str | None = None,
    name: str | None = None,
    archived: bool | None = None,
) -> FlowRecord:
    """Changes a flow's status (draft, manual, live), name or archived flag; a flow set live
    has its live webhook steps' URLs checked again."""
    flow = get_flow(connection, account_id, flow_id)
    new_status = None if status is None else _status(status, f"{ATTRIBUTES}/status")
    if new_status is FlowStatus.LIVE:
        safeguards.check_webhooks(flow.definition, "definition", live_only=True)
    if name is not None and not 1 <= len(name.strip()) <= 200:
        raise InputError("name must be 1 to 200 characters", pointer=f"{ATTRIBUTES}/name")
    return update_flow(
        connection,
        flow,
        now,
        status=new_status,
        name=None if name is None else name.strip(),
        archived=archived,
    )


def edit_message(
    connection: Connection,
    account_id: str,
    flow_id: str,
    step_id: str,
    *,
    changes: Mapping[str, Any],
    now: datetime,
    safeguards: Safeguards,
) -> tuple[FlowRecord, SendEmail | SendWebhook]:
    """Changes a message step's templates, sender, status or smart sending (emails), or its
    URL, status and secret (webhooks: the secret given, encrypted, and not shown back);
    templates are compiled first, and the URL of a webhook that changes it or sends is
    checked."""
    flow = get_flow(connection, account_id, flow_id)
    step = flow.definition.step(step_id)
    if not isinstance(step, SendEmail | SendWebhook):
        raise NotFoundError(f"flow {flow_id} has no message {step_id}", parameter="step_id")
    allowed = EDITABLE[step.type]
    for name in changes:
        if name not in allowed:
            raise InputError(
                f"{name} cannot be changed here; a {step.type} message allows {', '.join(allowed)}",
                pointer=f"{ATTRIBUTES}/{name}",
            )
    changes = dict(changes)
    if "secret" in changes:
        changes["secret_encrypted"] = safeguards.seal(changes.pop("secret"), f"{ATTRIBUTES}/secret")
    try:
        changed = type(step).model_validate({**step.model_dump(), **changes})
    except ValidationError as error:
        raise _invalid(error, ATTRIBUTES) from error
    if isinstance(changed, SendEmail):
        check_templates(changed, ATTRIBUTES)
    elif "url" in changes or changed.status is MessageStatus.LIVE:
        safeguards.guard.check_url(changed.url, field="url")
    updated = update_flow(connection, flow, now, definition=flow.definition.replace_step(changed))
    return updated, changed


def retarget(
    connection: Connection, account_id: str, from_metric_id: str, to_metric_id: str, now: datetime
) -> list[str]:
    """Moves the flows triggered by one metric to another of the same name (after a platform
    switch: the old store's Placed Order to the new store's); the ids of the flows moved."""
    old = _metric(connection, account_id, from_metric_id, f"{ATTRIBUTES}/from_metric_id")
    new = _metric(connection, account_id, to_metric_id, f"{ATTRIBUTES}/to_metric_id")
    if old.id == new.id:
        raise InputError("the two metrics are the same", pointer=f"{ATTRIBUTES}/to_metric_id")
    if old.name != new.name:
        raise TriggerMetricMismatchError(
            f"flows triggered by {old.name} cannot move to {new.name}",
            pointer=f"{ATTRIBUTES}/to_metric_id",
        )
    return retarget_flows(connection, account_id, old.id, new.id, now)
