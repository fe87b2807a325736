"""The doctor against a simulated WooCommerce store on a real socket: each check's fault is
injected the way it happens to merchants, the doctor must name exactly that finding with its
evidence, and the applicable fixes must make it go away and the missing events appear."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

import shoptrack
from shoptrack.api.app import create_app
from shoptrack.clock import FrozenClock
from shoptrack.connectors import Connector
from shoptrack.connectors.base import Credentials
from shoptrack.connectors.http import USER_AGENT, StoreClient
from shoptrack.connectors.woocommerce import WooCommerce
from shoptrack.doctor import (
    FINDING_CODES,
    Report,
    Severity,
    apply_fix,
    diagnose_account,
    diagnose_integration,
)
from shoptrack.doctor._checks_deliveries import WAITING_TOO_LONG
from shoptrack.integrations import update
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.store.accounts import create_account
from shoptrack.store.inbox import MAX_ATTEMPTS, InboxEntry, InboxState, retry_delay, write_entry
from shoptrack.store.integrations import create_integration, get_integration, remove_integration
from shoptrack.testing import SIMULATOR_GUARD, woo_webhook
from tests.helpers import AppClient, event_counts, inbox_states
from tests.stores import serving

pytestmark = pytest.mark.slow

SECRET = "whsec-doctor-test"


def _no_wait(connector: Connector, credentials: Credentials) -> StoreClient:
    """The store's client without the waits between retries (tests never sleep)."""
    return connector.client(credentials, guard=SIMULATOR_GUARD, sleep=lambda _seconds: None)


@dataclass
class World:
    services: Services
    clock: FrozenClock
    client: AppClient
    store: WooCommerceSimulator
    store_url: str
    account_id: str
    key: str
    integration_id: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Klaviyo-API-Key {self.key}"}

    def connect(self, **credentials: str) -> str:
        given = self.store.credentials(self.store_url) | {"webhook_secret": SECRET} | credentials
        response = self.client.post(
            "/api/integrations",
            headers=self.headers(),
            json={
                "data": {
                    "type": "integration",
                    "attributes": {"platform": "woocommerce", "name": "Woo", "credentials": given},
                }
            },
        )
        assert response.status_code == 201, response.text
        self.integration_id = str(response.json()["data"]["id"])
        return self.integration_id

    def deliver(self) -> None:
        self.client.call(self.store.deliver_pending)
        self.process()

    def process(self) -> None:
        Processor(self.services.database, self.services.clock).run_until_idle()

    def counts(self) -> dict[str, int]:
        return event_counts(self.services, self.account_id)

    def diagnose(self) -> Report:
        return diagnose_integration(
            self.services, self.account_id, self.integration_id, client_factory=_no_wait
        )

    def fix(self, code: str) -> Any:
        return apply_fix(
            self.services, self.account_id, self.integration_id, code, client_factory=_no_wait
        )

    def store_client(self) -> StoreClient:
        """A client of the store with the integration's keys, to act as the shop admin."""
        credentials = WooCommerce.credentials_model.model_validate(
            self.store.credentials(self.store_url)
        )
        return _no_wait(WooCommerce(), credentials)


def problems(report: Report) -> dict[str, str]:
    """The findings that are warnings or errors, by code."""
    return {
        f.code: f.severity.value
        for f in report.findings
        if f.severity in (Severity.WARNING, Severity.ERROR)
    }


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the store refuses OAuth timestamps 15 minutes away from its clock."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> Iterator[World]:
    with services.database.write() as connection:
        account, key = create_account(connection, "Doctor's shop", clock.now())
    app = create_app(services, run_workers=False)
    client = AppClient(app)
    store = WooCommerceSimulator(
        clock=clock.now, webhook_delivery="manual", webhook_transport=httpx.ASGITransport(app=app)
    )
    try:
        with serving(store.app) as store_url:
            yield World(services, clock, client, store, store_url, account.id, key.key)
    finally:
        client.close()


