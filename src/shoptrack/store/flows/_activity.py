"""Flow activity in the database: every step a profile takes in a flow, which is both the
profile's feed and what the flow's statistics count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, func, select

from shoptrack.store.flows._definitions import FlowRecord
from shoptrack.store.flows._runs import RunRecord, RunState
from shoptrack.store.schema import flow_activity, flow_runs, flows

__all__ = [
    "StepStatistics",
    "activity_of_profile",
    "flow_statistics",
    "record_activity",
    "record_run_activity",
    "step_statistics",
]


def record_activity(
    connection: Connection,
    *,
    account_id: str,
    flow_id: str,
    profile_id: str,
    kind: str,
    now: datetime,
    run_id: str | None = None,
    step_id: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """Records one step a profile took in a flow (its feed, and the flow's statistics)."""
    connection.execute(
        flow_activity.insert().values(
            account_id=account_id,
            flow_id=flow_id,
            flow_run_id=run_id,
            profile_id=profile_id,
            step_id=step_id,
            kind=kind,
            reason=reason,
            detail=None if detail is None else detail[:2000],
            at=now,
        )
    )


def record_run_activity(
    connection: Connection,
    run: RunRecord,
    now: datetime,
    kind: str,
    step_id: str | None,
    *,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    """Records one step a run's profile took (``record_activity`` for a run)."""
    record_activity(
        connection,
        account_id=run.account_id,
        flow_id=run.flow_id,
        profile_id=run.profile_id,
        run_id=run.id,
        step_id=step_id,
        kind=kind,
        reason=reason,
        detail=detail,
        now=now,
    )


def activity_of_profile(
    connection: Connection,
    account_id: str,
    profile_id: str,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
    limit: int = 200,
) -> list[Row[Any]]:
    """The profile's flow activity (entered, waited, emailed, skipped…), each step with its
    flow's name (``flow_name``, None once the flow is deleted), at or after ``since`` and
    before ``before`` (None: no bound), newest first: a profile's feed reads the stretch of
    time a page of its events covers (the (account, profile, time) index serves it)."""
    conditions = [
        flow_activity.c.account_id == account_id,
        flow_activity.c.profile_id == profile_id,
    ]
    if since is not None:
        conditions.append(flow_activity.c.at >= since)
    if before is not None:
        conditions.append(flow_activity.c.at < before)
    return list(
        connection.execute(
            select(flow_activity, flows.c.name.label("flow_name"))
            .outerjoin(
                flows, and_(flows.c.id == flow_activity.c.flow_id, flows.c.account_id == account_id)
            )
            .where(*conditions)
            .order_by(flow_activity.c.at.desc(), flow_activity.c.id.desc())
            .limit(limit)
        )
    )


def _activity_of(flow: FlowRecord) -> list[ColumnElement[bool]]:
    return [flow_activity.c.account_id == flow.account_id, flow_activity.c.flow_id == flow.id]


def _waiting_in(flow: FlowRecord, now: datetime) -> list[ColumnElement[bool]]:
    """The flow's runs whose delay is not over."""
    return [
        flow_runs.c.flow_id == flow.id,
        flow_runs.c.state == RunState.ACTIVE,
        flow_runs.c.due_at > now,
    ]


def flow_statistics(connection: Connection, flow: FlowRecord, now: datetime) -> dict[str, Any]:
    """What profiles did in the flow: entered, waiting now, emailed, webhooks sent, skipped and
    exited (each by reason), completed."""
    counts: dict[tuple[str, str | None], int] = {
        (row.kind, row.reason): int(row.total)
        for row in connection.execute(
            select(flow_activity.c.kind, flow_activity.c.reason, func.count().label("total"))
            .where(*_activity_of(flow))
            .group_by(flow_activity.c.kind, flow_activity.c.reason)
        )
    }
    waiting = connection.execute(
        select(func.count()).select_from(flow_runs).where(*_waiting_in(flow, now))
    ).scalar_one()

    def total(kind: str) -> int:
        return sum(count for (k, _), count in counts.items() if k == kind)

    def by_reason(kind: str) -> dict[str, int]:
        return {
            reason or "": count
            for (k, reason), count in sorted(counts.items(), key=str)
            if k == kind
        }

    return {
        "entered": total("entered"),
        "not_entered": by_reason("not_entered"),
        "waiting": int(waiting),
        "emailed": total("emailed"),
        "webhooks_sent": total("webhook_sent"),
        "skipped": by_reason("skipped"),
        "exited": by_reason("exited"),
        "completed": total("completed"),
    }


@dataclass(frozen=True, slots=True)
class StepStatistics:
    """What happened at one step of a flow: the activity recorded there, as ``{kind: {reason:
    count}}`` (``""`` for no reason; kinds as in ``flow_statistics``), and how many active runs
    wait to take it next (``due_later``: their delay is not over)."""

    activity: dict[str, dict[str, int]]
    due_later: int

    def count(self, kind: str) -> int:
        return sum(self.activity.get(kind, {}).values())


def step_statistics(
    connection: Connection, flow: FlowRecord, now: datetime
) -> dict[str, StepStatistics]:
    """``flow_statistics`` per step, by step id (steps nothing reached yet are left out)."""
    activity: dict[str, dict[str, dict[str, int]]] = {}
    for row in connection.execute(
        select(
            flow_activity.c.step_id,
            flow_activity.c.kind,
            flow_activity.c.reason,
            func.count().label("total"),
        )
        .where(*_activity_of(flow), flow_activity.c.step_id.is_not(None))
        .group_by(flow_activity.c.step_id, flow_activity.c.kind, flow_activity.c.reason)
    ):
        kinds = activity.setdefault(row.step_id, {})
        kinds.setdefault(row.kind, {})[row.reason or ""] = int(row.total)
    due_later: dict[str, int] = dict(
        connection.execute(
            select(flow_runs.c.step_id, func.count())
            .where(*_waiting_in(flow, now), flow_runs.c.step_id.is_not(None))
            .group_by(flow_runs.c.step_id)
        ).all()
    )
    return {
        step_id: StepStatistics(activity.get(step_id, {}), int(due_later.get(step_id, 0)))
        for step_id in sorted({*activity, *due_later})
    }
