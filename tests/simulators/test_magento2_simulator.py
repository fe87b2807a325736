"""The Magento 2 simulator on a real socket: OAuth 1.0a checked against a signer written here
from RFC 5849 (as Magento's own ``Oauth::buildAuthorizationHeader`` signs) and against oauthlib's
client, Bearer and admin tokens, ``searchCriteria``, paging, error bodies and the control
routes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from oauthlib import oauth1

from shoptrack.clock import FrozenClock
from shoptrack.connectors.base import Window
from shoptrack.connectors.magento2 import Magento2
from shoptrack.simulators.magento2 import Magento2Simulator
from shoptrack.testing import SIMULATOR_GUARD
from tests.stores import serving

GUEST = {
    "message": "The consumer isn't authorized to access %resources.",
    "parameters": {"resources": "Magento_Sales::actions_view"},
}
BAD_SIGNATURE = {"message": "The signature is invalid. Verify and try again."}
EVERYTHING = {"searchCriteria": "all"}


def _encode(value: str) -> str:
    return quote(value, safe="~")  # PHP's rawurlencode()


@dataclass
class Store:
    sim: Magento2Simulator
    url: str
    clock: FrozenClock
    http: httpx.Client  # one client: a new one costs a TLS context each time

    def signed(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        method: str = "HMAC-SHA256",
        consumer_secret: str | None = None,
        nonce: str | None = None,
        timestamp: int | None = None,
        plus_for_spaces: bool = False,
    ) -> httpx.Response:
        """A GET signed the way RFC 5849 and Magento's own client sign it, written here."""
        keys = self.sim.integration
        pairs = list((params or {}).items())
        oauth = {
            "oauth_consumer_key": keys.consumer_key,
            "oauth_nonce": nonce or secrets.token_hex(16),
            "oauth_signature_method": method,
            "oauth_timestamp": str(timestamp or int(self.clock.now().timestamp())),
            "oauth_token": keys.access_token,
            "oauth_version": "1.0",
        }
        normalized = "&".join(
            f"{k}={v}"
            for k, v in sorted((_encode(k), _encode(v)) for k, v in [*oauth.items(), *pairs])
        )
        url = f"{self.url}{path}"
        base_string = "&".join(["GET", _encode(url), _encode(normalized)])
        secret = consumer_secret or keys.consumer_secret
        key = f"{_encode(secret)}&{_encode(keys.access_token_secret)}"
        digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha256).digest()
        oauth["oauth_signature"] = base64.b64encode(digest).decode()
        header = "OAuth " + ",".join(f'{k}="{_encode(v)}"' for k, v in oauth.items())
        query = urlencode(pairs) if plus_for_spaces else urlencode(pairs, quote_via=quote)
        return self.http.get(f"{url}?{query}", headers={"Authorization": header})

    def bearer(self, path: str, token: str, params: Any = None) -> httpx.Response:
        return self.http.get(
            f"{self.url}{path}", params=params, headers={"Authorization": f"Bearer {token}"}
        )

    def control(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.http.request(method, f"{self.url}/_sim/{path}", json=body)


@pytest.fixture
def store() -> Iterator[Store]:
    # Near the real time: OAuth clients sign with the machine's clock.
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    sim = Magento2Simulator(clock=clock.now, admin_password="Admin123!")
    with serving(sim.app) as url, httpx.Client(timeout=10) as http:
        yield Store(sim, url, clock, http)


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [order["entity_id"] for order in response.json()["items"]]


# -- OAuth 1.0a -------------------------------------------------------------------------------


def test_a_request_signed_as_rfc_5849_says_is_accepted(store: Store) -> None:
    created = store.sim.add_orders(3)

    response = store.signed("/rest/V1/orders", {"searchCriteria[pageSize]": "10"})

    assert _ids(response) == created
    assert response.json()["total_count"] == 3
    assert response.headers["content-type"] == "application/json; charset=utf-8"


def test_oauthlibs_client_is_accepted_with_spaces_written_percent_20(store: Store) -> None:
    store.sim.add_orders(2, created=store.clock.now() - timedelta(days=2))
    (recent,) = store.sim.add_orders(1)
    keys = store.sim.integration
    client = oauth1.Client(
        keys.consumer_key,
        client_secret=keys.consumer_secret,
        resource_owner_key=keys.access_token,
        resource_owner_secret=keys.access_token_secret,
        signature_method=oauth1.SIGNATURE_HMAC_SHA256,
    )
    since = (store.clock.now() - timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    criteria = {
        "searchCriteria[filter_groups][0][filters][0][field]": "updated_at",
        "searchCriteria[filter_groups][0][filters][0][value]": since,
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "gt",
    }

    answers = {}
    for name, query in (
        ("%20", urlencode(criteria, quote_via=quote)),
        ("+", urlencode(criteria)),
    ):
        uri, headers, _ = client.sign(f"{store.url}/rest/default/V1/orders?{query}")
        answers[name] = store.http.get(uri, headers=headers)

    assert _ids(answers["%20"]) == [recent]
    # Magento rawurldecode()s the query for the signature: "+" stays a plus sign there, while
    # the client signed a space.
    assert (answers["+"].status_code, answers["+"].json()) == (401, BAD_SIGNATURE)


def test_the_connectors_own_client_is_accepted(store: Store) -> None:
    created = store.sim.add_orders(3, created=store.clock.now() - timedelta(hours=2))
    connector = Magento2()
    credentials = connector.credentials_model.model_validate(store.sim.credentials(store.url))

    with connector.client(credentials, guard=SIMULATOR_GUARD) as client:
        connector.check_credentials(client)
        pages = connector.order_pages(
            client, Window(store.clock.now() - timedelta(days=1), store.clock.now())
        )
        listed = [raw["entity_id"] for page in pages for raw in page.records]

    assert listed == created


@pytest.mark.parametrize(
    ("change", "status", "body"),
    [
        ({"consumer_secret": "0" * 32}, 401, BAD_SIGNATURE),
        (
            {"method": "HMAC-SHA1"},
            400,
            {"message": "Signature method %1 is not supported", "parameters": ["HMAC-SHA1"]},
        ),
        # Ten minutes ahead of the store's clock is too far; the generator's error is generic.
        ({"timestamp": 10**10}, 401, {"message": "An error occurred validating the nonce"}),
    ],
)
def test_a_wrong_signature_is_refused_in_magentos_words(
    store: Store, change: dict[str, Any], status: int, body: dict[str, Any]
) -> None:
    response = store.signed("/rest/V1/orders", EVERYTHING, **change)

    assert (response.status_code, response.json()) == (status, body)


def test_a_nonce_is_used_once(store: Store) -> None:
    first = store.signed("/rest/V1/orders", EVERYTHING, nonce="abc123")
    again = store.signed("/rest/V1/orders", EVERYTHING, nonce="abc123")

    assert first.status_code == 200
    assert (again.status_code, again.json()) == (
        401,
        {
            "message": "The nonce is already being used by the consumer with ID %1",
            "parameters": [1],
        },
    )


def test_an_old_timestamp_with_a_new_nonce_is_accepted(store: Store) -> None:
    # Magento refuses only timestamps in the future; replays are the nonce's job.
    day_ago = int((store.clock.now() - timedelta(days=1)).timestamp())

    assert store.signed("/rest/V1/orders", EVERYTHING, timestamp=day_ago).status_code == 200


_SIGNED_BY_NOBODY = {
    "oauth_signature": "x",
    "oauth_signature_method": "HMAC-SHA256",
    "oauth_nonce": "n",
    "oauth_timestamp": "1",
}


@pytest.mark.parametrize(
    ("header", "status", "body"),
    [
        (
            {"oauth_consumer_key": "{key}"},
            400,
            {
                "message": "One or more input exceptions have occurred.",
                "errors": [
                    {
                        "message": '"%fieldName" is required. Enter and try again.',
                        "parameters": {"fieldName": name},
                    }
                    for name in (
                        "oauth_signature",
                        "oauth_signature_method",
                        "oauth_nonce",
                        "oauth_timestamp",
                        "oauth_token",
                    )
                ],
            },
        ),
        (
            {"oauth_consumer_key": "short", **_SIGNED_BY_NOBODY, "oauth_token": "{token}"},
            401,
            {"message": "Consumer key is not the correct length"},
        ),
        (
            {"oauth_consumer_key": "{other}", **_SIGNED_BY_NOBODY, "oauth_token": "{token}"},
            401,
            {"message": "A consumer having the specified key does not exist"},
        ),
        (
            {"oauth_consumer_key": "{key}", **_SIGNED_BY_NOBODY, "oauth_token": "short"},
            400,
            {"message": "The token length is invalid. Check the length and try again."},
        ),
        (
            {"oauth_consumer_key": "{key}", **_SIGNED_BY_NOBODY, "oauth_version": "2.0"},
            400,
            {"message": 'The "%1" Oauth version isn\'t supported.', "parameters": ["2.0"]},
        ),
    ],
)
def test_incomplete_oauth_headers_are_refused(
    store: Store, header: dict[str, str], status: int, body: dict[str, Any]
) -> None:
    keys = store.sim.integration
    values = {"key": keys.consumer_key, "token": keys.access_token, "other": "z" * 32}
    authorization = "OAuth " + ",".join(
        f'{name}="{value.format(**values)}"' for name, value in header.items()
    )

    response = store.http.get(
        f"{store.url}/rest/V1/orders",
        params=EVERYTHING,
        headers={"Authorization": authorization},
    )

    assert (response.status_code, response.json()) == (status, body)


# -- Bearer and admin tokens ------------------------------------------------------------------


def test_the_access_token_alone_is_a_guest_unless_the_store_allows_it(store: Store) -> None:
    token = store.sim.integration.access_token

    refused = store.bearer("/rest/V1/orders", token, EVERYTHING)
    store.sim.set_faults({"bearer_tokens": True})
    allowed = store.bearer("/rest/V1/orders", token, EVERYTHING)
    padded = store.http.get(
        f"{store.url}/rest/V1/orders",
        params=EVERYTHING,
        headers={"Authorization": f"Bearer  {token}"},  # three pieces: not a Bearer header
    )

    assert (refused.status_code, refused.json()) == (401, GUEST)
    assert allowed.status_code == 200
    assert (padded.status_code, padded.json()) == (401, GUEST)


def test_no_credentials_are_a_guests(store: Store) -> None:
    response = store.http.get(f"{store.url}/rest/V1/orders", params=EVERYTHING)

    assert (response.status_code, response.json()) == (401, GUEST)
    assert response.text == (
        '{"message":"The consumer isn\'t authorized to access %resources.",'
        '"parameters":{"resources":"Magento_Sales::actions_view"}}'
    )


def test_an_admin_token_works_for_four_hours(store: Store) -> None:
    issued = store.http.post(
        f"{store.url}/rest/V1/integration/admin/token",
        json={"username": "admin", "password": "Admin123!"},
    )
    assert issued.status_code == 200
    token = issued.json()
    assert isinstance(token, str)
    assert token.count(".") == 2  # a JWT, as 2.4 issues them

    assert store.bearer("/rest/V1/orders", token, EVERYTHING).status_code == 200
    store.clock.advance(timedelta(hours=4))
    assert store.bearer("/rest/V1/orders", token, EVERYTHING).json() == GUEST


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        (
            {"username": "admin", "password": "wrong"},
            401,
            {
                "message": "The account sign-in was incorrect or your account is disabled"
                " temporarily. Please wait and try again later."
            },
        ),
        (
            {"username": "admin"},
            400,
            {
                "message": '"%fieldName" is required. Enter and try again.',
                "parameters": {"fieldName": "password"},
            },
        ),
    ],
)
def test_admin_token_refusals(
    store: Store, body: dict[str, str], status: int, answer: dict[str, Any]
) -> None:
    response = store.http.post(f"{store.url}/rest/V1/integration/admin/token", json=body)

    assert (response.status_code, response.json()) == (status, answer)