@pytest.fixture
def healthy(world: World) -> World:
    """A connected store whose first order arrived by webhook as Placed Order."""
    world.connect()
    world.store.add_orders(statuses=["processing"])
    world.deliver()
    assert world.counts()["Placed Order"] == 1
    return world


def test_a_healthy_integration_gives_every_check_and_no_warning_or_error(healthy: World) -> None:
    report = healthy.diagnose()
    assert [f.code for f in report.findings] == list(FINDING_CODES)
    assert problems(report) == {}
    other = report.get("other_metrics_missing")
    assert other is not None
    assert other.severity is Severity.INFO  # Placed Order arrives: the onsite tracker is missing
    assert other.evidence["placed_orders"] == 1
    assert report.get("plugin_outdated").evidence["reported"] == {}  # type: ignore[union-attr]
    # The API answers the same findings as JSON:API resources.
    answer = healthy.client.get(
        f"/api/integrations/{healthy.integration_id}/diagnostics/", headers=healthy.headers()
    )
    assert answer.status_code == 200
    document = answer.json()
    assert [r["attributes"]["code"] for r in document["data"]] == list(FINDING_CODES)
    assert {r["type"] for r in document["data"]} == {"finding"}
    first = document["data"][1]["attributes"]
    assert set(first) == {"code", "severity", "summary", "evidence", "fix", "integration_id"}
    assert document["meta"]["worst"] == "info"


def test_padded_key_is_reported_until_the_fix_forgets_it(world: World) -> None:
    key = world.store.consumer_key
    world.connect(consumer_key=f"  {key} ")
    world.store.add_orders(statuses=["processing"])
    world.deliver()
    finding = world.diagnose().get("credentials_whitespace")
    assert finding is not None
    assert finding.severity is Severity.INFO
    assert finding.evidence == {"trimmed_fields": ["consumer_key"], "store_accepts_trimmed": True}
    assert finding.fix is not None
    assert finding.fix.applicable
    assert problems(world.diagnose()) == {}
    result = world.fix("credentials_whitespace")
    assert result.finding.severity is Severity.OK


def test_webhook_secret_padded_on_the_store_is_found_and_its_deliveries_recovered(
    healthy: World,
) -> None:
    for hook in healthy.store.webhooks:
        hook.secret = SECRET + " "  # the merchant pasted it with a trailing space
    healthy.store.add_orders(2, statuses=["processing"])
    healthy.deliver()
    assert healthy.counts()["Placed Order"] == 1  # both refused with 401
    report = healthy.diagnose()
    assert problems(report) == {"credentials_whitespace": "error"}
    finding = report.get("credentials_whitespace")
    assert finding is not None
    assert finding.evidence["refused_deliveries"] == 2
    assert finding.evidence["secret_change"] == ["a trailing space added"]
    assert SECRET not in orjson.dumps(finding.as_json()).decode()
    signature = report.get("webhook_signature_rejected")
    assert signature is not None
    assert signature.severity is Severity.OK

    result = healthy.fix("credentials_whitespace")
    assert result.finding.severity is Severity.OK
    assert healthy.counts()["Placed Order"] == 3
    assert problems(result.report) == {}
    # The store's secret verifies from now on (intake reads the secrets again within seconds).
    with healthy.services.database.read() as connection:
        integration = get_integration(connection, healthy.account_id, healthy.integration_id)
    secrets = WooCommerce().webhook_secrets(integration.credentials(healthy.services.cipher))
    headers, body = woo_webhook({"id": 1}, secret=SECRET + " ")
    assert WooCommerce().check_webhook(secrets, headers, body).verdict == "accepted"


