"""The default status rules of DESIGN.md's table, settings overrides, and Magento's fallback."""

from __future__ import annotations

from typing import Any

import pytest

from shoptrack.domain.status import (
    DEFAULT_RULES,
    PLATFORMS,
    Lifecycle,
    StatusRuleError,
    StatusRules,
    StatusSet,
    default_rules,
)

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


def test_the_six_platforms_have_defaults() -> None:
    assert set(PLATFORMS) == set(TABLE)
    assert set(DEFAULT_RULES) == set(TABLE)


@pytest.mark.parametrize(
    ("platform", "raw_status"),
    [(platform, status) for platform, statuses in CATALOGUES.items() for status in statuses],
)
def test_default_rules_match_the_design_table(platform: str, raw_status: str) -> None:
    assert default_rules(platform).stages(raw_status) == _expected_stages(platform, raw_status)


@pytest.mark.parametrize("platform", PLATFORMS)
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


def test_a_platform_without_orders_places_nothing() -> None:
    rules = default_rules("api")
    assert rules.stages("processing") == frozenset()
    assert rules.stages("anything") == frozenset()


# --- settings overrides -----------------------------------------------------------------------


def test_plain_list_replaces_one_stage_only() -> None:
    rules = default_rules("woocommerce").with_settings(
        {"placed_statuses": ["processing", "on-hold"]}
    )
    assert rules.stages("on-hold") == {PLACED}
    assert rules.stages("processing") == {PLACED}
    assert rules.stages("pending") == frozenset()
    # the other three lists keep their defaults
    assert rules.stages("completed") == {FULFILLED}
    assert rules.stages("cancelled") == {CANCELLED}
    assert rules.stages("refunded") == {REFUNDED}


def test_include_object() -> None:
    rules = default_rules("prestashop").with_settings({"placed_statuses": {"include": ["2", "3"]}})
    assert rules.stages("2") == {PLACED}
    assert rules.stages("3") == {PLACED}
    assert rules.stages("1") == frozenset()


def test_exclude_object() -> None:
    rules = default_rules("woocommerce").with_settings(
        {"placed_statuses": {"exclude": ["pending", "failed", "checkout-draft"]}}
    )
    assert rules.stages("on-hold") == {PLACED}
    assert rules.stages("my-custom") == {PLACED}
    assert rules.stages("pending") == frozenset()
    assert rules.stages("failed") == frozenset()


def test_override_of_an_exclude_default_with_an_include_list() -> None:
    rules = default_rules("bigcommerce").with_settings({"placed_statuses": ["11", "9"]})
    assert rules.stages("11") == {PLACED}
    assert rules.stages("8") == frozenset()
    assert rules.stages("2") == {FULFILLED}


@pytest.mark.parametrize("key", ["fulfilled_statuses", "cancelled_statuses", "refunded_statuses"])
def test_every_list_can_be_overridden(key: str) -> None:
    stage = Lifecycle(key.removesuffix("_statuses"))
    rules = default_rules("woocommerce").with_settings({key: ["my-custom"]})
    assert rules.stages("my-custom") == {stage}
    default_status = {
        FULFILLED: "completed",
        CANCELLED: "cancelled",
        REFUNDED: "refunded",
    }[stage]
    assert stage not in rules.stages(default_status)


def test_integers_and_padding_are_read_as_status_strings() -> None:
    rules = default_rules("bigcommerce").with_settings({"fulfilled_statuses": [2, " 10 ", "3"]})
    assert rules.fulfilled == StatusSet.including(["2", "10", "3"])
    assert FULFILLED in rules.stages("3")


def test_missing_and_null_settings_keep_defaults() -> None:
    defaults = default_rules("magento2")
    assert defaults.with_settings({}) == defaults
    assert defaults.with_settings({"placed_statuses": None, "timezone": "Europe/Paris"}) == defaults


def test_empty_include_list_places_nothing() -> None:
    rules = default_rules("shopify").with_settings({"placed_statuses": []})
    assert rules.stages("paid") == frozenset()


@pytest.mark.parametrize("platform", PLATFORMS)
def test_settings_round_trip(platform: str) -> None:
    rules = default_rules(platform)
    assert default_rules("api").with_settings(rules.to_settings()) == rules


