"""The outbound guard: what shoptrack fetches for its users never reaches loopback, private,
link-local or reserved addresses unless ``SHOPTRACK_PRIVATE_STORE_NETWORKS`` allows them —
checked when an address is saved, again at every request, on every redirect, and against the
address that was checked rather than a second lookup of the name."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from shoptrack.connectors import connector_for
from shoptrack.connectors.errors import StoreConfigError
from shoptrack.doctor import Severity, diagnose_integration
from shoptrack.errors import InputError
from shoptrack.outbound import AddressNotAllowedError, OutboundGuard, parse_networks
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.integrations import create_integration
from shoptrack.store.schema import integrations
from shoptrack.store.sync_runs import get_run
from shoptrack.testing import Shop
from tests.helpers import AppClient
from tests.processes import environment, run_cli

INTERNAL_ANSWER = "internal service: secret-token-0123"


@dataclass
class InternalService:
    """An HTTP service on a loopback address that no test allows, counting what reaches it."""

    host: str
    port: int
    requests: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _serve(host: str) -> Iterator[InternalService]:
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            seen.append(self.path)
            if self.path.startswith("/redirect"):
                target = self.path.removeprefix("/redirect?to=")
                self.send_response(302)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = INTERNAL_ANSWER.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer  # noqa: N815  # http.server's names

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield InternalService(host, server.server_address[1], seen)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def internal() -> Iterator[InternalService]:
    """On 127.0.0.2: loopback, and outside the 127.0.0.1/32 the tests allow for simulators."""
    yield from _serve("127.0.0.2")


@pytest.fixture
def allowed_service() -> Iterator[InternalService]:
    """On 127.0.0.1, which the tests allow (their simulators listen there)."""
    yield from _serve("127.0.0.1")


# -- which addresses are public ---------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "169.254.169.254",  # cloud metadata
        "fe80::1",
        "fc00::1",
        "0.0.0.0",  # noqa: S104  # reaches the local host on Linux
        "::",
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not OutboundGuard().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_permitted(address: str) -> None:
    assert OutboundGuard().permits(ipaddress.ip_address(address))


def test_allowed_networks_open_exactly_themselves() -> None:
    guard = OutboundGuard(parse_networks("10.0.0.0/8, fd00::/8, 192.168.5.7"))
    assert guard.permits(ipaddress.ip_address("10.200.1.1"))
    assert guard.permits(ipaddress.ip_address("fd12::1"))
    assert guard.permits(ipaddress.ip_address("192.168.5.7"))
    assert not guard.permits(ipaddress.ip_address("192.168.5.8"))
    assert not guard.permits(ipaddress.ip_address("127.0.0.1"))


def test_a_wrong_network_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    env = environment(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    env["SHOPTRACK_PRIVATE_STORE_NETWORKS"] = "10.0.0.0/8, ten"
    result = run_cli(env, "accounts", "list")
    assert result.returncode == 1
    assert result.stderr == (
        "error: SHOPTRACK_PRIVATE_STORE_NETWORKS: 'ten' is not a network such as 10.0.0.0/8\n"
    )


# -- the transport -------------------------------------------------------------------------


def test_a_refused_address_is_never_connected_to(internal: InternalService) -> None:
    with httpx.Client(transport=OutboundGuard().transport()) as client:
        for url in (
            internal.url,
            f"http://localhost:{internal.port}",
            f"http://[::1]:{internal.port}",
        ):
            with pytest.raises(AddressNotAllowedError):
                client.get(url)
    assert internal.requests == []


def test_an_allowed_network_is_reached(internal: InternalService) -> None:
    guard = OutboundGuard(parse_networks("127.0.0.2/32"))
    with httpx.Client(transport=guard.transport()) as client:
        assert client.get(internal.url + "/ok").text == INTERNAL_ANSWER
    assert internal.requests == ["/ok"]


def test_every_redirect_is_checked(
    allowed_service: InternalService, internal: InternalService
) -> None:
    guard = OutboundGuard(parse_networks("127.0.0.1/32"))
    hop = f"{allowed_service.url}/redirect?to={internal.url}/metadata"
    with (
        httpx.Client(transport=guard.transport(), follow_redirects=True) as client,
        pytest.raises(AddressNotAllowedError),
    ):
        client.get(hop)
    assert internal.requests == []


def test_the_request_goes_to_the_address_that_was_checked(
    monkeypatch: pytest.MonkeyPatch, allowed_service: InternalService, internal: InternalService
) -> None:
    """DNS rebinding: a name that answers an allowed address to the check and a forbidden one
    to a second lookup must not reach the forbidden one — there is no second lookup."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.shoptrack.test":
            lookups.append(host)
            target = "127.0.0.1" if len(lookups) == 1 else "127.0.0.2"
            return real(target, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    guard = OutboundGuard(parse_networks("127.0.0.1/32"))
    # A second lookup would connect to 127.0.0.2 on the allowed service's port: refused there.
    with httpx.Client(transport=guard.transport()) as client:
        answer = client.get(f"http://rebind.shoptrack.test:{allowed_service.port}/hello")
    assert answer.status_code == 200
    assert allowed_service.requests == ["/hello"]
    assert answer.request.headers["host"] == f"rebind.shoptrack.test:{allowed_service.port}"
    assert lookups == ["rebind.shoptrack.test"]
    assert internal.requests == []


# -- saving a store's address, and syncing it ------------------------------------------------


def _woocommerce(store_url: str) -> dict[str, Any]:
    return {
        "data": {
            "type": "integration",
            "attributes": {
                "platform": "woocommerce",
                "name": "Internal",
                "credentials": {
                    "store_url": store_url,
                    "consumer_key": "ck_x",
                    "consumer_secret": "cs_x",
                },
            },
        }
    }


def _count_integrations(services: Services) -> int:
    with services.database.read() as connection:
        return int(connection.execute(select(func.count()).select_from(integrations)).scalar_one())


@pytest.mark.parametrize(
    ("platform", "credentials", "field"),
    [
        (
            "woocommerce",
            {"store_url": "{url}", "consumer_key": "k", "consumer_secret": "s"},
            "store_url",
        ),
        ("magento2", {"base_url": "{url}", "access_token": "t"}, "base_url"),
        ("prestashop", {"base_url": "{url}", "webservice_key": "K" * 32}, "base_url"),
        (
            "shopify",
            {"shop_domain": "x.myshopify.com", "access_token": "shpat_x", "api_base_url": "{url}"},
            "api_base_url",
        ),
        (
            "bigcommerce",
            {"store_hash": "abc123", "access_token": "t", "api_base_url": "{url}"},
            "api_base_url",
        ),
        (
            "shift4shop",
            {
                "secure_url": "https://shop.example.com",
                "private_key": "p",
                "token": "t",
                "api_base_url": "{url}",
            },
            "api_base_url",
        ),
    ],
)
def test_connecting_a_store_at_an_internal_address_is_refused(
    client: AppClient,
    services: Services,
    shop: Shop,
    internal: InternalService,
    platform: str,
    credentials: dict[str, str],
    field: str,
) -> None:
    before = _count_integrations(services)
    filled = {k: v.replace("{url}", internal.url) for k, v in credentials.items()}
    answer = client.post(
        "/api/integrations",
        headers=shop.headers(),
        json={
            "data": {
                "type": "integration",
                "attributes": {"platform": platform, "name": "x", "credentials": filled},
            }
        },
    )
    assert answer.status_code == 422, answer.text
    error = answer.json()["errors"][0]
    assert error["code"] == "address_not_allowed"
    assert error["source"]["pointer"] == f"/data/attributes/credentials/{field}"
    assert f"credentials.{field}" in error["detail"]
    assert "SHOPTRACK_PRIVATE_STORE_NETWORKS" in error["detail"]
    assert INTERNAL_ANSWER not in answer.text
    assert internal.requests == []
    assert _count_integrations(services) == before


@pytest.mark.parametrize(
    "store_url",
    [
        "http://127.0.0.1:{port}/",
        "http://localhost:{port}/",
        "http://[::1]:{port}/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/",
    ],
)
def test_without_an_allowance_no_private_address_is_accepted(
    client: AppClient, services: Services, shop: Shop, store_url: str
) -> None:
    services.settings = services.settings.model_copy(update={"private_store_networks": ()})
    answer = client.post(
        "/api/integrations",
        headers=shop.headers(),
        json=_woocommerce(store_url.replace("{port}", "8080")),
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["code"] == "address_not_allowed"


def _saved_earlier(services: Services, internal: InternalService) -> tuple[str, str]:
    """An integration whose address was saved when it was allowed (or that resolves to an
    internal address now): the account's and the integration's ids."""
    now = services.clock.now()
    with services.database.write() as connection:
        account, _key = create_account(connection, "Internal", now)
        integration = create_integration(
            connection,
            services.cipher,
            account_id=account.id,
            platform="woocommerce",
            name="Saved earlier",
            credentials={
                "store_url": internal.url,
                "consumer_key": "ck_x",
                "consumer_secret": "cs_x",
                "webhook_secret": "s",
            },
            settings={},
            now=now,
        )
    return account.id, integration.id


def test_a_saved_address_is_checked_again_at_every_sync(
    services: Services, internal: InternalService
) -> None:
    """The sync refuses to ask it; the internal service's answer is never stored."""
    account_id, integration_id = _saved_earlier(services, internal)
    run_id = Syncer(services).run(account_id, integration_id)
    with services.database.read() as connection:
        run = get_run(connection, account_id, run_id)
    assert run is not None
    assert run.state == "failed"
    assert run.error_code == "address_not_allowed"
    assert run.error_kind == "config"
    assert not run.error_answer
    assert internal.requests == []


def test_the_doctor_says_why_the_store_cannot_be_asked(
    services: Services, internal: InternalService
) -> None:
    account_id, integration_id = _saved_earlier(services, internal)
    report = diagnose_integration(services, account_id, integration_id)
    finding = next(f for f in report.findings if f.code == "credentials_rejected")
    assert finding.severity is Severity.ERROR
    assert finding.evidence["code"] == "address_not_allowed"
    assert finding.fix is not None
    assert "SHOPTRACK_PRIVATE_STORE_NETWORKS" in finding.fix.text
    assert internal.requests == []


def test_every_connector_builds_its_client_through_the_guard(internal: InternalService) -> None:
    """No connector sends a request past the guard (a connector overriding ``client`` would)."""
    connector = connector_for("woocommerce")
    credentials = connector.credentials_model.model_validate(
        {"store_url": internal.url, "consumer_key": "k", "consumer_secret": "s"}
    )
    for platform in (
        "woocommerce",
        "magento2",
        "prestashop",
        "shopify",
        "bigcommerce",
        "shift4shop",
    ):
        assert "client" not in vars(type(connector_for(platform))), platform
    with (
        pytest.raises(StoreConfigError) as refused,
        connector.client(credentials, guard=OutboundGuard()) as store,
    ):
        connector.check_credentials(store)
    assert refused.value.code == "address_not_allowed"
    assert internal.requests == []


def test_a_host_no_dns_name_can_be_is_refused_or_does_not_resolve() -> None:
    """IDNA refuses some labels outright: a URL with one is a 400 naming the field when it is
    saved, and a name with one does not resolve when a request is made (never a crash)."""
    guard = OutboundGuard()
    with pytest.raises(InputError) as refused:
        guard.check_url("https://xn--/orders", field="store_url")
    assert refused.value.pointer == "/data/attributes/store_url"
    guard.check_url("http://a..b/orders", field="store_url")  # does not resolve: passes now
    with pytest.raises(OSError, match="is no host name"):
        guard.addresses("a..b", 80)
    with httpx.Client(transport=guard.transport()) as client, pytest.raises(httpx.ConnectError):
        client.get("http://a..b/orders")