def test_rotated_key_is_credentials_rejected_with_the_stores_answer(healthy: World) -> None:
    healthy.store.regenerate_key()
    report = healthy.diagnose()
    assert problems(report) == {"credentials_rejected": "error"}
    finding = report.get("credentials_rejected")
    assert finding is not None
    assert finding.evidence["store_status"] == 401
    assert "woocommerce_rest" in finding.evidence["store_answer"]
    assert finding.fix is not None
    assert not finding.fix.applicable
    answer = healthy.client.post(
        f"/api/integrations/{healthy.integration_id}/diagnostics/credentials_rejected/fix",
        headers=healthy.headers(),
    )
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["code"] == "fix_not_applicable"


def test_firewall_403_for_our_user_agent(healthy: World) -> None:
    healthy.store.set_faults({"firewall_user_agent": "shoptrack"})
    report = healthy.diagnose()
    assert problems(report) == {"firewall_blocked": "error"}
    finding = report.get("firewall_blocked")
    assert finding is not None
    assert finding.evidence["store_status"] == 403
    assert "cloudflare" in finding.evidence["store_answer"].lower()
    assert finding.evidence["user_agent"] == f"shoptrack/{shoptrack.__version__}"
    assert finding.fix is not None
    assert not finding.fix.applicable
    assert repr(USER_AGENT) in finding.fix.text
    assert "no fixed IP" in finding.fix.text


def test_custom_status_is_reported_and_the_fix_records_its_orders(world: World) -> None:
    world.store.set_faults({"custom_statuses": ["awaiting-shipment"]})
    world.connect()
    ids = world.store.add_orders(3, statuses=["awaiting-shipment", "awaiting-shipment", "pending"])
    world.deliver()
    assert world.counts() == {}
    report = world.diagnose()
    assert problems(report) == {
        "custom_status_unmapped": "warning",
        "no_recent_placed_orders": "error",
        # No Placed Order and no onsite events either: a warning beside the missing one.
        "other_metrics_missing": "warning",
    }
    finding = report.get("custom_status_unmapped")
    assert finding is not None
    assert finding.evidence["orders"] == 2
    assert finding.evidence["never_placed"] == 2
    assert list(finding.evidence["statuses"]) == ["awaiting-shipment"]  # pending is WooCommerce's
    assert finding.evidence["newest_example"]["order_id"] in {str(i) for i in ids[:2]}
    missing = report.get("no_recent_placed_orders")
    assert missing is not None
    assert missing.evidence["orders_received"] == 3
    assert missing.evidence["see"] == ["custom_status_unmapped", "other_metrics_missing"]

    traced = world.client.get(
        f"/api/integrations/{world.integration_id}/diagnostics?order={ids[0]}",
        headers=world.headers(),
    ).json()["meta"]["order"]
    assert traced["raw_status"] == "awaiting-shipment"
    assert traced["recorded"]["placed"] is None
    assert "custom_status_unmapped" in traced["explanation"]

    result = world.fix("custom_status_unmapped")
    assert result.finding.severity is Severity.OK
    assert world.counts()["Placed Order"] == 2
    after = diagnose_integration(
        world.services, world.account_id, world.integration_id, order=str(ids[0])
    ).order
    assert after is not None
    assert after["recorded"]["placed"] is not None
    assert after["stages_now"] == ["placed"]
    unknown = diagnose_integration(
        world.services, world.account_id, world.integration_id, order="999999"
    ).order
    assert unknown is not None
    assert unknown["kept"] is False
    assert problems(result.report) == {}


def test_status_skipped_orders_are_info(healthy: World) -> None:
    healthy.store.add_orders(statuses=["cancelled"])
    healthy.deliver()
    finding = healthy.diagnose().get("status_skipped")
    assert finding is not None
    assert finding.severity is Severity.INFO
    assert finding.evidence["statuses"] == {"cancelled": 1}


