"""The Shopify simulator's token endpoint: a Dev Dashboard app's client credentials grant, with
tokens that expire by the simulator's clock, as a merchant's script would ask for them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.simulators.shopify import DEFAULT_SCOPES, ShopifySimulator
from tests.stores import serving

TOKEN_URL = "/admin/oauth/access_token"
SHOP_URL = "/admin/api/2025-01/shop.json"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def sim(clock: FrozenClock) -> ShopifySimulator:
    return ShopifySimulator(clock=clock.now, client_id="app-1", client_secret="shpss_right")


@pytest.fixture
def http(sim: ShopifySimulator) -> Iterator[httpx.Client]:
    with serving(sim.app) as url, httpx.Client(base_url=url) as client:
        yield client


GRANT = {"grant_type": "client_credentials", "client_id": "app-1", "client_secret": "shpss_right"}


def _grant(http: httpx.Client) -> httpx.Response:
    return http.post(TOKEN_URL, data=GRANT)


def _shop(http: httpx.Client, token: str) -> httpx.Response:
    return http.get(SHOP_URL, headers={"X-Shopify-Access-Token": token})


def test_the_grant_answers_a_day_long_token_with_the_apps_scopes(http: httpx.Client) -> None:
    response = _grant(http)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"access_token", "scope", "expires_in"}
    assert body["access_token"].startswith("shpat_")
    assert body["scope"] == ",".join(DEFAULT_SCOPES)
    assert body["expires_in"] == 86399
    assert _shop(http, body["access_token"]).status_code == 200


def test_a_json_request_is_taken_too(http: httpx.Client) -> None:
    # As @shopify/shopify-api's clientCredentials sends it.
    response = http.post(
        TOKEN_URL,
        json={
            "client_id": "app-1",
            "client_secret": "shpss_right",
            "grant_type": "client_credentials",
        },
    )
    assert response.status_code == 200, response.text


def test_a_token_stops_working_when_it_expires_by_the_clock(
    http: httpx.Client, clock: FrozenClock
) -> None:
    token = _grant(http).json()["access_token"]
    clock.advance(timedelta(seconds=86398))
    assert _shop(http, token).status_code == 200
    clock.advance(timedelta(seconds=1))
    refused = _shop(http, token)
    assert refused.status_code == 401
    assert refused.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_a_new_grant_leaves_earlier_tokens_working(http: httpx.Client) -> None:
    first = _grant(http).json()["access_token"]
    second = _grant(http).json()["access_token"]
    assert first != second
    assert _shop(http, first).status_code == 200
    assert _shop(http, second).status_code == 200


def test_revoked_tokens_are_refused_before_their_time(
    http: httpx.Client, sim: ShopifySimulator
) -> None:
    token = _grant(http).json()["access_token"]
    sim.revoke_issued_tokens()
    assert _shop(http, token).status_code == 401
    assert _shop(http, sim.access_token).status_code == 200  # the admin-created app's stays


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_secret": "shpss_wrong"}, "invalid_client"),
        ({"client_id": "another-app"}, "invalid_client"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
        ({"client_secret": ""}, "invalid_request"),
    ],
)
def test_refusals_are_oauth_errors(http: httpx.Client, form: dict[str, str], error: str) -> None:
    base = {
        "grant_type": "client_credentials",
        "client_id": "app-1",
        "client_secret": "shpss_right",
    }
    response = http.post(TOKEN_URL, data=base | form)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error


def test_the_edges_faults_apply_to_the_token_endpoint(
    http: httpx.Client, sim: ShopifySimulator
) -> None:
    sim.set_faults({"server_error": 1})
    assert _grant(http).status_code >= 500
    assert _grant(http).status_code == 200