def test_with_settings_does_not_change_the_defaults() -> None:
    before = default_rules("woocommerce").to_settings()
    default_rules("woocommerce").with_settings({"placed_statuses": ["on-hold"]})
    assert default_rules("woocommerce").to_settings() == before


# --- bad settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "processing",  # a bare string, not a list
        11,
        {},
        {"include": ["3"], "exclude": ["4"]},
        {"Include": ["3"]},
        {"only": ["3"]},
        {"include": "processing"},
        {"exclude": None},
        [None],
        [True],
        [1.5],
        [["3"]],
        [""],
        ["   "],
        [{"status": "3"}],
    ],
)
@pytest.mark.parametrize(
    "key", ["placed_statuses", "fulfilled_statuses", "cancelled_statuses", "refunded_statuses"]
)
def test_bad_settings_raise_naming_the_setting(key: str, value: Any) -> None:
    with pytest.raises(StatusRuleError, match=key):
        default_rules("woocommerce").with_settings({key: value})


def test_status_rule_error_is_a_value_error() -> None:
    assert issubclass(StatusRuleError, ValueError)


def test_one_bad_list_fails_the_whole_change() -> None:
    with pytest.raises(StatusRuleError, match="refunded_statuses"):
        default_rules("woocommerce").with_settings(
            {"placed_statuses": ["processing"], "refunded_statuses": "refunded"}
        )


# --- StatusSet --------------------------------------------------------------------------------


def test_status_set_membership_and_names() -> None:
    included = StatusSet.including(["a", "b"])
    excluded = StatusSet.excluding(["a"])
    assert "a" in included
    assert "c" not in included
    assert "a" not in excluded
    assert "c" in excluded
    assert included.names("a")
    assert excluded.names("a")
    assert not excluded.names("c")


def test_status_set_to_setting_is_sorted() -> None:
    assert StatusSet.including(["b", "a"]).to_setting() == {"include": ["a", "b"]}
    assert StatusSet.excluding(["7", "0"]).to_setting() == {"exclude": ["0", "7"]}


# --- Magento 2 custom statuses fall back on their state ---------------------------------------


@pytest.mark.parametrize(
    ("custom_status", "state", "stages"),
    [
        ("awaiting_pickup", "complete", {PLACED, FULFILLED}),
        ("being_packed", "processing", {PLACED}),
        ("awaiting_bank_transfer", "pending_payment", set()),
        ("chargeback", "closed", {PLACED, REFUNDED}),
        ("fraud_rejected", "canceled", {PLACED, CANCELLED}),
    ],
)
def test_magento_custom_status_falls_back_on_its_state(
    custom_status: str, state: str, stages: set[Lifecycle]
) -> None:
    assert default_rules("magento2").stages(custom_status, fallback=state) == stages


def test_magento_named_status_ignores_the_fallback() -> None:
    rules = default_rules("magento2")
    assert rules.stages("pending_payment", fallback="processing") == frozenset()
    assert rules.stages("complete", fallback="pending_payment") == {PLACED, FULFILLED}


def test_magento_custom_status_named_in_settings_is_judged_by_its_own_rule() -> None:
    rules = default_rules("magento2").with_settings(
        {"fulfilled_statuses": ["complete", "ready_for_pickup"]}
    )
    assert rules.stages("ready_for_pickup", fallback="processing") == {PLACED, FULFILLED}
    # a custom status excluded from placed is not rescued by a placed-looking state
    rules = default_rules("magento2").with_settings(
        {"placed_statuses": {"exclude": ["pending_payment", "awaiting_transfer"]}}
    )
    assert rules.stages("awaiting_transfer", fallback="processing") == frozenset()


def test_custom_status_without_fallback_is_judged_by_its_name() -> None:
    rules = default_rules("magento2")
    assert rules.stages("awaiting_pickup") == {PLACED}  # anything except pending_payment
    assert default_rules("woocommerce").stages("awaiting-pickup") == frozenset()


def test_unknown_fallback_is_judged_like_an_unknown_status() -> None:
    assert default_rules("woocommerce").stages("x", fallback="y") == frozenset()
    assert default_rules("magento2").stages("x", fallback="y") == {PLACED}


def test_stages_return_only_lifecycle_members() -> None:
    rules: StatusRules = default_rules("bigcommerce")
    assert all(isinstance(stage, Lifecycle) for stage in rules.stages("10"))