def test_webhooks_disabled_by_the_store_are_registered_again(healthy: World) -> None:
    for hook in healthy.store.webhooks:
        hook.status = "disabled"  # what WooCommerce does after repeated failed deliveries
    healthy.store.add_orders(statuses=["processing"])
    healthy.deliver()  # nothing is sent
    report = healthy.diagnose()
    assert problems(report) == {"webhooks_disabled_on_store": "warning"}
    finding = report.get("webhooks_disabled_on_store")
    assert finding is not None
    assert sorted(d["topic"] for d in finding.evidence["disabled"]) == [
        "order.created",
        "order.updated",
    ]
    assert {d["status"] for d in finding.evidence["disabled"]} == {"disabled"}

    result = healthy.fix("webhooks_disabled_on_store")
    assert result.finding.severity is Severity.OK
    healthy.store.add_orders(statuses=["processing"])
    healthy.deliver()
    assert healthy.counts()["Placed Order"] == 2  # the new order arrived by webhook


def test_webhooks_deleted_on_the_store_are_missing(healthy: World) -> None:
    with healthy.store_client() as client:
        for hook in healthy.store.webhooks:
            client.request("DELETE", f"/wp-json/wc/v3/webhooks/{hook.id}", params={"force": "true"})
    report = healthy.diagnose()
    assert problems(report) == {"webhooks_missing": "warning"}
    finding = report.get("webhooks_missing")
    assert finding is not None
    assert finding.evidence["missing_topics"] == ["order.created", "order.updated"]
    assert healthy.fix("webhooks_missing").finding.severity is Severity.OK
    assert sorted(h.topic for h in healthy.store.webhooks) == ["order.created", "order.updated"]


def test_forged_signature_is_webhook_signature_rejected(healthy: World) -> None:
    body = b'{"id": 1, "status": "processing"}'
    answer = healthy.client.post(
        f"/webhooks/woocommerce/{healthy.integration_id}",
        content=body,
        headers={"x-wc-webhook-signature": "Zm9yZ2Vk", "x-wc-webhook-topic": "order.updated"},
    )
    assert answer.status_code == 401
    report = healthy.diagnose()
    assert problems(report) == {"webhook_signature_rejected": "warning"}
    finding = report.get("webhook_signature_rejected")
    assert finding is not None
    assert finding.evidence["refused"] == 1
    assert finding.evidence["reasons"] == {"signature does not match the webhook secret": 1}
    assert finding.evidence["last_accepted"] is not None


def test_skewed_signature_is_webhook_clock_skew(healthy: World) -> None:
    # WooCommerce signs no timestamp; the row is the one intake stores for platforms that do.
    headers, body = woo_webhook(
        healthy.store.order(min(healthy.store.statuses())), secret=SECRET, delivery_id="skewed"
    )
    with healthy.services.database.write() as connection:
        write_entry(
            connection,
            InboxEntry(
                account_id=healthy.account_id,
                integration_id=healthy.integration_id,
                source="webhook",
                topic="order.updated",
                body=body,
                headers=headers,
                state=InboxState.REJECTED,
                reason="clock_skew: the webhook timestamp is 612 s away from the server's clock",
            ),
            healthy.clock.now(),
        )
    report = healthy.diagnose()
    assert problems(report) == {"webhook_clock_skew": "warning"}
    finding = report.get("webhook_clock_skew")
    assert finding is not None
    assert finding.evidence["refused"] == 1
    assert "612 s" in next(iter(finding.evidence["reasons"]))


@pytest.mark.parametrize(("version", "severity"), [("0.0.9", "warning"), (None, "ok")])
def test_stale_tracker_is_plugin_outdated(
    healthy: World, version: str | None, severity: str
) -> None:
    properties: dict[str, Any] = {"ProductName": "Hoodie"}
    if version is not None:
        properties["$tracker_version"] = version
    event = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": properties,
                "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}},
                "profile": {
                    "data": {"type": "profile", "attributes": {"email": "ada@example.com"}}
                },
            },
        }
    }
    with healthy.services.database.read() as connection:
        from shoptrack.store.accounts import get_account

        public_key = get_account(connection, healthy.account_id).public_key
    answer = healthy.client.post(f"/client/events?company_id={public_key}", json=event)
    assert answer.status_code == 202, answer.text
    healthy.process()
    report = healthy.diagnose()
    finding = report.get("plugin_outdated")
    assert finding is not None
    assert finding.severity.value == severity
    assert finding.evidence["property"] == "$tracker_version"
    if version is not None:
        assert problems(report) == {"plugin_outdated": "warning"}
        assert finding.evidence["newest"]["version"] == version
        assert finding.evidence["server_version"] == shoptrack.__version__
    other = report.get("other_metrics_missing")
    assert other is not None
    assert other.severity is Severity.OK


