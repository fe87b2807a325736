"""Entering flows: the processing hook that turns live, inserted events into flow runs.

:class:`FlowEntry` is the ``on_recorded`` hook of :class:`~shoptrack.pipeline.processing.
Processor`: it is called inside the processing transaction with the events that batch inserted
(never duplicates), so a run is committed together with the event that started it, or not at
all. Backfill events (imports, replays, rule re-evaluations, old polled orders, API events sent
with ``backfill: true``) never start a flow; test orders' events only in accounts whose settings
allow test sends. The same hook credits live orders to the flow emails that earned them
(``flows.attribution``), in the same transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection

from shoptrack.clock import Clock
from shoptrack.flows.attribution import attribute_orders
from shoptrack.flows.conditions import describe, failing_condition
from shoptrack.flows.context import TriggerEvent, condition_context, load_profiles, load_triggers
from shoptrack.store.accounts import accounts_sending_tests
from shoptrack.store.flows import (
    FlowRecord,
    flows_triggered_by,
    last_entry,
    record_activity,
    start_run,
)
from shoptrack.store.recording import RecordedEvent

__all__ = ["FlowEntry"]

logger = logging.getLogger(__name__)


class FlowEntry:
    """Starts the flows that live inserted events trigger (one hook may serve several
    processing threads: it keeps no state of its own)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def __call__(self, connection: Connection, recorded: Sequence[RecordedEvent]) -> None:
        attribute_orders(connection, recorded)
        live = [event for event in recorded if not event.backfill]
        # Test orders check the pipeline, not the customers' mail: they start flows only in
        # accounts whose settings allow test sends.
        testing = {event.account_id for event in live if event.test}
        if testing:
            sending = accounts_sending_tests(connection, testing)
            live = [event for event in live if not event.test or event.account_id in sending]
        if not live:
            return
        flows = flows_triggered_by(connection, [event.metric_id for event in live])
        if not flows:
            return
        by_metric: dict[str, list[FlowRecord]] = defaultdict(list)
        for flow in flows:
            by_metric[flow.trigger_metric_id].append(flow)
        starting = [event for event in live if event.metric_id in by_metric]
        now = self._clock.now()
        by_account: dict[str, list[RecordedEvent]] = defaultdict(list)
        for event in starting:
            by_account[event.account_id].append(event)
        for account_id, account_events in sorted(by_account.items()):
            triggers = load_triggers(connection, account_id, [e.id for e in account_events])
            people = load_profiles(connection, account_id, [e.profile_id for e in account_events])
            for event in account_events:
                for flow in by_metric[event.metric_id]:
                    if flow.account_id != account_id or event.id not in triggers:
                        continue
                    try:
                        # One flow's failure must not fail the batch (and with it the inbox).
                        with connection.begin_nested():
                            self._enter(
                                connection,
                                flow,
                                trigger=triggers[event.id],
                                event=event,
                                people=people,
                                now=now,
                            )
                    except Exception:  # logged; the event stays recorded
                        logger.exception("starting flow %s for event %s failed", flow.id, event.id)

    def _enter(
        self,
        connection: Connection,
        flow: FlowRecord,
        *,
        trigger: TriggerEvent,
        event: RecordedEvent,
        people: dict[str, dict[str, object]],
        now: datetime,
    ) -> None:
        profile = people.get(event.profile_id)
        if profile is None:
            return
        definition = flow.definition
        context = condition_context(connection, flow.account_id, profile, trigger)
        if failing_condition(definition.trigger_filters, context) is not None:
            return  # trigger filters choose which events count; nothing to record

        def refuse(reason: str, detail: str) -> None:
            record_activity(
                connection,
                account_id=flow.account_id,
                flow_id=flow.id,
                profile_id=event.profile_id,
                kind="not_entered",
                reason=reason,
                detail=detail,
                now=now,
            )

        window = definition.reentry.window
        if window is not None:
            last = last_entry(connection, flow.id, event.profile_id)
            if last is not None and (window == timedelta.max or last > now - window):
                refuse("reentry", f"entered this flow already at {last.isoformat()}")
                return
        failing = failing_condition(definition.profile_filters, context)
        if failing is not None:
            refuse("profile_filter", f"does not match the profile filter: {describe(failing)}")
            return
        run_id = start_run(connection, flow=flow, trigger=event, now=now)
        if run_id is None:
            return
        record_activity(
            connection,
            account_id=flow.account_id,
            flow_id=flow.id,
            profile_id=event.profile_id,
            run_id=run_id,
            kind="entered",
            detail=f"{trigger.metric} at {trigger.time.isoformat()}",
            now=now,
        )