# -- searchCriteria and paging ----------------------------------------------------------------


@pytest.fixture
def admin(store: Store) -> Any:
    token = store.sim.admin_token()

    def get(path: str, params: Any = None) -> httpx.Response:
        return store.bearer(path, token, params)

    return get


def test_a_page_past_the_end_is_the_last_page_again_or_empty(store: Store, admin: Any) -> None:
    created = store.sim.add_orders(5)
    page = {"searchCriteria[pageSize]": "2", "searchCriteria[currentPage]": "9"}

    again = admin("/rest/V1/orders", page)
    store.sim.set_faults({"past_end": "empty"})
    empty = admin("/rest/V1/orders", page)

    assert _ids(again) == created[4:]
    assert again.json()["total_count"] == 5
    assert again.json()["search_criteria"] == {
        "filter_groups": [],
        "page_size": 2,
        "current_page": 9,
    }
    assert (_ids(empty), empty.json()["total_count"]) == ([], 5)


def test_without_a_page_size_every_order_comes_back_unless_input_limits_are_on(
    store: Store, admin: Any
) -> None:
    store.sim.add_orders(25)

    everything = admin("/rest/V1/orders", EVERYTHING)
    store.sim.set_faults({"input_limits": True})
    limited = admin("/rest/V1/orders", EVERYTHING)
    too_many = admin("/rest/V1/orders", {"searchCriteria[pageSize]": "301"})

    assert len(_ids(everything)) == 25
    assert "page_size" not in everything.json()["search_criteria"]  # issue #35310
    assert len(_ids(limited)) == 20
    assert (too_many.status_code, too_many.json()) == (
        400,
        {"message": "Maximum SearchCriteria pageSize is %max", "parameters": {"max": 300}},
    )


