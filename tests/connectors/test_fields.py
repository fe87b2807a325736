"""Reading a store's raw JSON: an address under each platform's own key names, a value written
in several places, a time in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shoptrack.connectors import fields
from shoptrack.domain.order import Address


def test_fields_are_read_from_their_own_names_or_the_keys_given() -> None:
    raw = {"first_name": " Ada ", "street_1": "1 Main St", "state": "Texas", "city": ""}
    assert fields.address(raw, address1="street_1", region="state") == Address(
        first_name="Ada", address1="1 Main St", region="Texas"
    )


def test_a_field_the_platform_does_not_write_is_left_out() -> None:
    raw = {"country": "US", "state": "TX"}
    assert fields.address(raw, country=None, country_code="country", region_code="state") == (
        Address(country_code="US", region_code="TX")
    )


def test_an_address_without_any_field_is_none() -> None:
    assert fields.address({"first_name": "  ", "email": "a@example.com"}) is None


def test_an_unknown_address_field_is_refused() -> None:
    with pytest.raises(TypeError, match="postcode"):
        fields.address({}, postcode="zip")


def test_each_object_of_a_list_is_read_with_its_path() -> None:
    raw = {"coupons": [{"code": "A"}, {"code": "B"}]}
    assert fields.each(raw, "coupons", lambda coupon, path: path + coupon["code"]) == (
        "coupons[0].A",
        "coupons[1].B",
    )
    assert fields.each({}, "coupons", lambda coupon, path: path) == ()


def test_each_names_the_object_that_cannot_be_read() -> None:
    raw = {"line_items": [{"name": "Tee"}, {"name": ""}]}
    with pytest.raises(ValueError, match=r"line_items\[1\]\.name: empty"):
        fields.each(raw, "line_items", lambda item, path: fields.text(item, "name", path))
    with pytest.raises(ValueError, match="line_items: missing"):
        fields.each({}, "line_items", lambda item, path: path, required=True)


def test_first_text_is_the_first_place_holding_text() -> None:
    customer = {"first_name": "  ", "email": "ada@example.com"}
    billing = {"first_name": " Ada ", "last_name": 7}
    assert fields.first_text((customer, "first_name"), (billing, "first_name")) == "Ada"
    assert fields.first_text((customer, "last_name"), (billing, "last_name")) == "7"
    assert fields.first_text((customer, "phone"), (billing, "phone")) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-03-22T19:28:02", datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)),
        ("2017-03-22T21:28:02+02:00", datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)),
    ],
)
def test_utc_time_takes_a_time_without_an_offset_as_utc(value: str, expected: datetime) -> None:
    moment = fields.utc_time({"at": value}, "at", datetime.fromisoformat, "an ISO 8601 date-time")
    assert moment == expected
    assert moment.tzinfo is UTC


@pytest.mark.parametrize("value", ["yesterday", 1490210882, None])
def test_utc_time_names_the_field_and_the_form_it_expects(value: object) -> None:
    expected = "at: missing" if value is None else "at: not an ISO 8601 date-time"
    with pytest.raises(ValueError, match=expected):
        fields.utc_time({"at": value}, "at", datetime.fromisoformat, "an ISO 8601 date-time")