def test_sync_not_yet_due_is_pending_info_and_syncs_now(healthy: World) -> None:
    Syncer(healthy.services).run(healthy.account_id, healthy.integration_id)
    healthy.process()
    healthy.clock.advance(timedelta(minutes=2))
    (order_id,) = healthy.store.add_orders(statuses=["processing"])  # its webhook waits
    healthy.clock.advance(timedelta(seconds=1))
    report = healthy.diagnose()
    assert problems(report) == {}
    finding = report.get("sync_pending")
    assert finding is not None
    assert finding.severity is Severity.INFO
    assert finding.evidence["not_yet_seen"] == 1
    assert finding.evidence["newest"]["order_id"] == str(order_id)
    assert finding.evidence["next_sync_at"] is not None
    assert "(in 13 min)" in finding.summary
    assert finding.fix is not None
    assert finding.fix.applicable

    result = healthy.fix("sync_pending")
    assert result.finding.severity is Severity.OK
    assert healthy.counts()["Placed Order"] == 2


def test_dead_letters_are_replayed_once_the_cause_is_fixed(
    healthy: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    healthy.store.add_orders(statuses=["processing"])

    def broken(self: WooCommerce, raw: Any) -> Any:
        raise ValueError("a bug in the mapping")

    monkeypatch.setattr(WooCommerce, "to_order", broken)
    healthy.client.call(healthy.store.deliver_pending)
    later = FrozenClock(healthy.clock.now())
    for attempt in range(1, MAX_ATTEMPTS + 1):
        Processor(healthy.services.database, later).run_until_idle()
        later.advance(retry_delay(attempt))
    assert inbox_states(healthy.services).get("dead") == 1
    monkeypatch.undo()

    report = healthy.diagnose()
    assert problems(report) == {"deliveries_dead_lettered": "error"}
    finding = report.get("deliveries_dead_lettered")
    assert finding is not None
    assert finding.evidence["dead"] == 1
    assert "a bug in the mapping" in finding.evidence["last_error"]

    answer = healthy.client.post(
        f"/api/integrations/{healthy.integration_id}/diagnostics/deliveries_dead_lettered/fix/",
        headers=healthy.headers(),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["attributes"]["severity"] == "ok"
    assert "1 events recorded" not in answer.json()["meta"]["done"]
    assert healthy.counts()["Placed Order"] == 2


def test_deliveries_no_process_processes_are_found(healthy: World) -> None:
    # Stored at intake, then no worker runs: their events stay missing, and no other check
    # would say why (a drop is judged only up to the oldest waiting delivery).
    now = healthy.clock.now()
    healthy.store.add_orders(statuses=["processing"])
    # Received 15 minutes ago: shoptrack's clock goes back for it, not the store's (which
    # checks the keys' timestamps against its own time).
    healthy.clock.set(now - WAITING_TOO_LONG)
    healthy.client.call(healthy.store.deliver_pending)
    healthy.clock.set(now)
    assert inbox_states(healthy.services).get("pending") == 1
    assert problems(healthy.diagnose()) == {}  # due for 15 minutes: a worker may take it now

    healthy.clock.advance(timedelta(seconds=1))
    report = healthy.diagnose()
    assert problems(report) == {"deliveries_waiting": "error"}
    finding = report.get("deliveries_waiting")
    assert finding is not None
    assert finding.evidence["waiting"] == finding.evidence["live"] == 1
    assert finding.fix is not None
    assert "shoptrack worker" in finding.fix.text
    assert not finding.fix.applicable  # a worker of the merchant's processes them

    healthy.process()
    assert problems(healthy.diagnose()) == {}
    assert healthy.counts()["Placed Order"] == 2


def test_failing_syncs_are_reported_with_their_class_and_synced_again(healthy: World) -> None:
    healthy.store.set_faults({"server_error": 5})
    syncer = Syncer(
        healthy.services,
        client_factory=lambda connector, integration, services: _no_wait(
            connector,
            connector.credentials_model.model_validate(integration.credentials(services.cipher)),
        ),
    )
    syncer.run(healthy.account_id, healthy.integration_id)
    report = healthy.diagnose()
    assert problems(report) == {"sync_failing": "warning"}
    finding = report.get("sync_failing")
    assert finding is not None
    assert finding.evidence["failed_runs"] == 1
    assert finding.evidence["error"]["code"] == "store_unavailable"
    assert finding.evidence["error"]["kind"] == "transient"
    assert finding.fix is not None
    assert finding.fix.applicable
    assert healthy.fix("sync_failing").finding.severity is Severity.OK


def test_disabled_integration_is_enabled_and_its_kept_deliveries_processed(
    healthy: World,
) -> None:
    update(
        healthy.services,
        account_id=healthy.account_id,
        integration_id=healthy.integration_id,
        settings={"enabled": False},
    )
    healthy.client.app.webhooks._cache.clear()  # intake trusts its copy for 5 s; skip the wait
    healthy.store.add_orders(statuses=["processing"])
    healthy.deliver()
    report = healthy.diagnose()
    assert problems(report) == {"integration_disabled": "error"}
    finding = report.get("integration_disabled")
    assert finding is not None
    assert finding.evidence["ignored_deliveries"] == 1
    result = healthy.fix("integration_disabled")
    assert result.finding.severity is Severity.OK
    assert healthy.counts()["Placed Order"] == 2


def test_removed_or_unknown_integration_is_missing(healthy: World) -> None:
    unknown = diagnose_integration(healthy.services, healthy.account_id, "01NOPE")
    assert [(f.code, f.severity) for f in unknown.findings] == [
        ("integration_missing", Severity.ERROR)
    ]
    with healthy.services.database.write() as connection:
        integration = get_integration(connection, healthy.account_id, healthy.integration_id)
        remove_integration(connection, integration, healthy.clock.now())
    removed = healthy.diagnose()
    finding = removed.get("integration_missing")
    assert finding is not None
    assert finding.severity is Severity.ERROR
    assert finding.evidence["removed_at"] is not None
    account = diagnose_account(healthy.services, healthy.account_id)
    assert [(f.code, f.severity) for f in account.findings] == [
        ("integration_missing", Severity.ERROR),
        ("plugin_outdated", Severity.OK),
    ]


def test_empty_credentials_are_settings_incomplete(world: World) -> None:
    with world.services.database.write() as connection:
        integration = create_integration(
            connection,
            world.services.cipher,
            account_id=world.account_id,
            platform="woocommerce",
            name="Half set up",
            credentials={"store_url": world.store_url, "consumer_key": "ck_x"},
            settings={},
            now=world.clock.now(),
        )
    world.integration_id = integration.id
    report = world.diagnose()
    finding = report.get("settings_incomplete")
    assert finding is not None
    assert finding.severity is Severity.ERROR
    assert finding.evidence["missing_fields"] == ["consumer_secret", "webhook_secret"]
    credentials = report.get("credentials_rejected")
    assert credentials is not None
    assert credentials.evidence == {"checked": False}


def test_a_new_store_without_orders_says_so(world: World) -> None:
    world.connect()
    finding = world.diagnose().get("no_recent_placed_orders")
    assert finding is not None
    assert finding.severity is Severity.INFO
    assert finding.evidence["store_orders_changed"] == 0


def test_account_diagnostics_cover_every_integration(healthy: World) -> None:
    answer = healthy.client.get("/api/diagnostics", headers=healthy.headers())
    assert answer.status_code == 200
    codes = [r["attributes"]["code"] for r in answer.json()["data"]]
    assert codes[:2] == ["integration_missing", "plugin_outdated"]
    assert codes[2:] == list(FINDING_CODES[:-1])
    onsite = healthy.client.get(
        "/api/diagnostics?metric=Viewed%20Product", headers=healthy.headers()
    ).json()["data"]
    assert "custom_status_unmapped" not in {r["attributes"]["code"] for r in onsite}
    assert "other_metrics_missing" in {r["attributes"]["code"] for r in onsite}
    wrong = healthy.client.get("/api/diagnostics?metric=Nope", headers=healthy.headers())
    assert wrong.status_code == 400


def test_another_accounts_key_sees_only_its_own(healthy: World) -> None:
    with healthy.services.database.write() as connection:
        _account, key = create_account(connection, "Someone else", healthy.clock.now())
    theirs = {"Authorization": f"Klaviyo-API-Key {key.key}"}
    base = f"/api/integrations/{healthy.integration_id}/diagnostics"
    seen = healthy.client.get(base, headers=theirs)
    assert seen.status_code == 404, seen.text
    assert seen.json()["errors"][0]["code"] == "not_found"
    fix = healthy.client.post(f"{base}/sync_pending/fix", headers=theirs)
    assert fix.status_code == 404, fix.text
    # A removed integration of one's own account is integration_missing.
    with healthy.services.database.write() as connection:
        integration = get_integration(connection, healthy.account_id, healthy.integration_id)
        remove_integration(connection, integration, healthy.clock.now())
    own = healthy.client.get(base, headers=healthy.headers())
    assert own.status_code == 200, own.text
    assert own.json()["data"][0]["attributes"]["code"] == "integration_missing"


def test_flows_left_on_a_removed_store_are_retargeted(healthy: World) -> None:
    from sqlalchemy import select

    from shoptrack.flows.model import FlowDefinition, FlowStatus
    from shoptrack.store.flows import get_flow, insert_flow
    from shoptrack.store.schema import metrics

    now = healthy.clock.now()
    with healthy.services.database.write() as connection:
        old = create_integration(
            connection,
            healthy.services.cipher,
            account_id=healthy.account_id,
            platform="woocommerce",
            name="The old shop",
            credentials=healthy.store.credentials(healthy.store_url),
            settings={},
            now=now,
        )

        def placed_metric(integration_id: str) -> str:
            return str(
                connection.execute(
                    select(metrics.c.id).where(
                        metrics.c.source == integration_id, metrics.c.name == "Placed Order"
                    )
                ).scalar_one()
            )

        flow = insert_flow(
            connection,
            account_id=healthy.account_id,
            name="Thank you",
            template=None,
            status=FlowStatus.LIVE,
            trigger_metric_id=placed_metric(old.id),
            definition=FlowDefinition(),
            now=now,
        )
        remove_integration(connection, old, now)
        target = placed_metric(healthy.integration_id)
    report = healthy.diagnose()
    assert problems(report) == {"platform_switched": "warning"}
    finding = report.get("platform_switched")
    assert finding is not None
    (listed,) = finding.evidence["flows"]
    assert listed["id"] == flow.id
    assert listed["integration_id"] == old.id
    assert listed["integration_removed_at"] is not None
    assert finding.evidence["placed_orders"] == 1

    result = healthy.fix("platform_switched")
    assert result.finding.severity is Severity.OK
    with healthy.services.database.read() as connection:
        assert get_flow(connection, healthy.account_id, flow.id).trigger_metric_id == target
