"""The order probe behind ``shoptrack test-order``: a test order placed through a store and
followed through shoptrack, end to end.

Where the platform has an order-creation API (``Connector.place_test_order``), a small paid test
order is placed through it; elsewhere the merchant is told how to place one by hand and the run
waits for the next new order. The order is then followed through shoptrack's own tables, one
step after another —

    order placed → delivery received → order state → Placed Order → profile

— running the work a ``serve`` process would run meanwhile (a sync for polled platforms, the
order fetches of id-only webhooks, processing). When a step is not reached in time, or cannot be
(a store that refuses the order, a delivery refused, a status no rule counts as placed), the run
stops there and the doctor explains it. Last, an order placed through the API is cancelled.

The test order is for ``test-order+<UTC time>@shoptrack.invalid``: recognisable in the store's
admin as shoptrack's, tied to its run by the time, and on the ``.invalid`` top-level domain
(RFC 2606). An order for such an address is a test order, as a store's own test orders are: its
events are marked ``test``, stay out of revenue and charts, and start no flow. A fresh address
each run gives a fresh profile, so the profile step shows this order's doing. ``email``
overrides it: the order is then an ordinary live one, and starts flows (to receive the flow
emails yourself).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Connection

from shoptrack.connectors import Connector, connector_for
from shoptrack.connectors.base import ProbeOrder, store_clients
from shoptrack.connectors.errors import StoreError
from shoptrack.connectors.http import StoreClient
from shoptrack.doctor import ClientFactory, Finding, Severity, diagnose_integration
from shoptrack.domain.events import TEST_ORDER_DOMAIN
from shoptrack.domain.lifecycle import stages_of
from shoptrack.pipeline.fetch import OrderFetcher
from shoptrack.pipeline.runtime import build_processor
from shoptrack.pipeline.sync import SyncBusyError, Syncer, stored_tokens
from shoptrack.services import Services
from shoptrack.store.diagnostics import order_state_row
from shoptrack.store.events import placed_order_event
from shoptrack.store.inbox import deliveries_after, has_pending
from shoptrack.store.integrations import Integration, get_integration, integration_row
from shoptrack.store.order_states import order_from_snapshot
from shoptrack.store.profiles import get_profile
from shoptrack.store.sync_runs import get_run

__all__ = [
    "MANUAL_STEPS",
    "OrderProbeOptions",
    "OrderProbeRun",
    "Step",
    "StepState",
    "default_email",
    "run_order_probe",
]

# What a merchant does on a platform without an order-creation API (the run waits meanwhile).
MANUAL_STEPS = (
    "Open a product page of your store in a private browser window.",
    "Add the product to the cart.",
    "Check out with a real payment method, with an email address you will recognise.",
    "Confirm the payment with the payment provider (3-D Secure, PayPal…).",
    "Once shoptrack has followed the order, cancel and refund it in your store's admin.",
)
# Manual orders created this long before the run started still count as its order (clocks).
_MANUAL_SLACK = timedelta(minutes=2)
# How each inbox source brings an order, for the report.
_SOURCES = {
    "webhook": "a webhook",
    "poll": "a sync",
    "backfill": "an import",
    "fetch": "a fetch of a webhook's order",
}
# How often polled platforms are asked again while the run waits.
_SYNC_EVERY_SECONDS = 2.0


class StepState(StrEnum):
    """Where one step of the run is."""

    WAITING = "waiting"  # not reached yet
    DONE = "done"
    FAILED = "failed"  # where the run stopped
    SKIPPED = "skipped"  # not run (an earlier step stopped the run, or nothing to do)


# The steps, in order: (key, title).
_STEPS = (
    ("order_placed", "order placed"),
    ("delivery_received", "delivery received"),
    ("order_state", "order state"),
    ("placed_order", "Placed Order"),
    ("profile", "profile"),
    ("order_cancelled", "order cancelled"),
)


@dataclass(frozen=True, slots=True)
class Step:
    """One step: its state, what it found in a sentence, and the evidence (ids, times)."""

    key: str
    title: str
    state: StepState = StepState.WAITING
    detail: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "state": self.state.value,
            "detail": self.detail,
            "evidence": dict(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class OrderProbeRun:
    """A run as it stands: the steps, where it stopped, and the doctor's findings then."""

    integration_id: str
    platform: str
    email: str
    manual: bool
    steps: tuple[Step, ...]
    order_id: str | None = None
    stopped_at: str | None = None
    findings: tuple[Finding, ...] = ()
    order_trace: Mapping[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.stopped_at is None and all(
            step.state is not StepState.FAILED for step in self.steps
        )

    def step(self, key: str) -> Step:
        return next(step for step in self.steps if step.key == key)

    def with_step(self, key: str, state: StepState, detail: str, **evidence: Any) -> OrderProbeRun:
        steps = tuple(
            replace(step, state=state, detail=detail, evidence=evidence)
            if step.key == key
            else step
            for step in self.steps
        )
        return replace(self, steps=steps)

    def as_json(self) -> dict[str, Any]:
        """The run as a JSON:API resource of type ``test-order``."""
        return {
            "type": "test-order",
            "id": self.order_id or "",
            "attributes": {
                "integration_id": self.integration_id,
                "platform": self.platform,
                "email": self.email,
                "mode": "manual" if self.manual else "api",
                "order_id": self.order_id,
                "status": "succeeded" if self.succeeded else "stopped",
                "stopped_at": self.stopped_at,
                "steps": [step.as_json() for step in self.steps],
                "manual_steps": list(MANUAL_STEPS) if self.manual else [],
                "findings": [finding.as_json() for finding in self.findings],
                "order_trace": dict(self.order_trace) if self.order_trace else None,
            },
        }


@dataclass(frozen=True, slots=True)
class OrderProbeOptions:
    """How a run goes: ``timeout`` seconds to follow the order; ``order_id`` follows an order
    already placed by hand instead of placing one; ``keep`` leaves the order on the store.
    ``sleep``, ``monotonic`` and ``client_factory`` are injected by tests."""

    email: str | None = None
    order_id: str | None = None
    timeout: float = 120.0
    poll_interval: float = 0.25
    keep: bool = False
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    client_factory: ClientFactory | None = None


def default_email(now: datetime) -> str:
    """The address a test order placed at ``now`` is for (see the module's docstring)."""
    return f"test-order+{now:%Y%m%d%H%M%S}@{TEST_ORDER_DOMAIN}"


def run_order_probe(
    services: Services,
    account_id: str,
    integration_id: str,
    options: OrderProbeOptions | None = None,
    *,
    on_change: Callable[[OrderProbeRun], None] | None = None,
) -> OrderProbeRun:
    """Places (or waits for) a test order and follows it; see the module's docstring.
    ``on_change`` sees the run each time a step moves (for a progress display)."""
    return _Follower(
        services, account_id, integration_id, options or OrderProbeOptions(), on_change
    ).run()


class _Follower:
    """One run: the order, the steps, and the work done while waiting."""

    def __init__(
        self,
        services: Services,
        account_id: str,
        integration_id: str,
        options: OrderProbeOptions,
        on_change: Callable[[OrderProbeRun], None] | None,
    ) -> None:
        self.services = services
        self.account_id = account_id
        self.options = options
        self.on_change = on_change
        with services.database.read() as connection:
            self.integration: Integration = get_integration(connection, account_id, integration_id)
        self.connector: Connector = connector_for(self.integration.platform)
        self.started = services.clock.now()
        self.polled = not self.connector.sends_webhooks
        self.syncer = Syncer(services)
        self.fetcher = OrderFetcher(services)
        self.processor = build_processor(services)
        self.last_sync = float("-inf")
        self.seen_inbox_id = 0
        self.rejections: list[str] = []
        self.state = OrderProbeRun(
            integration_id=self.integration.id,
            platform=self.integration.platform,
            email=(options.email or default_email(self.started)).strip().lower(),
            manual=False,
            steps=tuple(Step(key, title) for key, title in _STEPS),
            order_id=options.order_id,
        )

    # -- the run -------------------------------------------------------------------------

    def run(self) -> OrderProbeRun:
        placed = self._place()
        if placed:
            deadline = self.options.monotonic() + self.options.timeout
            self._follow(deadline)
        if self.state.stopped_at is not None:
            self._diagnose()
        self._cancel()
        self._changed()
        return self.state

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.state)

    def _set(self, key: str, state: StepState, detail: str, **evidence: Any) -> None:
        self.state = self.state.with_step(key, state, detail, **evidence)
        if state is StepState.FAILED:
            self.state = replace(self.state, stopped_at=key)
        self._changed()

    def _placed(self, order_id: str, detail: str) -> None:
        """The first step is done: the run follows ``order_id`` from now on."""
        self.state = replace(self.state, order_id=order_id)
        self._set("order_placed", StepState.DONE, detail, order_id=order_id)

    def _place(self) -> bool:
        """The first step: the order placed through the API, or the merchant told how."""
        if not self.integration.enabled:
            self._set(
                "order_placed",
                StepState.FAILED,
                "the integration is disabled: its deliveries are kept but not processed",
            )
            return False
        if self.options.order_id is not None:
            self.state = replace(self.state, manual=True)
            self._placed(self.options.order_id, "following the order given")
            return True
        if self.polled:
            self._first_import()
            if self.state.stopped_at is not None:
                return False
        note = f"shoptrack test order of {self.started:%Y-%m-%d %H:%M} UTC; cancel it freely"
        try:
            with self._client() as client:
                order_id = self.connector.place_test_order(
                    client, ProbeOrder(self.state.email, note)
                )
        except StoreError as error:
            self._set(
                "order_placed",
                StepState.FAILED,
                f"the store refused the order: {error.detail}",
                error_code=error.code,
                store_status=error.store_status,
                store_answer=error.store_answer,
            )
            return False
        if order_id is None:
            self.state = replace(self.state, manual=True)
            self._set(
                "order_placed",
                StepState.WAITING,
                f"{self.integration.platform} has no API to place orders: place one by hand",
                steps=list(MANUAL_STEPS),
            )
            return True
        self._placed(order_id, f"order {order_id} placed through the store's API")
        return True

    def _first_import(self) -> None:
        """A polled integration never synced imports its history first, so the test order
        comes with a later sync, live (a first import records backfill, which starts no
        flows)."""
        with self.services.database.read() as connection:
            cursor = integration_row(connection, self.integration.id).sync_cursor
        if not (cursor or {}).get("updated_at"):
            self._sync(force=True)

    def _follow(self, deadline: float) -> None:
        while True:
            self._work()
            with self.services.database.read() as connection:
                self._look(connection)
            if self.state.stopped_at is not None or self._followed():
                return
            if self.options.monotonic() >= deadline:
                waiting = next(s for s in self.state.steps if s.state is StepState.WAITING)
                detail = f"not reached within {self.options.timeout:g} s"
                if waiting.detail:
                    detail = f"{waiting.detail}; {detail}"
                if waiting.key == "delivery_received" and self.rejections:
                    detail += f" (deliveries refused: {'; '.join(self.rejections[-3:])})"
                self._set(waiting.key, StepState.FAILED, detail, **waiting.evidence)
                return
            self.options.sleep(self.options.poll_interval)

    def _followed(self) -> bool:
        return all(
            step.state is StepState.DONE
            for step in self.state.steps
            if step.key != "order_cancelled"
        )

    # -- the work a serve process would do meanwhile -------------------------------------

    def _work(self) -> None:
        if self.polled or self.state.manual:
            self._sync()
        self.fetcher.run_due()
        self.processor.run_until_idle()

    def _sync(self, *, force: bool = False) -> None:
        now = self.options.monotonic()
        if not force and now - self.last_sync < _SYNC_EVERY_SECONDS:
            return
        self.last_sync = now
        try:
            run_id = self.syncer.run(self.account_id, self.integration.id)
        except SyncBusyError:
            return  # another process syncs it now: its rows are as good
        with self.services.database.read() as connection:
            row = get_run(connection, self.account_id, run_id)
        if row is not None and row.error_kind == "config":
            key = next(s.key for s in self.state.steps if s.state is StepState.WAITING)
            self._set(
                key,
                StepState.FAILED,
                f"the sync failed: {row.error_detail}",
                sync_run_id=run_id,
                error_code=row.error_code,
            )

    # -- reading shoptrack's tables ------------------------------------------------------

    def _look(self, connection: Connection) -> None:
        if self.state.step("delivery_received").state is StepState.WAITING:
            self._look_for_delivery(connection)
        order_id = self.state.order_id
        if order_id is None or self.state.step("delivery_received").state is not StepState.DONE:
            return
        state = order_state_row(connection, self.integration.id, order_id)
        if state is None:
            return
        if self.state.step("order_state").state is StepState.WAITING:
            self._set(
                "order_state",
                StepState.DONE,
                f"kept in status {state.raw_status!r}",
                raw_status=state.raw_status,
                first_seen=state.first_seen_at.isoformat(),
            )
        if state.placed_recorded_at is None:
            self._judge_unplaced(connection, state)
            return
        event = placed_order_event(connection, self.account_id, self.integration.id, order_id)
        if event is None:
            return
        if self.state.step("placed_order").state is StepState.WAITING:
            kind = "live"
            if event.test:
                kind = "test order (it starts no flows)"
            elif event.backfill:
                kind = "backfill (it starts no flows)"
            self._set(
                "placed_order",
                StepState.DONE,
                f"recorded, {kind}",
                event_id=event.id,
                backfill=bool(event.backfill),
                test=bool(event.test),
                time=event.time.isoformat(),
            )
        profile = get_profile(connection, self.account_id, event.profile_id)
        if profile is not None:
            self._set(
                "profile",
                StepState.DONE,
                f"on the profile of {profile.email or 'an unknown address'}",
                profile_id=profile.id,
                email=profile.email,
            )

    def _look_for_delivery(self, connection: Connection) -> None:
        """The first inbox row (webhook, poll or fetch) since the run started that carries
        the order; in manual mode without an order id, the first new order."""
        rows = deliveries_after(
            connection, self.integration.id, self.seen_inbox_id, self.started - _MANUAL_SLACK
        )
        for row in rows:
            self.seen_inbox_id = max(self.seen_inbox_id, row.id)
            orders = self._orders_in(row)
            wanted = self.state.order_id
            if wanted is None:
                fresh = [
                    o
                    for o, created in orders
                    if created is not None and created >= self.started - _MANUAL_SLACK
                ]
                if not fresh:
                    continue
                wanted = fresh[0]
                self._placed(wanted, f"order {wanted} placed by hand")
            if wanted not in {o for o, _ in orders}:
                continue
            if row.state in ("rejected", "ignored"):
                self.rejections.append(f"{row.source} {row.state}: {row.reason or 'no reason'}")
                continue
            self._set(
                "delivery_received",
                StepState.DONE,
                f"{_SOURCES.get(row.source, row.source)} ({row.topic}) brought it",
                inbox_id=row.id,
                source=row.source,
                topic=row.topic,
            )
            return

    def _orders_in(self, row: Any) -> list[tuple[str, datetime | None]]:
        """The orders an inbox row carries or names, with their creation time when it says."""
        try:
            payload = orjson.loads(row.body)
            if row.source == "webhook":
                found: list[tuple[str, datetime | None]] = [
                    (o.platform_order_id, o.created_at)
                    for o in self.connector.orders_from_webhook(row.topic, payload)
                ]
                return found + [
                    (i, None) for i in self.connector.order_ids_from_webhook(row.topic, payload)
                ]
            if self.state.order_id is not None:
                prefix = f"poll:{self.integration.id}:{self.state.order_id}:"
                return (
                    [(self.state.order_id, None)]
                    if (row.dedupe_key or "").startswith(prefix)
                    else []
                )
            order = self.connector.to_order(payload)
        except (ValueError, KeyError, TypeError):
            return []  # a ping, a checkout, or a body processing will report on
        return [(order.platform_order_id, order.created_at)]

    def _judge_unplaced(self, connection: Connection, state: Any) -> None:
        """An order kept in a status no rule counts as placed: for an order placed through
        the API (paid already), nothing will change by itself, so the run stops."""
        if self.state.manual:
            return
        if has_pending(connection, self.integration.id):
            return
        order = order_from_snapshot(state.snapshot)
        if stages_of(order, self.integration.rules):
            return
        detail = (
            "first seen cancelled or declined: nothing is recorded for it"
            if state.skipped
            else f"its status {state.raw_status!r} is not placed under the status rules"
        )
        self._set("placed_order", StepState.FAILED, detail, raw_status=state.raw_status)

    # -- after -----------------------------------------------------------------------------

    def _diagnose(self) -> None:
        report = diagnose_integration(
            self.services,
            self.account_id,
            self.integration.id,
            order=self.state.order_id,
            client_factory=self.options.client_factory,
        )
        problems = sorted(
            (f for f in report.findings if f.severity in (Severity.WARNING, Severity.ERROR)),
            key=lambda f: -f.severity.rank,
        )
        self.state = replace(self.state, findings=tuple(problems), order_trace=report.order)

    def _cancel(self) -> None:
        order_id = self.state.order_id
        if self.state.manual or order_id is None:
            detail = (
                "cancel and refund it in your store's admin"
                if self.state.manual and order_id
                else "nothing to cancel"
            )
            self._set("order_cancelled", StepState.SKIPPED, detail)
            return
        if self.options.keep:
            self._set("order_cancelled", StepState.SKIPPED, "kept on the store (--keep)")
            return
        try:
            with self._client() as client:
                done = self.connector.cancel_test_order(client, order_id)
        except StoreError as error:
            self.state = self.state.with_step(
                "order_cancelled",
                StepState.FAILED,
                f"the store did not cancel it: {error.detail}; cancel it in the store's admin",
            )
            return
        self._set("order_cancelled", StepState.DONE, done)

    def _client(self) -> StoreClient:
        credentials = self.connector.credentials_model.model_validate(
            self.integration.credentials(self.services.cipher)
        )
        factory = self.options.client_factory or store_clients(
            self.services.outbound, stored_tokens(self.services, self.integration.id)
        )
        return factory(self.connector, credentials)