def test_snake_case_and_camel_case_criteria_are_the_same(store: Store, admin: Any) -> None:
    store.sim.add_orders(6, statuses=["pending", "processing", "complete"])
    snake = {
        "searchCriteria[filter_groups][0][filters][0][field]": "status",
        "searchCriteria[filter_groups][0][filters][0][value]": "pending,complete",
        "searchCriteria[filter_groups][0][filters][0][condition_type]": "in",
        "searchCriteria[sort_orders][0][field]": "entity_id",
        "searchCriteria[sort_orders][0][direction]": "desc",
        "searchCriteria[page_size]": "10",
    }
    camel = {
        key.replace("filter_groups", "filterGroups")
        .replace("condition_type", "conditionType")
        .replace("sort_orders", "sortOrders")
        .replace("page_size", "pageSize"): value
        for key, value in snake.items()
    }

    assert _ids(admin("/rest/V1/orders", snake)) == [6, 4, 3, 1]
    assert _ids(admin("/rest/V1/orders", camel)) == [6, 4, 3, 1]


def test_filters_or_within_a_group_and_and_across_groups(store: Store, admin: Any) -> None:
    store.sim.add_orders(6, statuses=["pending", "processing", "canceled"])
    store.sim.add_orders(1, statuses=["pending"], email="Someone@Example.org")
    group = "searchCriteria[filter_groups]"
    params = {
        f"{group}[0][filters][0][field]": "status",
        f"{group}[0][filters][0][value]": "pending",
        f"{group}[0][filters][1][field]": "status",
        f"{group}[0][filters][1][value]": "canceled",
        f"{group}[1][filters][0][field]": "entity_id",
        f"{group}[1][filters][0][value]": "2",
        f"{group}[1][filters][0][condition_type]": "gt",
    }
    like = {
        f"{group}[0][filters][0][field]": "customer_email",
        f"{group}[0][filters][0][value]": "%@example.ORG",
        f"{group}[0][filters][0][condition_type]": "like",
    }

    assert _ids(admin("/rest/V1/orders", params)) == [3, 4, 6, 7]
    assert _ids(admin("/rest/V1/orders", like)) == [7]


