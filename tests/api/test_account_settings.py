"""The account settings resource, ``GET|PATCH /api/account-settings``, on both databases: its
defaults, changes that keep what they do not name, errors naming the setting, other accounts left
alone, and what the settings change (test orders and flows, the CLI)."""

from __future__ import annotations

from typing import Any

import pytest

from shoptrack.services import Services
from shoptrack.store.accounts import account_settings
from shoptrack.testing import Shop, make_shop
from tests.helpers import AppClient

URL = "/api/account-settings"
DEFAULTS = {
    "time_zone": "UTC",
    "test_sends": False,
    "attribution_window_days": 5,
    "attribution_clicks_only": False,
    "email_tracking": True,
    "utm_parameters": True,
}


def _patch(client: AppClient, shop: Shop, attributes: Any, **data: Any) -> Any:
    body = {"data": {"type": "account-settings", "attributes": attributes, **data}}
    return client.request(
        "PATCH",
        URL,
        headers={**shop.headers(), "content-type": "application/vnd.api+json"},
        json=body,
    )


def test_settings_have_defaults_and_change_one_at_a_time(client: AppClient, shop: Shop) -> None:
    got = client.get(URL, headers=shop.headers())
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("application/vnd.api+json")
    data = got.json()["data"]
    assert data["type"] == "account-settings"
    assert data["id"] == shop.account_id
    assert data["attributes"] == DEFAULTS
    assert data["links"]["self"].endswith(URL)

    changed = _patch(client, shop, {"time_zone": "America/New_York"}, id=shop.account_id)
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["attributes"] == {**DEFAULTS, "time_zone": "America/New_York"}
    assert _patch(client, shop, {"test_sends": True}).status_code == 200
    engagement = {
        "attribution_window_days": 7,
        "attribution_clicks_only": True,
        "email_tracking": False,
        "utm_parameters": False,
    }
    assert _patch(client, shop, engagement).status_code == 200
    attributes = client.get(URL, headers=shop.headers()).json()["data"]["attributes"]
    assert attributes == {"time_zone": "America/New_York", "test_sends": True, **engagement}


@pytest.mark.parametrize(
    ("attributes", "pointer", "words"),
    [
        ({"time_zone": "Mars/Olympus_Mons"}, "/data/attributes/time_zone", "no IANA time zone"),
        ({"time_zone": "../../etc/passwd"}, "/data/attributes/time_zone", "no IANA time zone"),
        ({"time_zone": 1}, "/data/attributes/time_zone", "valid string"),
        ({"test_sends": "yes"}, "/data/attributes/test_sends", "valid boolean"),
        ({"attribution": 5}, "/data/attributes/attribution", "the settings are time_zone"),
        (
            {"attribution_window_days": 0},
            "/data/attributes/attribution_window_days",
            "greater than or equal to 1",
        ),
        (
            {"attribution_window_days": 91},
            "/data/attributes/attribution_window_days",
            "less than or equal to 90",
        ),
        (
            {"attribution_window_days": "5"},
            "/data/attributes/attribution_window_days",
            "valid integer",
        ),
        ({"email_tracking": None}, "/data/attributes/email_tracking", "valid boolean"),
        ([], "/data/attributes", "valid dictionary"),
    ],
)
def test_a_setting_that_is_not_valid_is_named_and_nothing_changes(
    client: AppClient, shop: Shop, attributes: Any, pointer: str, words: str
) -> None:
    response = _patch(
        client,
        shop,
        {"test_sends": True, **attributes} if isinstance(attributes, dict) else attributes,
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"]["pointer"] == pointer
    assert words in error["detail"]
    attributes_now = client.get(URL, headers=shop.headers()).json()["data"]["attributes"]
    assert attributes_now == DEFAULTS


def test_another_accounts_id_is_a_conflict_and_its_settings_stay(
    services: Services, client: AppClient, shop: Shop
) -> None:
    other = make_shop(services)
    response = _patch(client, shop, {"time_zone": "Asia/Tokyo"}, id=other.account_id)
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["source"]["pointer"] == "/data/id"
    assert _patch(client, shop, {"time_zone": "Asia/Tokyo"}).status_code == 200
    with services.database.read() as connection:
        assert account_settings(connection, other.account_id).time_zone == "UTC"
        assert account_settings(connection, shop.account_id).time_zone == "Asia/Tokyo"


def test_settings_need_a_private_key(client: AppClient) -> None:
    assert client.get(URL).status_code == 401
    wrong = client.request("PATCH", URL, headers={"Authorization": "Klaviyo-API-Key pk_nope"})
    assert wrong.status_code == 401
