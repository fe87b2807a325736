"""What a flow is: its trigger filters, profile filters, steps, re-entry rule and smart-sending
window, as pydantic models stored as JSON in ``flows.definition``.

Conditions and steps follow Klaviyo's flow definition in spirit (``time-delay``,
``conditional-split``, ``send-email``, ``send-webhook``; ``profile-metric`` conditions with a
``flow-start`` or all-time timeframe), written as a flat list of steps that name their
successors. A definition is checked as a whole by :func:`FlowDefinition.model_validate`: ids
unique, successors existing, no cycles.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shoptrack.domain.identity import normalize_email

__all__ = [
    "Action",
    "Condition",
    "ConditionalSplit",
    "EventPropertyCondition",
    "ExitStep",
    "FlowDefinition",
    "FlowStatus",
    "MessageStatus",
    "ProfileMetricCondition",
    "ProfilePropertyCondition",
    "Reentry",
    "SendEmail",
    "SendWebhook",
    "TimeDelay",
    "public_step",
]


class FlowStatus(StrEnum):
    """Klaviyo's flow statuses."""

    DRAFT = "draft"  # nobody enters
    MANUAL = "manual"  # profiles enter and walk the steps; no message goes out on its own
    LIVE = "live"  # profiles enter; messages go out as their own status says


class MessageStatus(StrEnum):
    """A message's own status; a message sends only when it and its flow are live."""

    DRAFT = "draft"  # skipped
    MANUAL = "manual"  # held: skipped and recorded as such (no manual send queue yet)
    LIVE = "live"


_STRICT = ConfigDict(extra="forbid", frozen=True)

PropertyOperator = Literal[
    "equals",
    "not-equals",
    "contains",
    "not-contains",
    "greater-than",
    "greater-or-equal",
    "less-than",
    "less-or-equal",
    "exists",
    "not-exists",
]
CountOperator = Literal[
    "equals", "not-equals", "greater-than", "greater-or-equal", "less-than", "less-or-equal"
]


class _PropertyCondition(BaseModel):
    """A condition comparing one property (a dotted ``property`` path) with ``value``."""

    model_config = _STRICT
    type: str
    property: str = Field(min_length=1, max_length=200)
    operator: PropertyOperator
    value: Any = None


class EventPropertyCondition(_PropertyCondition):
    """A property of the trigger event: ``property`` is a dotted path into its properties
    (``ShippingAddress.CountryCode``), or ``$value`` for the event's value."""

    type: Literal["event-property"]


class ProfilePropertyCondition(_PropertyCondition):
    """A profile attribute (``email``, ``first_name``, ``location.country``…) or custom
    property (``properties.Tier``)."""

    type: Literal["profile-property"]


class ProfileMetricCondition(BaseModel):
    """How many times the profile did a metric: "has done Placed Order zero times since
    starting this flow" is ``{metric: "Placed Order", operator: "equals", value: 0,
    timeframe: "flow-start"}``.

    ``metric`` is a metric name, counted across every source (an order from any store counts);
    ``metric_id`` narrows it to one metric. Since the flow started means after the trigger
    event, which itself is not counted.
    """

    model_config = _STRICT
    type: Literal["profile-metric"]
    metric: str = Field(min_length=1, max_length=128)
    metric_id: str | None = None
    operator: CountOperator
    value: int = Field(ge=0)
    timeframe: Literal["flow-start", "all-time"] = "all-time"


Condition = Annotated[
    EventPropertyCondition | ProfilePropertyCondition | ProfileMetricCondition,
    Field(discriminator="type"),
]
ProfileCondition = Annotated[
    ProfilePropertyCondition | ProfileMetricCondition, Field(discriminator="type")
]

StepId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class TimeDelay(BaseModel):
    """Waits, then goes on to ``next``."""

    model_config = _STRICT
    type: Literal["time-delay"]
    id: StepId
    unit: Literal["minutes", "hours", "days", "weeks"]
    value: int = Field(ge=0, le=100_000)
    next: StepId | None = None

    @property
    def duration(self) -> timedelta:
        delta: timedelta = timedelta(**{self.unit: self.value})
        return delta

    def successors(self) -> tuple[str | None, ...]:
        return (self.next,)


class ConditionalSplit(BaseModel):
    """Goes to ``yes`` when every condition holds (profile data, or the trigger event's),
    else to ``no``; a missing branch ends the run."""

    model_config = _STRICT
    type: Literal["conditional-split"]
    id: StepId
    conditions: list[Condition] = Field(min_length=1)
    yes: StepId | None = None
    no: StepId | None = None

    def successors(self) -> tuple[str | None, ...]:
        return (self.yes, self.no)


class SendEmail(BaseModel):
    """An email: Jinja2 templates for the subject, the HTML and the text part."""

    model_config = _STRICT
    type: Literal["send-email"]
    id: StepId
    name: str = Field(default="Email", max_length=200)
    status: MessageStatus = MessageStatus.LIVE
    subject: str = Field(min_length=1, max_length=2000)
    preview_text: str = Field(default="", max_length=500)
    html: str = Field(min_length=1, max_length=500_000)
    text: str = Field(min_length=1, max_length=500_000)
    from_email: str | None = Field(default=None, max_length=320)
    from_label: str | None = Field(default=None, max_length=200)
    # Skip this email when the profile got another within the flow's smart-sending window.
    smart_sending: bool = True
    next: StepId | None = None

    @field_validator("from_email")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        # Checked here, not by the SMTP server at the first send to every profile.
        return normalize_email(value)

    def successors(self) -> tuple[str | None, ...]:
        return (self.next,)


