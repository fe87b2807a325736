"""``shoptrack sync`` and ``shoptrack replay``: reading a store to the end, and processing
stored deliveries again — each then processes what it queued and reports. ``sync --json``
prints the ``sync-run`` resource the API answers with."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from shoptrack.cli._common import AccountOption, JsonOption, console, in_account, print_json
from shoptrack.services import Services

__all__ = ["replay", "sync"]


def _parse_time(option: str) -> Callable[[str | None], datetime | None]:
    def parse(value: str | None) -> datetime | None:
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as error:
            raise typer.BadParameter(
                "use an ISO 8601 time such as 2026-11-27T10:00:00Z", param_hint=option
            ) from error
        if moment.tzinfo is None:
            raise typer.BadParameter(
                "give the time zone, e.g. a trailing Z for UTC", param_hint=option
            )
        return moment

    return parse


def replay(
    account: AccountOption = None,
    integration: Annotated[str | None, typer.Option(help="Only this integration's rows.")] = None,
    row_id: Annotated[list[int] | None, typer.Option("--id", help="Only these inbox rows.")] = None,
    state: Annotated[
        list[str] | None,
        typer.Option(help="Which rows: dead (default), processed, ignored. Repeatable."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Received at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Received before (ISO 8601).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Process stored deliveries again (dead letters by default), as backfill, then report."""
    from shoptrack.pipeline.runtime import process_inbox
    from shoptrack.store.inbox import InboxState, ReplaySelection
    from shoptrack.store.inbox import replay as replay_rows

    allowed = {InboxState.DEAD, InboxState.PROCESSED, InboxState.IGNORED}
    states = []
    for name in state or ["dead"]:
        try:
            chosen = InboxState(name)
        except ValueError:
            chosen = None
        if chosen not in allowed:
            raise typer.BadParameter(
                f"{name!r}: choose dead, processed or ignored (rejected rows are never replayed)",
                param_hint="--state",
            )
        states.append(chosen)
    services, account_id = in_account(account, integration)
    selection = ReplaySelection(
        account_id=account_id,
        integration_id=integration,
        ids=row_id or (),
        states=states,
        since=_parse_time("--since")(since),
        until=_parse_time("--until")(until),
    )
    with services.database.write() as connection:
        queued = replay_rows(connection, selection, services.clock.now())
    # Replayed rows are backfill and start no flow; live rows pending beside them still do.
    result = process_inbox(services)
    document = {
        "queued": queued,
        "processed": result.processed,
        "failed": result.retried + result.dead,
        "events_recorded": result.events_recorded,
    }
    if as_json:
        print_json(document)
        return
    console.print(
        f"replayed {queued} rows: {result.processed} processed, "
        f"{document['failed']} failed, {result.events_recorded} events recorded"
    )


def _processed(services: Services, account_id: str, run_id: str) -> tuple[int, int]:
    """How many of the rows a sync run stored are processed, and how many it stored."""
    from shoptrack.store.sync_runs import get_run

    with services.database.read() as connection:
        row = get_run(connection, account_id, run_id)
    assert row is not None
    return row.rows_written - row.pending_rows, row.rows_written


def _all_due_processed(services: Services, run_id: str) -> bool:
    """Whether every row a sync run stored is processed, but for those waiting for a retry."""
    from shoptrack.store.sync_runs import due_rows

    with services.database.read() as connection:
        return due_rows(connection, run_id, services.clock.now()) == 0


def sync(
    integration: str,
    backfill: Annotated[
        int | None, typer.Option(help="Fetch this many days of history, recorded as backfill.")
    ] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Sync an integration to the end (waiting for a running sync first), then process what
    it fetched."""
    from shoptrack.api.resources import sync_run_resource
    from shoptrack.cli.progress import SyncReport
    from shoptrack.pipeline.runtime import SyncProcessing, freeze_start_up_objects, process_inbox
    from shoptrack.pipeline.sync import Syncer, SyncProgress
    from shoptrack.store.inbox import pending_count
    from shoptrack.store.integrations import get_integration
    from shoptrack.store.sync_runs import get_run

    if backfill is not None and backfill < 0:
        raise typer.BadParameter("the number of days cannot be negative", param_hint="--backfill")
    services, account_id = in_account(account, integration)
    with services.database.read() as connection:
        named = get_integration(connection, account_id, integration)
        waiting = pending_count(connection, named.id)
    syncer = Syncer(services)
    freeze_start_up_objects()  # a backfill may run for hours
    label = f"{named.name} ({named.platform})"
    with SyncReport(Console(stderr=True), "sync", quiet=as_json) as report:
        report.start(label)
        # A long sync is processed beside its reading, by worker processes of its own.
        with SyncProcessing(services.settings, waiting=waiting) as processing:

            def progress(read: SyncProgress) -> None:
                report.update(label, read)
                processing.stored(read.written)

            run_id = syncer.run_when_free(
                account_id,
                integration,
                backfill_days=backfill,
                progress=progress,
                waiting=functools.partial(report.waiting, label),
            )
            report.done(label)
            if processing.started:
                processing.finish(
                    done=lambda: _all_due_processed(services, run_id),
                    waiting=lambda: report.processed(
                        label, *_processed(services, account_id, run_id)
                    ),
                )
                report.processed(label, *_processed(services, account_id, run_id))
        # Recent polled orders are live: they start flows (their steps run in serve/worker).
        process_inbox(services)
    with services.database.read() as connection:
        row = get_run(connection, account_id, run_id)
    assert row is not None
    document = sync_run_resource(row, services.settings.public_base)
    attributes = document["attributes"]
    if as_json:
        print_json({"data": document})
    elif attributes["error"]:
        console.print(f"sync {run_id} failed: {attributes['error']['detail']}")
    else:
        # Rows another process took are processed there: their events follow.
        pending = attributes["pending_rows"]
        console.print(
            f"sync {run_id}: {attributes['orders_seen']} orders seen, "
            f"{attributes['rows_written']} new, {attributes['events_recorded']} events recorded, "
            + (f"{pending} still being processed" if pending else "all processed")
        )
    if attributes["error"]:
        raise typer.Exit(1)
