"""shoptrack's own OpenAPI description (``/openapi.json``): a valid OpenAPI 3 document that
describes every route — the intake paths served ahead of FastAPI included — with its parameters,
request bodies, answers and media types; and schemathesis, generating requests from it, finds no
server error and no answer that the description does not describe.

The generated requests go to the app in-process, with a real account's private key, on a real
database (both kinds), against a connected simulated WooCommerce store on a local socket. The
routes that reach stores (connecting, changing credentials, the doctor's live checks and fixes)
are exercised too: the process's outbound guard here reaches that simulator and nothing else, so
no generated address leaves the machine — it is refused at once, as ``address_not_allowed``.
Webhooks need no network at all (workers are off: nothing is processed, fetched or sent).
"""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shoptrack.api import create_app
from shoptrack.clock import FrozenClock
from shoptrack.doctor import FINDING_CODES
from shoptrack.flows.unsubscribe import UnsubscribeToken, sign_token
from shoptrack.outbound import IPAddress, OutboundGuard, host_networks
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.settings import Settings
from shoptrack.simulators.woocommerce import WooCommerceSimulator
from shoptrack.store.accounts import create_account
from shoptrack.store.database import Database
from shoptrack.store.secrets import CredentialCipher
from tests.conftest import TEST_SECRET_KEY
from tests.helpers import AppClient
from tests.stores import serving

JSONAPI = "application/vnd.api+json"
# At most this many requests per operation, positive and negative ones drawn together.
# Derandomized, so every run sends the same requests; what a longer local run finds belongs in
# a regression test of its own.
MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# Never routable, never permitted (TEST-NET-1): what every address but the simulator's stands for.
_NOWHERE = ipaddress.IPv4Address("192.0.2.1")
_NO_GUARD = OutboundGuard()


@dataclass(frozen=True, slots=True)
class SimulatorOnly(OutboundGuard):
    """The guard of this test's process: the simulated store's host and port, and nothing
    else. Any other host (a name, a public or a private address) or port stands for an address
    of TEST-NET-1, which no guard permits, so a generated store address is refused at once
    rather than tried, retried with backoff, and waited for."""

    port: int = 0

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        if host.strip("[]") == "127.0.0.1" and port == self.port:
            return [ipaddress.IPv4Address("127.0.0.1")]
        return [_NOWHERE]


@dataclass(slots=True)
class OfflineServices(Services):
    """Services whose outbound requests pass ``guard``."""

    guard: OutboundGuard = _NO_GUARD

    @property
    def outbound(self) -> OutboundGuard:
        return self.guard