def test_orders_tied_on_the_only_sort_field_repeat_and_go_missing_across_pages(
    store: Store, admin: Any
) -> None:
    created = store.sim.add_orders(60)  # all in one second
    seen: dict[str, list[int]] = {}
    for tie_break in (False, True):
        params = {
            "searchCriteria[sortOrders][0][field]": "updated_at",
            "searchCriteria[pageSize]": "20",
        }
        if tie_break:
            params["searchCriteria[sortOrders][1][field]"] = "entity_id"
        listed: list[int] = []
        for page in (1, 2, 3):
            listed += _ids(
                admin("/rest/V1/orders", params | {"searchCriteria[currentPage]": str(page)})
            )
        seen[str(tie_break)] = listed

    # As MySQL with ORDER BY … LIMIT: each page orders the ties its own way.
    assert len(set(seen["False"])) < len(created)
    assert seen["True"] == created


@pytest.mark.parametrize(
    ("params", "status", "body"),
    [
        (
            {},
            400,
            {
                "message": '"%fieldName" is required. Enter and try again.',
                "parameters": {"fieldName": "searchCriteria"},
            },
        ),
        (
            {"searchCriteria[pageSize]": "ten"},
            400,
            {
                "message": 'The "%value" value\'s type is invalid. The "%type" type was expected.'
                " Verify and try again.",
                "parameters": {"value": "ten", "type": "int"},
            },
        ),
        (
            {"searchCriteria[limit]": "10"},
            400,
            {
                "message": 'Property "%propertyName" does not have accessor method'
                ' "%accessorMethod" in class "%className".',
                "parameters": {
                    "propertyName": "Limit",
                    "accessorMethod": "getLimit",
                    "className": "Magento\\Framework\\Api\\SearchCriteriaInterface",
                },
            },
        ),
    ],
)
def test_bad_criteria_are_refused(
    store: Store, admin: Any, params: dict[str, str], status: int, body: dict[str, Any]
) -> None:
    response = admin("/rest/V1/orders", params)

    assert (response.status_code, response.json()) == (status, body)


