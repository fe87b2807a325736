"""Each connector's default status rules (DESIGN.md's table) and what it declares about its
platform: name, webhooks, polling interval, webhook secret fields, order id."""

from __future__ import annotations

import pytest

from shoptrack.connectors import connector_for, known_platforms
from shoptrack.domain.status import Lifecycle, StatusRules, StatusSet, status_rules

PLACED = Lifecycle.PLACED
FULFILLED = Lifecycle.FULFILLED
CANCELLED = Lifecycle.CANCELLED
REFUNDED = Lifecycle.REFUNDED

# Each platform's status catalogue as its API reports it, plus one status no rule knows.
CATALOGUES: dict[str, tuple[str, ...]] = {
    "shopify": (
        "pending",
        "authorized",
        "partially_paid",
        "paid",
        "partially_refunded",
        "refunded",
        "voided",
        "custom_unknown",
    ),
    # 0 Incomplete .. 14 Partially Refunded, and 99 (unknown).
    "bigcommerce": (*(str(n) for n in range(15)), "99"),
    "magento2": (
        "pending",
        "pending_payment",
        "processing",
        "holded",
        "payment_review",
        "fraud",
        "complete",
        "closed",
        "canceled",
        "custom_unknown",
    ),
    "woocommerce": (
        "pending",
        "processing",
        "on-hold",
        "completed",
        "cancelled",
        "refunded",
        "failed",
        "checkout-draft",
        "custom_unknown",
    ),
    # 1 Awaiting check payment .. 13 Awaiting COD validation, and 99 (unknown).
    "prestashop": (*(str(n) for n in range(1, 14)), "99"),
    # 1 New, 2 Processing, 3 Partial, 4 Shipped, 5 Cancel, 6 Hold, 7 Not Completed (abandoned),
    # 8-10 custom slots, and 99 (unknown).
    "shift4shop": (*(str(n) for n in range(1, 11)), "99"),
}

# DESIGN.md's table, written out status by status (exclude rules expanded by hand), so that this
# test does not share any logic with the code under test.
TABLE: dict[str, dict[Lifecycle, frozenset[str]]] = {
    "shopify": {
        PLACED: frozenset(CATALOGUES["shopify"]),  # any: the order exists
        FULFILLED: frozenset(),  # from fulfillment_status, reported beside the status
        CANCELLED: frozenset(),  # from cancelled_at, reported beside the status
        REFUNDED: frozenset({"refunded"}),
    },
    "bigcommerce": {
        PLACED: frozenset({"2", "3", "4", "5", "6", "8", "9", "10", "11", "12", "13", "14", "99"}),
        FULFILLED: frozenset({"2", "10"}),
        CANCELLED: frozenset({"5", "6"}),
        REFUNDED: frozenset({"4"}),
    },
    "magento2": {
        PLACED: frozenset(
            {
                "pending",
                "processing",
                "holded",
                "payment_review",
                "fraud",
                "complete",
                "closed",
                "canceled",
                "custom_unknown",
            }
        ),
        FULFILLED: frozenset({"complete"}),
        CANCELLED: frozenset({"canceled"}),
        REFUNDED: frozenset({"closed"}),
    },
    "woocommerce": {
        PLACED: frozenset({"processing"}),
        FULFILLED: frozenset({"completed"}),
        CANCELLED: frozenset({"cancelled"}),
        REFUNDED: frozenset({"refunded"}),
    },
    "prestashop": {
        PLACED: frozenset({"3"}),
        FULFILLED: frozenset({"4", "5"}),
        CANCELLED: frozenset({"6"}),
        REFUNDED: frozenset({"7"}),
    },
    "shift4shop": {
        PLACED: frozenset({"2", "4"}),
        FULFILLED: frozenset({"4"}),
        CANCELLED: frozenset({"5"}),
        REFUNDED: frozenset(),
    },
}


def _expected_stages(platform: str, raw_status: str) -> frozenset[Lifecycle]:
    return frozenset(stage for stage, members in TABLE[platform].items() if raw_status in members)


# --- the default table ------------------------------------------------------------------------


def default_rules(platform: str) -> StatusRules:
    return connector_for(platform).default_rules


def test_the_six_platforms_have_defaults() -> None:
    assert set(known_platforms()) == set(TABLE)


@pytest.mark.parametrize(
    ("platform", "raw_status"),
    [(platform, status) for platform, statuses in CATALOGUES.items() for status in statuses],
)
def test_default_rules_match_the_design_table(platform: str, raw_status: str) -> None:
    assert default_rules(platform).stages(raw_status) == _expected_stages(platform, raw_status)


@pytest.mark.parametrize("platform", sorted(TABLE))
@pytest.mark.parametrize("stage", list(Lifecycle))
def test_each_stage_list_holds_exactly_the_table_statuses(platform: str, stage: Lifecycle) -> None:
    status_set = default_rules(platform).for_stage(stage)
    members = {status for status in CATALOGUES[platform] if status in status_set}
    assert members == TABLE[platform][stage]


@pytest.mark.parametrize(
    ("platform", "raw_status"),
    [
        ("bigcommerce", "0"),  # Incomplete
        ("bigcommerce", "1"),  # Pending
        ("bigcommerce", "7"),  # Awaiting Payment
        ("magento2", "pending_payment"),
        ("shift4shop", "7"),  # Not Completed: an abandoned checkout
        ("shift4shop", "1"),  # New
        ("woocommerce", "pending"),
        ("woocommerce", "on-hold"),
        ("woocommerce", "failed"),
        ("prestashop", "1"),  # Awaiting check payment
        ("prestashop", "2"),  # Payment accepted
    ],
)
def test_statuses_that_are_never_placed(platform: str, raw_status: str) -> None:
    assert default_rules(platform).stages(raw_status) == frozenset()


