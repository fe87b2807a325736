"""A Dev Dashboard app's client id and secret: the credentials that carry them, and the client
credentials grant the Shopify connector's client runs to obtain, reuse and renew its tokens.

The store is a ``MockTransport`` answering as Shopify does; the simulator's own token endpoint
is covered by ``tests/simulators/test_shopify_simulator.py`` and the whole path by
``tests/end_to_end/test_shopify_dev_dashboard.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.connectors.base import clean_credentials
from shoptrack.connectors.errors import StoreConfigError, StoreTransientError
from shoptrack.connectors.http import StoreClient
from shoptrack.connectors.shopify import Shopify, ShopifyCredentials
from shoptrack.connectors.tokens import IssuedToken, MemoryTokens
from shoptrack.errors import InputError
from shoptrack.testing import SIMULATOR_GUARD

SHOP = "jsmith.myshopify.com"
CLIENT_ID = "4a1c0e7b"
CLIENT_SECRET = "shpss_0123456789abcdef"
DAY = 86399  # what expires_in says of a new token
connector = Shopify()


def _credentials(**fields: str) -> ShopifyCredentials:
    given = {"shop_domain": SHOP, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    credentials, _ = clean_credentials(ShopifyCredentials, given | fields)
    assert isinstance(credentials, ShopifyCredentials)
    return credentials


class FakeShop:
    """Shopify's token endpoint and one Admin API route, by ``clock``: tokens expire
    ``lifetime`` seconds after they are issued."""

    def __init__(self, clock: FrozenClock, lifetime: int = DAY) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.tokens: dict[str, datetime] = {}
        self.token_requests: list[dict[str, list[str]]] = []
        self.api_requests: list[httpx.Request] = []
        # The token of each API request as it arrived (a retried request is the same object).
        self.arrived_with: list[str] = []
        self.token_answer: Callable[[], httpx.Response] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/admin/oauth/access_token":
            form = parse_qs(request.content.decode())
            self.token_requests.append(form)
            if self.token_answer is not None:
                return self.token_answer()
            if form.get("client_secret") != [CLIENT_SECRET]:
                return httpx.Response(
                    400,
                    json={"error": "invalid_client", "error_description": "Client auth failed."},
                )
            value = f"shpat_{len(self.tokens) + 1:04d}"
            self.tokens[value] = self.clock.now() + timedelta(seconds=self.lifetime)
            return httpx.Response(
                200, json={"access_token": value, "scope": "read_orders", "expires_in": DAY}
            )
        self.api_requests.append(request)
        self.arrived_with.append(request.headers.get("x-shopify-access-token", ""))
        expires = self.tokens.get(request.headers.get("x-shopify-access-token", ""))
        if expires is None or self.clock.now() >= expires:
            return httpx.Response(
                401,
                json={
                    "errors": "[API] Invalid API key or access token (unrecognized login or "
                    "wrong password)"
                },
            )
        return httpx.Response(200, json={"data": {"shop": {"myshopifyDomain": SHOP}}})

    def client(self, tokens: MemoryTokens, **credentials: str) -> StoreClient:
        return connector.client(
            _credentials(**credentials),
            guard=SIMULATOR_GUARD,
            transport=httpx.MockTransport(self.handler),
            sleep=lambda _: None,
            tokens=tokens,
        )

    def sent_tokens(self) -> list[str]:
        return self.arrived_with


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def shop(clock: FrozenClock) -> FakeShop:
    return FakeShop(clock)


# -- credentials ---------------------------------------------------------------------------


def test_client_id_and_secret_are_a_way_in_without_a_token() -> None:
    credentials = _credentials()
    assert (credentials.client_id, credentials.access_token) == (CLIENT_ID, None)
    assert connector.headers(credentials) == {}  # the grant's tokens are set per request


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"client_id": CLIENT_ID}, "client_secret"),
        ({"client_secret": CLIENT_SECRET}, "client_id"),
        (
            {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "access_token": "shpat_1"},
            "access_token",
        ),
    ],
)
def test_half_a_way_in_or_two_ways_name_the_field(given: dict[str, str], named: str) -> None:
    with pytest.raises(InputError, match=rf"^credentials\.{named}: ") as error:
        clean_credentials(ShopifyCredentials, {"shop_domain": SHOP} | given)
    assert error.value.pointer == f"/data/attributes/credentials/{named}"


def test_secrets_stay_out_of_the_credentials_repr() -> None:
    shown = repr(_credentials()) + repr(
        _credentials(client_id="", client_secret="", access_token="shpat_secret")
    )
    assert CLIENT_SECRET not in shown
    assert "shpat_secret" not in shown


def test_webhooks_are_verified_with_the_apps_client_secret() -> None:
    stored = _credentials().model_dump(exclude_none=True)
    assert connector.webhook_secrets(stored) == [CLIENT_SECRET]
    rotated = stored | {"previous_webhook_secrets": ["shpss_old"]}
    assert connector.webhook_secrets(rotated) == [CLIENT_SECRET, "shpss_old"]


# -- the grant -----------------------------------------------------------------------------


def test_a_token_is_obtained_with_the_grant_then_reused(shop: FakeShop, clock: FrozenClock) -> None:
    tokens = MemoryTokens(clock)
    with shop.client(tokens) as client:
        connector.check_credentials(client)
        connector.check_credentials(client)

    assert shop.token_requests == [
        {
            "grant_type": ["client_credentials"],
            "client_id": [CLIENT_ID],
            "client_secret": [CLIENT_SECRET],
        }
    ]
    assert shop.sent_tokens() == ["shpat_0001", "shpat_0001"]
    kept = tokens.load()
    assert kept is not None
    assert kept.expires_at == clock.now() + timedelta(seconds=DAY)
    assert kept.scope == "read_orders"
    assert "shpat_0001" not in repr(kept)


def test_a_token_about_to_expire_is_renewed_before_it_is_used(
    shop: FakeShop, clock: FrozenClock
) -> None:
    tokens = MemoryTokens(clock)
    with shop.client(tokens) as client:
        connector.check_credentials(client)
        clock.advance(timedelta(seconds=DAY) - timedelta(minutes=5))
        connector.check_credentials(client)

    assert shop.sent_tokens() == ["shpat_0001", "shpat_0002"]  # none was refused


def test_a_kept_token_from_another_client_is_used_without_asking(
    shop: FakeShop, clock: FrozenClock
) -> None:
    shop.tokens["shpat_kept"] = clock.now() + timedelta(hours=3)
    kept = IssuedToken("shpat_kept", clock.now() + timedelta(hours=3))
    with shop.client(MemoryTokens(clock, kept)) as client:
        connector.check_credentials(client)
    assert shop.token_requests == []
    assert shop.sent_tokens() == ["shpat_kept"]


def test_a_401_renews_the_token_once_and_sends_the_request_again(
    shop: FakeShop, clock: FrozenClock
) -> None:
    # Revoked early: Shopify still has its expiry ahead, yet refuses it.
    kept = IssuedToken("shpat_revoked", clock.now() + timedelta(hours=20))
    tokens = MemoryTokens(clock, kept)
    with shop.client(tokens) as client:
        connector.check_credentials(client)

    assert shop.sent_tokens() == ["shpat_revoked", "shpat_0001"]
    assert len(shop.token_requests) == 1
    assert tokens.load() == IssuedToken(
        "shpat_0001", clock.now() + timedelta(seconds=DAY), "read_orders"
    )


def test_a_second_401_is_the_stores_answer(shop: FakeShop, clock: FrozenClock) -> None:
    shop.lifetime = 0  # every token the shop issues is refused at once
    with shop.client(MemoryTokens(clock)) as client, pytest.raises(StoreConfigError) as error:
        connector.check_credentials(client)
    assert error.value.code == "credentials_rejected"
    assert error.value.store_status == 401
    assert len(shop.token_requests) == 2  # the first token, and one renewal


def test_a_wrong_secret_is_refused_with_shopifys_answer(shop: FakeShop, clock: FrozenClock) -> None:
    with (
        shop.client(MemoryTokens(clock), client_secret="shpss_wrong") as client,
        pytest.raises(StoreConfigError) as error,
    ):
        connector.check_credentials(client)

    assert error.value.code == "credentials_rejected"
    assert error.value.store_status == 400
    assert "invalid_client: Client auth failed." in error.value.detail
    assert error.value.store_answer is not None
    assert "invalid_client" in error.value.store_answer
    assert shop.api_requests == []  # nothing was asked without a token


def test_a_failing_token_endpoint_is_retried_like_any_request(
    shop: FakeShop, clock: FrozenClock
) -> None:
    failures = iter([httpx.Response(503, text="busy"), httpx.Response(429, text="slow down")])

    def flaky() -> httpx.Response:
        answer = next(failures, None)
        if answer is not None:
            return answer
        shop.token_answer = None
        return shop.handler(
            httpx.Request(
                "POST",
                f"https://{SHOP}/admin/oauth/access_token",
                data={"client_secret": CLIENT_SECRET},
            )
        )

    shop.token_answer = flaky
    with shop.client(MemoryTokens(clock)) as client:
        connector.check_credentials(client)
    assert shop.sent_tokens() == ["shpat_0001"]


def test_a_token_endpoint_that_keeps_failing_is_transient(
    shop: FakeShop, clock: FrozenClock
) -> None:
    shop.token_answer = lambda: httpx.Response(503, text="busy")
    with shop.client(MemoryTokens(clock)) as client, pytest.raises(StoreTransientError):
        connector.check_credentials(client)