class SendWebhook(BaseModel):
    """A POST of the trigger event and the profile as JSON, signed the Standard Webhooks way
    with a ``whsec_…`` secret, kept encrypted like store credentials (``store.secrets``): the
    secret is shown once, when it is made, and only ``secret_set`` after that."""

    model_config = _STRICT
    type: Literal["send-webhook"]
    id: StepId
    name: str = Field(default="Webhook", max_length=200)
    status: MessageStatus = MessageStatus.LIVE
    url: str = Field(pattern=r"^https?://", max_length=2000)
    # ``{"secret": "whsec_…"}`` encrypted with SHOPTRACK_SECRET_KEY (``flows.service`` seals it).
    secret_encrypted: str = Field(min_length=1, repr=False)
    next: StepId | None = None

    def successors(self) -> tuple[str | None, ...]:
        return (self.next,)


class ExitStep(BaseModel):
    """Ends the run."""

    model_config = _STRICT
    type: Literal["exit"]
    id: StepId

    def successors(self) -> tuple[str | None, ...]:
        return ()


Action = Annotated[
    TimeDelay | ConditionalSplit | SendEmail | SendWebhook | ExitStep,
    Field(discriminator="type"),
]


def public_step(step: Action, secret: str | None = None) -> dict[str, Any]:
    """A step as the API, the web UI and the CLI show it: of a webhook's secret, only that it
    is set — or ``secret`` itself, in the answer that made it."""
    document = step.model_dump(mode="json")
    if isinstance(step, SendWebhook):
        del document["secret_encrypted"]
        document["secret_set"] = True
        if secret is not None:
            document["secret"] = secret
    return document


class Reentry(BaseModel):
    """Klaviyo's ``reentry_criteria``: a profile may enter again once ``duration`` ``unit``s
    have passed since it last entered; ``alltime`` with 1 means never again, a duration of 0
    means always."""

    model_config = _STRICT
    unit: Literal["hour", "day", "week", "alltime"] = "alltime"
    duration: int = Field(default=0, ge=0, le=100_000)

    @property
    def window(self) -> timedelta | None:
        """How far back an earlier entry blocks a new one: None for never, else a span
        (``timedelta.max`` for "only once")."""
        if self.duration == 0:
            return None
        if self.unit == "alltime":
            return timedelta.max
        delta: timedelta = timedelta(**{f"{self.unit}s": self.duration})
        return delta


class FlowDefinition(BaseModel):
    """A flow's filters and steps; ``entry`` is the first step."""

    model_config = _STRICT
    trigger_filters: list[EventPropertyCondition] = Field(default_factory=list)
    profile_filters: list[ProfileCondition] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list, max_length=200)
    entry: StepId | None = None
    reentry: Reentry = Field(default_factory=Reentry)
    smart_sending_hours: int = Field(default=16, ge=0, le=24 * 365)

    @model_validator(mode="after")
    def _graph(self) -> FlowDefinition:
        ids = [action.id for action in self.actions]
        duplicates = sorted({step for step in ids if ids.count(step) > 1})
        if duplicates:
            raise ValueError(f"step ids must be unique: {', '.join(duplicates)} repeated")
        known = set(ids)
        if self.entry is not None and self.entry not in known:
            raise ValueError(f"entry names no step: {self.entry!r}")
        if self.entry is None and self.actions:
            raise ValueError("entry must name the first step")
        for action in self.actions:
            for successor in action.successors():
                if successor is not None and successor not in known:
                    raise ValueError(f"step {action.id!r} leads to no step {successor!r}")
        self._refuse_cycles()
        return self

    def _refuse_cycles(self) -> None:
        by_id = {action.id: action for action in self.actions}
        state: dict[str, str] = {}  # "open" while on the path, "done" once explored
        for start in by_id:
            stack: list[tuple[str, int]] = [(start, 0)]
            while stack:
                step, index = stack.pop()
                if index == 0:
                    if state.get(step) == "done":
                        continue
                    state[step] = "open"
                successors = [s for s in by_id[step].successors() if s is not None]
                if index < len(successors):
                    stack.append((step, index + 1))
                    following = successors[index]
                    if state.get(following) == "open":
                        raise ValueError(f"steps may not loop: {step!r} leads back to it")
                    if state.get(following) != "done":
                        stack.append((following, 0))
                else:
                    state[step] = "done"

    def public_document(self, secrets: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The definition as shown (``public_step``); ``secrets`` by step id are shown too."""
        document = self.model_dump(mode="json")
        shown = secrets or {}
        document["actions"] = [public_step(a, shown.get(a.id)) for a in self.actions]
        return document

    def step(self, step_id: str) -> Action | None:
        return next((action for action in self.actions if action.id == step_id), None)

    def messages(self) -> list[SendEmail | SendWebhook]:
        return [a for a in self.actions if isinstance(a, SendEmail | SendWebhook)]

    def replace_step(self, step: Action) -> FlowDefinition:
        """A copy with ``step`` in place of the step of its id."""
        actions = [step if action.id == step.id else action for action in self.actions]
        return self.model_copy(update={"actions": actions})