@pytest.mark.parametrize(
    ("platform", "raw_status", "stages"),
    [
        ("bigcommerce", "11", {PLACED}),  # Awaiting Fulfillment
        ("bigcommerce", "2", {PLACED, FULFILLED}),  # Shipped
        ("bigcommerce", "10", {PLACED, FULFILLED}),  # Completed
        ("bigcommerce", "4", {PLACED, REFUNDED}),
        ("bigcommerce", "5", {PLACED, CANCELLED}),  # the table's exclude rule places 5 as well
        ("bigcommerce", "6", {PLACED, CANCELLED}),  # Declined
        ("magento2", "complete", {PLACED, FULFILLED}),
        ("magento2", "closed", {PLACED, REFUNDED}),
        ("woocommerce", "completed", {FULFILLED}),  # placed only by implication (lifecycle)
        ("prestashop", "5", {FULFILLED}),  # Delivered
        ("shift4shop", "4", {PLACED, FULFILLED}),  # Shipped
        ("shopify", "refunded", {PLACED, REFUNDED}),
        ("shopify", "paid", {PLACED}),
    ],
)
def test_named_table_cells(platform: str, raw_status: str, stages: set[Lifecycle]) -> None:
    assert default_rules(platform).stages(raw_status) == stages


def test_shift4shop_has_no_refunded_status() -> None:
    rules = default_rules("shift4shop")
    assert not any(status in rules.refunded for status in CATALOGUES["shift4shop"])
    assert rules.to_settings()["refunded_statuses"] == {"include": []}


def test_exclude_rules_are_stored_as_exclude_settings() -> None:
    assert default_rules("bigcommerce").to_settings()["placed_statuses"] == {
        "exclude": ["0", "1", "7"]
    }
    assert default_rules("magento2").to_settings()["placed_statuses"] == {
        "exclude": ["pending_payment"]
    }
    assert default_rules("shopify").to_settings()["placed_statuses"] == {"exclude": []}
    assert default_rules("woocommerce").to_settings()["placed_statuses"] == {
        "include": ["processing"]
    }


@pytest.mark.parametrize("platform", sorted(TABLE))
def test_settings_round_trip(platform: str) -> None:
    rules = default_rules(platform)
    assert status_rules(StatusSet.including(())).with_settings(rules.to_settings()) == rules


# --- what else each connector declares about its platform --------------------------------------


@pytest.mark.parametrize(
    ("platform", "name", "webhooks", "interval"),
    [
        # DESIGN.md, "How fresh each platform is": webhook platforms are polled as a safety net.
        ("shopify", "Shopify", True, 15),
        ("woocommerce", "WooCommerce", True, 15),
        ("bigcommerce", "BigCommerce", True, 15),
        ("magento2", "Magento 2", False, 5),
        ("prestashop", "PrestaShop", False, 5),
        ("shift4shop", "Shift4Shop", False, 5),
    ],
)
def test_name_webhooks_and_polling_interval(
    platform: str, name: str, webhooks: bool, interval: int
) -> None:
    connector = connector_for(platform)
    assert connector.display_name == name
    assert connector.sends_webhooks is webhooks
    assert connector.sync_interval_minutes == interval


@pytest.mark.parametrize(
    ("platform", "raw", "order_id"),
    [
        ("shopify", {"id": 450789469, "name": "#1001"}, "450789469"),
        ("woocommerce", {"id": 727, "number": "727"}, "727"),
        ("bigcommerce", {"id": 100}, "100"),
        ("prestashop", {"id": 5, "reference": "XKBKNABJK"}, "5"),
        ("magento2", {"entity_id": 12, "increment_id": "000000012"}, "12"),
        ("shift4shop", {"OrderID": 33, "InvoiceNumber": 1003}, "33"),
    ],
)
def test_raw_order_id(platform: str, raw: dict[str, object], order_id: str) -> None:
    assert connector_for(platform).raw_order_id(raw) == order_id


def test_a_raw_order_without_its_id_field_has_an_empty_id() -> None:
    assert connector_for("magento2").raw_order_id({"increment_id": "000000012"}) == ""


def test_shopify_tries_the_apps_client_secret_first() -> None:
    secrets = connector_for("shopify").webhook_secrets(
        {
            "client_secret": "app",
            "webhook_secret": "entered",
            "previous_webhook_secrets": ["old", "app"],
        }
    )
    assert secrets == ["app", "entered", "old"]


@pytest.mark.parametrize(
    ("platform", "credentials", "storefront"),
    [
        (
            "shopify",
            {"shop_domain": "demo.myshopify.com", "access_token": "t"},
            "https://demo.myshopify.com",
        ),
        (
            "woocommerce",
            {"store_url": "https://shop.example.com/", "consumer_key": "k", "consumer_secret": "s"},
            "https://shop.example.com",
        ),
        (
            "magento2",
            {"base_url": "https://magento.example.com", "access_token": "t"},
            "https://magento.example.com",
        ),
        (
            "prestashop",
            {"base_url": "https://presta.example.com/api", "webservice_key": "K" * 32},
            "https://presta.example.com",
        ),
        ("bigcommerce", {"store_hash": "abc123", "access_token": "t"}, None),
        (
            "shift4shop",
            {"secure_url": "https://s4s.example.com", "private_key": "p", "token": "t"},
            None,
        ),
    ],
)
def test_the_storefront_is_the_stores_own_address_where_the_credentials_hold_it(
    platform: str, credentials: dict[str, str], storefront: str | None
) -> None:
    connector = connector_for(platform)
    read = connector.credentials_model.model_validate(credentials)
    assert connector.storefront_url(read) == storefront
