"""shoptrack's own OpenAPI description (``/openapi.json``): a valid OpenAPI 3 document that
describes every route — the intake paths served ahead of FastAPI included — with its parameters,
request bodies, answers and media types; and schemathesis, generating requests from it, finds no
server error and no answer that the description does not describe.

The generated requests go to the app in-process, with a real account's private key, on a real
database (both kinds), against a connected simulated WooCommerce store on a local socket. The
routes that reach stores (connecting, changing credentials, the doctor's live checks and fixes)
are exercised too: the process's outbound guard here reaches that simulator and nothing else, so
no generated address leaves the machine — it is refused at once, as ``address_not_allowed``.
Webhook deliveries need no network at all, and workers are off: what a replay processes fetches
through the same guard, and no flow sends anything.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import update

from shoptrack.api.app import create_app
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
from shoptrack.store.schema import integrations
from shoptrack.store.secrets import CredentialCipher
from tests.conftest import TEST_SECRET_KEY
from tests.conftest import _postgres_url as postgres_database_url
from tests.helpers import AppClient
from tests.stores import serving

JSONAPI = "application/vnd.api+json"
# At most this many requests per operation, positive and negative ones drawn together, and
# derandomized, so every run sends the same requests. SHOPTRACK_FUZZ_EXAMPLES=500 explores
# further, at random; what it finds belongs in a regression test of its own.
_EXPLORE = os.environ.get("SHOPTRACK_FUZZ_EXAMPLES")
MAX_EXAMPLES = int(_EXPLORE or 20)
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


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def module_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of each kind, for all the operations of this module: seeding the
    world once, not once per operation, is most of what keeps this test short."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("openapi") / "shoptrack.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    pool = request.getfixturevalue("postgres_pool")
    name = pool.take()
    yield postgres_database_url(name)
    pool.give_back(name)


@pytest.fixture(scope="module")
def module_world(
    module_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, Services]]:
    """An account with a WooCommerce store connected through the API, one event recorded, a
    flow from the library, and an unsubscribe link."""
    # The store refuses OAuth timestamps 15 minutes away from its clock: both run near now.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    store = WooCommerceSimulator(clock=clock.now, webhook_delivery="manual")
    with serving(store.app) as store_url:
        port = urlsplit(store_url).port or 0
        services = OfflineServices(
            settings=Settings(
                data_dir=tmp_path_factory.mktemp("data"),
                database_url=module_database,
                secret_key=TEST_SECRET_KEY,
            ),
            database=Database(module_database),
            clock=clock,
            cipher=CredentialCipher([TEST_SECRET_KEY]),
            guard=SimulatorOnly(host_networks("127.0.0.1"), port=port),
        )
        with services.database.write() as connection:
            account, key = create_account(connection, "Fuzzed shop", clock.now())
        client = AppClient(create_app(services, run_workers=False))
        try:
            known = _seed(services, client, account.id, key.key, store_url, store)
            yield World(client, key.key, account.public_key, known), services
        finally:
            client.close()
            services.close()


@pytest.fixture
def world(module_world: tuple[World, Services]) -> World:
    """The module's world, its integration connected and enabled again: an operation before
    may have removed or disabled it (the other resources survive what requests do to them)."""
    found, services = module_world
    with services.database.write() as connection:
        connection.execute(
            update(integrations)
            .where(integrations.c.id == found.known["integration_id"])
            .values(removed_at=None, enabled=True)
        )
    return found


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


def test_the_description_is_a_valid_openapi_3_document(description: dict[str, Any]) -> None:
    validate(description)  # raises, saying where, for any part that is no OpenAPI 3.1
    assert description["openapi"].startswith("3.")


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
    assert get_events["responses"]["200"]["content"][JSONAPI]["schema"] == {
        "$ref": "#/components/schemas/EventResponseCollection"
    }


# --- No generated request is a server error or an undescribed answer --------------------------


def _operations() -> list[tuple[str, str]]:
    """Every described operation, read from an app that needs no database to describe itself."""
    settings_ = Settings(database_url="sqlite://", secret_key=TEST_SECRET_KEY)
    services = Services(
        settings=settings_,
        database=Database("sqlite://"),
        clock=FrozenClock(datetime(2026, 1, 1, tzinfo=UTC)),
        cipher=CredentialCipher([TEST_SECRET_KEY]),
    )
    document = create_app(services, run_workers=False).api.openapi()
    return [
        (method.upper(), path)
        for path, path_item in document["paths"].items()
        for method in path_item
    ]


OPERATIONS = _operations()
_PARAMETERS = [pytest.param(*operation, id=" ".join(operation)) for operation in OPERATIONS]


def _send(world: World, case: schemathesis.Case, known: bool) -> httpx.Response:
    path = case.operation.path
    if known:
        # Half the time the path names resources that exist, so their handlers run in full.
        case.path_parameters = {
            name: world.known.get(name, value)
            for name, value in (case.path_parameters or {}).items()
        }
    if path.startswith("/client/"):
        case.query = {**(case.query or {}), "company_id": world.public_key}
    request = case.as_transport_kwargs(
        base_url="http://shoptrack.test", headers=world.headers(path)
    )
    body: dict[str, Any] = {}
    if "json" in request:
        body["content"] = json.dumps(request["json"]).encode()
    elif "data" in request:
        body["content"] = request["data"]
    note(f"{request['method']} {request['url']} params={request.get('params')!r} {body!r}")
    return world.client.request(
        request["method"],
        request["url"],
        params=request.get("params") or None,
        headers=dict(request["headers"]),
        **body,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [pytest.param(*operation, id=" ".join(operation)) for operation in OPERATIONS],
)
def test_no_generated_request_is_a_server_error_or_undescribed(
    world: World, description: dict[str, Any], method: str, path: str
) -> None:
    schema = schemathesis.openapi.from_dict(description)
    operation = schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    # The database is shared by all examples on purpose: later requests meet what earlier ones
    # made. Large bodies can be slow to generate, which is no fault of the API.
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=_EXPLORE is None,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=strategy, known=st.booleans())
    def exchange(case: schemathesis.Case, known: bool) -> None:
        response = _send(world, case, known)
        case.validate_response(response, checks=CHECKS)

    exchange()