@dataclass
class World:
    client: AppClient
    key: str
    public_key: str
    # Ids of real resources by the path parameter that names them.
    known: dict[str, str]

    def headers(self, path: str) -> dict[str, str]:
        if path.startswith("/v1/"):
            # Segment's SDKs send the write key as the Basic username.
            return {"Authorization": "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()}
        return {"Authorization": f"Klaviyo-API-Key {self.key}"}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    """An account with a WooCommerce store connected through the API, one event recorded, a
    flow from the library, and an unsubscribe link."""
    # The store refuses OAuth timestamps 15 minutes away from its clock: both run near now.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    store = WooCommerceSimulator(clock=clock.now, webhook_delivery="manual")
    with serving(store.app) as store_url:
        port = urlsplit(store_url).port or 0
        services = OfflineServices(
            settings=Settings(
                data_dir=tmp_path / "data",
                database_url=database_url,
                secret_key=TEST_SECRET_KEY,
            ),
            database=Database(database_url),
            clock=clock,
            cipher=CredentialCipher([TEST_SECRET_KEY]),
            guard=SimulatorOnly(host_networks("127.0.0.1"), port=port),
        )
        with services.database.write() as connection:
            account, key = create_account(connection, "Fuzzed shop", clock.now())
        client = AppClient(create_app(services, run_workers=False))
        try:
            known = _seed(services, client, account.id, key.key, store_url, store)
            yield World(client, key.key, account.public_key, known)
        finally:
            client.close()
            services.close()


def _seed(
    services: Services,
    client: AppClient,
    account_id: str,
    key: str,
    store_url: str,
    store: WooCommerceSimulator,
) -> dict[str, str]:
    headers = {"Authorization": f"Klaviyo-API-Key {key}"}

    def created(path: str, document: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=document, headers=headers)
        assert response.status_code in (201, 202), response.text
        return response.json() if response.content else {}

    credentials = store.credentials(store_url) | {"webhook_secret": "whsec-fuzz"}
    integration = created(
        "/api/integrations",
        {
            "data": {
                "type": "integration",
                "attributes": {
                    "platform": "woocommerce",
                    "name": "Woo",
                    "credentials": credentials,
                },
            }
        },
    )["data"]
    created(
        "/api/events",
        {
            "data": {
                "type": "event",
                "attributes": {
                    "properties": {"OrderId": "1"},
                    "value": 9.5,
                    "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
                    "profile": {"data": {"type": "profile", "attributes": {"email": "a@x.com"}}},
                },
            }
        },
    )
    Processor(services.database, services.clock).run_until_idle()
    (event,) = client.get("/api/events", headers=headers).json()["data"]
    metric_id = event["relationships"]["metric"]["data"]["id"]
    flow = created(
        "/api/flows",
        {
            "data": {
                "type": "flow",
                "attributes": {"template": "post-purchase", "trigger_metric_id": metric_id},
            }
        },
    )["data"]
    messages = client.get(f"/api/flows/{flow['id']}/flow-messages", headers=headers).json()
    token = sign_token(TEST_SECRET_KEY, UnsubscribeToken(account_id=account_id, email="a@x.com"))
    return {
        "event_id": event["id"],
        "metric_id": metric_id,
        "profile_id": event["relationships"]["profile"]["data"]["id"],
        "integration_id": integration["id"],
        "flow_id": flow["id"],
        "step_id": messages["data"][0]["id"],
        "token": token,
        "code": FINDING_CODES[0],
        "platform": "woocommerce",
    }


# --- The description ------------------------------------------------------------------------


@pytest.fixture
def description(world: World) -> dict[str, Any]:
    response = world.client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_description_is_a_valid_openapi_3_document(description: dict[str, Any]) -> None:
    validate(description)  # raises, saying where, for any part that is no OpenAPI 3.1
    assert description["openapi"].startswith("3.")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_route_is_described_with_its_media_type(description: dict[str, Any]) -> None:
    paths = description["paths"]
    for path, method in [
        ("/api/events", "post"),
        ("/client/events", "post"),
        ("/v1/batch", "post"),
        ("/webhooks/{platform}/{integration_id}", "post"),
        ("/unsubscribe/{token}", "get"),
        ("/unsubscribe/{token}", "post"),
        ("/api/profiles", "post"),
        ("/api/integrations/{integration_id}", "patch"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not described"
    for path, path_item in paths.items():
        for method, operation in path_item.items():
            where = f"{method.upper()} {path}"
            responses = operation["responses"]
            assert "400" in responses, where
            assert "422" not in responses or "HTTPValidationError" not in json.dumps(
                responses["422"]
            ), where
            for status, response in responses.items():
                # Errors are JSON:API documents; /health's 503 is its own document, and the
                # unsubscribe page says a link is broken in HTML.
                own = (path, status) in {("/health", "503"), ("/unsubscribe/{token}", "400")}
                if int(status) >= 400 and not own:
                    assert list(response.get("content", {})) == [JSONAPI], f"{where} {status}"
            if path.startswith("/api/"):
                body = operation.get("requestBody", {}).get("content", {})
                assert list(body) in ([], [JSONAPI]), where
                for status, response in responses.items():
                    if int(status) < 300 and response.get("content"):
                        assert list(response["content"]) == [JSONAPI], f"{where} {status}"
    get_events = paths["/api/events"]["get"]
    assert {p["name"] for p in get_events["parameters"]} >= {
        "filter",
        "sort",
        "page[size]",
        "page[cursor]",
        "fields[event]",
        "include",
    }
    assert paths["/api/profiles"]["post"]["requestBody"]["content"][JSONAPI]["schema"] == {
        "$ref": "#/components/schemas/ProfileDocument"
    }
