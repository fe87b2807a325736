"""Status rules: settings overrides of a platform's defaults, bad settings, and Magento's
fallback on the state."""

from __future__ import annotations

from typing import Any

import pytest

from shoptrack.connectors import connector_for
from shoptrack.domain.status import (
    Lifecycle,
    StatusRuleError,
    StatusRules,
    StatusSet,
    status_rules,
)

PLACED = Lifecycle.PLACED
FULFILLED = Lifecycle.FULFILLED
CANCELLED = Lifecycle.CANCELLED
REFUNDED = Lifecycle.REFUNDED


def default_rules(platform: str) -> StatusRules:
    """The defaults the platform's connector declares, which the settings below change."""
    return connector_for(platform).default_rules


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


def test_rules_built_from_sets() -> None:
    rules = status_rules(StatusSet.excluding(["0"]), fulfilled=[2], refunded=("4",))
    assert rules.placed == StatusSet.excluding(["0"])
    assert rules.fulfilled == StatusSet.including(["2"])
    assert rules.cancelled == StatusSet.including(())
    assert rules.stages("4") == {PLACED, REFUNDED}


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