def test_a_field_that_is_no_column_is_a_masked_sql_error(store: Store, admin: Any) -> None:
    response = admin(
        "/rest/V1/orders",
        {
            "searchCriteria[filter_groups][0][filters][0][field]": "modified",
            "searchCriteria[filter_groups][0][filters][0][value]": "2020-01-01",
        },
    )

    assert response.status_code == 500
    assert response.json()["message"].startswith(
        "Internal Error. Details are available in Magento log file. Report ID: webapi-"
    )


def test_routes_store_codes_and_single_orders(store: Store, admin: Any) -> None:
    (order_id,) = store.sim.add_orders(1)

    assert _ids(admin("/rest/default/V1/orders", EVERYTHING)) == [order_id]
    assert _ids(admin("/index.php/rest/all/V1/orders", EVERYTHING)) == [order_id]
    assert admin(f"/rest/V1/orders/{order_id}").json()["entity_id"] == order_id
    missing, unknown = admin("/rest/V1/orders/999"), admin("/rest/V1/shipments")
    no_entity = "The entity that was requested doesn't exist. Verify the entity and try again."
    assert (missing.status_code, missing.json()) == (404, {"message": no_entity})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"message": "Request does not match any route."},
    )


# -- orders -----------------------------------------------------------------------------------


def test_times_are_utc_whatever_the_stores_timezone(store: Store, admin: Any) -> None:
    moment = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    store.sim.set_faults({"site_timezone": "America/New_York"})
    (order_id,) = store.sim.add_orders(1, created=moment)

    order = admin(f"/rest/V1/orders/{order_id}").json()
    (config, *_) = admin("/rest/V1/store/storeConfigs").json()

    assert (order["created_at"], order["updated_at"]) == (
        "2026-11-01 05:30:00",
        "2026-11-01 05:30:00",
    )
    assert config["timezone"] == "America/New_York"


def test_an_order_has_magentos_shape(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1, lines=2, email="ada@example.com", total=Decimal("19.99"))

    order = store.sim.order(order_id)

    assert (order["increment_id"], order["status"], order["state"]) == (
        "000000001",
        "processing",
        "processing",
    )
    assert (order["grand_total"], order["base_grand_total"], order["order_currency_code"]) == (
        19.99,
        19.99,
        "USD",
    )
    assert order["customer_email"] == "ada@example.com"
    types = [(item["product_type"], "parent_item_id" in item) for item in order["items"]]
    assert types == [("configurable", False), ("simple", True), ("simple", False)]
    parent, child, _ = order["items"]
    assert (child["price"], child["parent_item"]["item_id"]) == (0.0, parent["item_id"])
    assert parent["sku"] == child["sku"]
    address = order["extension_attributes"]["shipping_assignments"][0]["shipping"]["address"]
    assert address["address_type"] == "shipping"


