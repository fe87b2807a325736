"""The fixes shoptrack applies itself, one per finding code; each returns what it did."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from shoptrack.connectors import Connector
from shoptrack.connectors.base import Credentials
from shoptrack.connectors.http import StoreClient
from shoptrack.doctor._checks_flows import retarget_switched_flows
from shoptrack.doctor._checks_orders import unmapped_statuses
from shoptrack.doctor._examination import Examination
from shoptrack.doctor._findings import Finding
from shoptrack.integrations import update
from shoptrack.pipeline.processing import BatchResult
from shoptrack.pipeline.runtime import process_inbox
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.store.inbox import InboxState, ReplaySelection, replay
from shoptrack.store.integrations import Integration, get_integration, update_integration
from shoptrack.store.sync_runs import get_run

__all__ = ["FIXES", "Fixer"]

Fixer = Callable[[Examination, Finding], str]


def _process(services: Services) -> BatchResult:
    """Processes what is pending now: the fix's replayed rows (backfill, which starts no flow)
    and any live rows beside them, which start their flows as the workers would."""
    return process_inbox(services)


def _replay(exam: Examination, states: tuple[InboxState, ...], ids: tuple[int, ...] = ()) -> str:
    """Puts the integration's rows of ``states`` (only ``ids`` when given) back to pending, as
    backfill, and processes them."""
    services = exam.services
    selection = ReplaySelection(
        account_id=exam.integration.account_id,
        integration_id=exam.integration.id,
        ids=ids,
        states=states,
    )
    with services.database.write() as connection:
        queued = replay(connection, selection, services.clock.now())
    result = _process(services)
    return (
        f"{queued} deliveries processed again: {result.processed} processed, "
        f"{result.retried + result.dead} failed, {result.events_recorded} events recorded"
    )


def _enable(exam: Examination, finding: Finding) -> str:
    update(
        exam.services,
        account_id=exam.integration.account_id,
        integration_id=exam.integration.id,
        settings={"enabled": True},
        client_factory=exam.client_factory,
    )
    return "integration enabled; " + _replay(exam, (InboxState.IGNORED,))


def _store_credentials(exam: Examination, changes: Mapping[str, Any]) -> None:
    """Stores changed credentials without asking the store (the fix knows they verify)."""
    services = exam.services
    with services.database.write() as connection:
        current = get_integration(connection, exam.integration.account_id, exam.integration.id)
        update_integration(
            connection,
            services.cipher,
            current,
            now=services.clock.now(),
            credentials={**current.credentials(services.cipher), **changes},
        )


def _forget_trimmed(exam: Examination) -> None:
    services = exam.services
    with services.database.write() as connection:
        current = get_integration(connection, exam.integration.account_id, exam.integration.id)
        settings = {k: v for k, v in current.settings.items() if k != "trimmed_credentials"}
        update_integration(
            connection, services.cipher, current, now=services.clock.now(), settings=settings
        )


def _whitespace(exam: Examination, finding: Finding) -> str:
    padded = exam.rejected.whitespace
    if not padded:
        _forget_trimmed(exam)
        return "the store accepts the trimmed keys; the mark is forgotten"
    # Kept beside the secret as a rotation keeps the old one (BigCommerce: its client secrets).
    field = exam.connector.previous_webhook_secrets_field
    if field is None:
        return "nothing to keep: the platform sends no webhooks"
    previous = list(exam.stored_credentials.get(field) or [])
    added = [
        secret for secret in dict.fromkeys(item[1] for item in padded) if secret not in previous
    ]
    _store_credentials(exam, {field: [*added, *previous]})
    ids = tuple(item[0].id for item in padded)
    return (
        f"the store's secret ({', '.join(sorted({item[2] for item in padded}))}) is accepted "
        "too; " + _replay(exam, (InboxState.REJECTED,), ids)
    )


def _register_webhooks(exam: Examination, finding: Finding) -> str:
    with exam.client() as client:
        exam.connector.register_webhooks(client, exam.delivery_url, _credentials(exam))
    return f"webhooks registered for {exam.delivery_url}"


def _credentials(exam: Examination) -> Credentials:
    credentials = exam.credentials
    if credentials is None:
        raise RuntimeError("the stored credentials cannot be read")
    return credentials


def _replay_dead(exam: Examination, finding: Finding) -> str:
    return _replay(exam, (InboxState.DEAD,))


def _sync_now(exam: Examination, finding: Finding) -> str:
    services = exam.services

    def client(connector: Connector, integration: Integration, _services: Services) -> StoreClient:
        return exam.client_factory(connector, _credentials(exam))

    integration = exam.integration
    run_id = Syncer(services, client_factory=client).run(integration.account_id, integration.id)
    result = _process(services)
    with services.database.read() as connection:
        run = get_run(connection, integration.account_id, run_id)
    state = run.state if run is not None else "unknown"
    return (
        f"sync {run_id} {state}: {run.orders_seen if run is not None else 0} orders seen, "
        f"{result.events_recorded} events recorded"
    )


def _map_statuses(exam: Examination, finding: Finding) -> str:
    statuses = sorted(unmapped_statuses(exam))
    placed = exam.integration.rules.placed
    included = sorted(placed.statuses | set(statuses))
    result = update(
        exam.services,
        account_id=exam.integration.account_id,
        integration_id=exam.integration.id,
        settings={"placed_statuses": {"include": included}},
        client_factory=exam.client_factory,
    )
    recorded = "; ".join(result.warnings) or "no events were missing"
    return f"placed_statuses now include {', '.join(statuses)}; {recorded}"


# The fixes shoptrack can apply, by finding code.
FIXES: Mapping[str, Fixer] = {
    "integration_disabled": _enable,
    "credentials_whitespace": _whitespace,
    "webhooks_missing": _register_webhooks,
    "webhooks_disabled_on_store": _register_webhooks,
    "deliveries_dead_lettered": _replay_dead,
    "sync_failing": _sync_now,
    "sync_pending": _sync_now,
    "custom_status_unmapped": _map_statuses,
    "platform_switched": retarget_switched_flows,
}
