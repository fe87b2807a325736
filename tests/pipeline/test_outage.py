"""Intake while the database takes no writes (read-only, or full): every intake path goes on
acknowledging into the spool, ``/health`` says degraded and why, and once the database takes
writes again the spool is drained into the inbox in order, duplicates dropped; only a full spool
(or none) refuses, with 503 ``unavailable`` and ``Retry-After`` — never a 500."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import sys
from typing import Any

import orjson
import pytest
from pydantic import ByteSize
from sqlalchemy import select

from shoptrack.api.app import create_app
from shoptrack.doctor import Finding, Severity, diagnose_integration
from shoptrack.pipeline.processing import Processor
from shoptrack.pipeline.spool import spool_directory
from shoptrack.services import Services
from shoptrack.store.schema import inbox
from shoptrack.testing import WEBHOOK_SECRET, Shop, woo_order, woo_webhook
from tests.conftest import START
from tests.helpers import AppClient, event_counts, inbox_states
from tests.outages import refusing_writes
from tests.processes import wait_until


def _webhook(client: AppClient, shop: Shop, order_id: int, *, padding: int = 0) -> Any:
    order = woo_order(order_id, "processing", START)
    if padding:
        order["customer_note"] = "x" * padding
    headers, body = woo_webhook(order, secret=WEBHOOK_SECRET, delivery_id=str(order_id))
    return client.post(
        f"/webhooks/woocommerce/{shop.integration.id}", content=body, headers=headers
    )


def _event(metric: str, unique_id: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"ProductName": "Hoodie"},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": "a@x.com"}}},
                "unique_id": unique_id,
            },
        }
    }


def _segment_batch() -> bytes:
    message = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "msg-1",
        "timestamp": "2026-11-27T10:30:00Z",
        "properties": {"order_id": "S-1", "total": 42.5},
        "context": {"traits": {"email": "ada@example.com"}},
    }
    return orjson.dumps({"batch": [message]})


def _basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def _finding(services: Services, shop: Shop, code: str) -> Finding:
    report = diagnose_integration(services, shop.account_id, shop.integration.id, live=False)
    finding = report.get(code)
    assert finding is not None
    return finding


def _healthy(client: AppClient) -> bool:
    return client.get("/health").status_code == 200


@pytest.mark.parametrize("how", ["read_only", "full"])
def test_every_intake_path_acknowledges_into_the_spool_and_nothing_is_lost(
    services: Services, shop: Shop, client: AppClient, how: str
) -> None:
    if how == "full" and not services.database.is_sqlite:
        pytest.skip("a full PostgreSQL needs a full disk; its outage test stops the server")
    assert _healthy(client)
    with refusing_writes(services.database, how):
        first = _webhook(client, shop, 1, padding=20_000)  # needs new pages, even when full
        assert first.status_code == 200, first.text
        assert first.json() == {"status": "accepted"}
        assert _webhook(client, shop, 1, padding=20_000).status_code == 200  # a store's retry
        api = client.post("/api/events", json=_event("Placed Order", "o-1"), headers=shop.headers())
        assert api.status_code == 202, api.text
        url = f"/client/events?company_id={shop.public_key}"
        tracked = client.post(url, json=_event("Viewed Product", "v-1"))
        assert tracked.status_code == 202, tracked.text
        segment = client.post(
            "/v1/batch", content=_segment_batch(), headers=_basic(shop.private_key)
        )
        assert segment.status_code == 200, segment.text
        headers, body = woo_webhook(woo_order(9, "processing", START), secret="forged")
        forged = client.post(
            f"/webhooks/woocommerce/{shop.integration.id}", content=body, headers=headers
        )
        assert forged.status_code == 401
        if how == "read_only":  # (a small row still fits in a full database's free pages)
            # The rest of the API writes directly: a clear 503 there too, never a 500.
            profile = {"data": {"type": "profile", "attributes": {"email": "new@x.com"}}}
            direct = client.post("/api/profiles", json=profile, headers=shop.headers())
            assert direct.status_code == 503, direct.text
            assert direct.headers["retry-after"] == "30"
            assert direct.json()["errors"][0]["code"] == "unavailable"
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert "the database cannot take writes" in health.json()["reason"]
        assert health.json()["spool"]["deliveries"] == 5  # the forgery takes no spool space
        assert inbox_states(services) == {}
        # Reads still work: the doctor says what waits, and why.
        spooled = _finding(services, shop, "deliveries_spooled")
        assert spooled.severity is Severity.WARNING
        assert spooled.evidence["waiting_in_running_processes"] == 2  # the webhook, twice
    wait_until(lambda: _healthy(client), timeout=60)
    assert client.get("/health").json()["spool"]["deliveries"] == 0
    assert inbox_states(services) == {"pending": 4}  # the retry was a duplicate
    with services.database.read() as connection:
        sources = connection.execute(select(inbox.c.source).order_by(inbox.c.id)).scalars().all()
    assert sources == ["webhook", "api", "client", "segment"]  # in the order received
    Processor(services.database, services.clock).run_until_idle()
    counts = event_counts(services, shop.account_id)
    assert counts["Placed Order"] == 3  # the webhook's order, the API's and Segment's
    assert counts["Viewed Product"] == 1
    refused = _finding(services, shop, "webhook_signature_rejected")
    assert refused.evidence["refused"] == 1
    assert refused.evidence["not_stored"] == 1
    assert _finding(services, shop, "deliveries_spooled").severity is Severity.OK


def _with_spool(services: Services, size: int) -> Services:
    settings = services.settings.model_copy(update={"spool_size": ByteSize(size)})
    return dataclasses.replace(services, settings=settings)


def test_a_full_spool_refuses_with_503_and_retry_after(services: Services, shop: Shop) -> None:
    client = AppClient(create_app(_with_spool(services, 60_000), run_workers=False))
    try:
        with refusing_writes(services.database):
            assert _webhook(client, shop, 1, padding=20_000).status_code == 200
            assert _webhook(client, shop, 2, padding=20_000).status_code == 200
            refused = _webhook(client, shop, 3, padding=20_000)
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/vnd.api+json"
            assert refused.headers["retry-after"] == "30"
            error = refused.json()["errors"][0]
            assert error["code"] == "unavailable"
            assert "the spool is full" in error["detail"]
            small = client.post(
                "/api/events", json=_event("Placed Order", "o-1"), headers=shop.headers()
            )
            assert small.status_code == 202  # what still fits is taken
        wait_until(lambda: _healthy(client), timeout=60)
        assert _webhook(client, shop, 3).status_code == 200  # the store's retry, later
    finally:
        client.close()
    assert inbox_states(services) == {"pending": 4}


def test_without_a_spool_an_outage_is_503_never_500(services: Services, shop: Shop) -> None:
    client = AppClient(create_app(_with_spool(services, 0), run_workers=False))
    try:
        with refusing_writes(services.database):
            for answer in (
                _webhook(client, shop, 1),
                client.post(
                    "/api/events", json=_event("Placed Order", "o"), headers=shop.headers()
                ),
            ):
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"] == "30"
                assert answer.json()["errors"][0]["code"] == "unavailable"
            assert client.get("/health").json()["status"] == "degraded"
        wait_until(lambda: _healthy(client), timeout=60)
        assert _webhook(client, shop, 1).status_code == 200
    finally:
        client.close()
    assert inbox_states(services) == {"pending": 1}


def test_health_probes_writes_before_any_delivery(services: Services, client: AppClient) -> None:
    assert client.get("/health").json() == {
        "status": "ok",
        "version": client.get("/health").json()["version"],
        "spool": {"deliveries": 0, "bytes": 0, "max_bytes": 256 * 1024 * 1024},
    }
    with refusing_writes(services.database):
        # Nothing is written meanwhile: health asks the writer to try, and says what it found.
        wait_until(lambda: client.get("/health").status_code == 503, timeout=60)
        answer = client.get("/health").json()
        assert answer["status"] == "degraded"
        assert "the database cannot take writes" in answer["reason"]
    wait_until(lambda: _healthy(client), timeout=60)


_SPOOL_AND_EXIT = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from shoptrack.pipeline.spool import Spool
from shoptrack.store.inbox import InboxEntry

spool = Spool(Path(sys.argv[1]), max_bytes=1 << 20)
spool.open()
spool.append([InboxEntry(account_id=sys.argv[2], integration_id=sys.argv[3], source="webhook",
    topic="order.updated", body=sys.argv[4].encode(), headers={}, dedupe_key="webhook:left:1",
    received_at=datetime.now(UTC))])
spool.close()
"""


def test_a_spool_left_by_a_stopped_process_is_found_and_drained_by_the_next(
    services: Services, shop: Shop
) -> None:
    body = orjson.dumps(woo_order(5, "processing", START)).decode()
    directory = spool_directory(services.settings.data_dir)
    subprocess.run(
        [sys.executable, "-c", _SPOOL_AND_EXIT, str(directory), shop.account_id,
         shop.integration.id, body],
        check=True, timeout=60,
    )  # fmt: skip
    left = _finding(services, shop, "deliveries_spooled")
    assert left.severity is Severity.ERROR
    assert left.evidence["left_by_stopped_processes"] == 1
    assert left.fix is not None
    assert left.fix.command == "shoptrack serve"
    client = AppClient(create_app(services, run_workers=False))  # adopts it as it starts
    try:
        wait_until(lambda: inbox_states(services) == {"pending": 1}, timeout=60)
        assert _healthy(client)
    finally:
        client.close()
    assert _finding(services, shop, "deliveries_spooled").severity is Severity.OK
    assert list(directory.glob("*.spool")) == []
    Processor(services.database, services.clock).run_until_idle()
    assert event_counts(services, shop.account_id)["Placed Order"] == 1