def test_the_json_is_phps(store: Store, admin: Any) -> None:
    # Mateo García's order: non-ASCII escaped, slashes escaped, floats with a decimal point.
    (order_id,) = store.sim.add_orders(5)[4:]

    text = admin(f"/rest/V1/orders/{order_id}").text

    assert "Garc\\u00eda" in text
    assert '"base_to_order_rate":1.0' in text


def test_a_euro_order_keeps_base_amounts_beside(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1, total=Decimal("92.00"), currency="EUR")

    order = store.sim.order(order_id)

    assert (order["grand_total"], order["order_currency_code"]) == (92.0, "EUR")
    assert (order["base_grand_total"], order["base_currency_code"]) == (100.0, "USD")
    assert (order["store_id"], order["increment_id"]) == (2, "200000001")


def test_a_status_change_moves_the_state_and_is_recorded(store: Store) -> None:
    (order_id,) = store.sim.add_orders(1, statuses=["pending"])
    store.sim.set_faults({"custom_statuses": {"ready_for_pickup": "complete"}})
    store.clock.advance(timedelta(minutes=5))

    store.sim.set_status(order_id, "ready_for_pickup", comment="Packed at the Austin store")

    order = store.sim.order(order_id)
    assert (order["status"], order["state"]) == ("ready_for_pickup", "complete")
    assert order["updated_at"] == store.clock.now().strftime("%Y-%m-%d %H:%M:%S")
    assert order["status_histories"][0]["comment"] == "Packed at the Austin store"
    with pytest.raises(ValueError, match="unknown status"):
        store.sim.set_status(order_id, "shipped")


# -- control routes and faults ----------------------------------------------------------------


def test_control_routes_drive_the_store(store: Store) -> None:
    created = store.control(
        "POST", "orders", {"count": 2, "statuses": ["pending"], "created": "2026-01-05T10:00:00Z"}
    )
    assert created.status_code == 201
    first, second = created.json()["ids"]
    changed = store.control("POST", f"orders/{first}/status", {"status": "complete"})
    credentials = store.control("GET", "credentials").json()
    bearer = store.control("GET", "credentials?bearer=1").json()

    assert changed.json()["status"] == "complete"
    assert store.control("GET", "orders").json() == {str(first): "complete", str(second): "pending"}
    assert credentials == store.sim.credentials(store.url)
    assert set(bearer) == {"base_url", "access_token"}
    assert store.control("POST", "orders/99/status", {"status": "complete"}).status_code == 404
    assert store.control("POST", "orders", {"statuses": ["shipped"]}).status_code == 400


def test_faults_are_switched_on_and_off(store: Store, admin: Any) -> None:
    assert (
        store.control("POST", "faults", {"rate_limit": {"burst": 1, "retry_after": 7}}).status_code
        == 200
    )
    limited = admin("/rest/V1/orders", EVERYTHING)
    store.control("POST", "faults", {"server_error": 1})
    failing = admin("/rest/V1/orders", EVERYTHING)
    store.control("POST", "faults", {"firewall_user_agent": "python-httpx"})
    blocked = admin("/rest/V1/orders", EVERYTHING)
    cleared = store.control("DELETE", "faults").json()

    assert (limited.status_code, limited.headers["retry-after"]) == (429, "7")
    assert failing.status_code == 500
    assert failing.json()["message"].startswith("Internal Error.")
    assert (blocked.status_code, "cloudflare" in blocked.text.lower()) == (403, True)
    assert cleared["firewall_user_agent"] is None
    assert admin("/rest/V1/orders", EVERYTHING).status_code == 200
    assert store.control("POST", "faults", {"custom_statuses": ["Bad Code"]}).status_code == 400
    assert store.control("POST", "faults", {"teleport": True}).status_code == 400
