"""The Klaviyo-compatible profiles API: create, read, update, upsert, list — on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from shoptrack.clock import FrozenClock
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.testing import Shop, make_shop
from tests.conftest import START
from tests.helpers import AppClient, profile_count


def profile_body(
    profile_id: str | None = None, meta: dict[str, Any] | None = None, **attributes: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "profile", "attributes": attributes}
    if profile_id is not None:
        data["id"] = profile_id
    if meta is not None:
        data["meta"] = meta
    return {"data": data}


def _create(client: AppClient, shop: Shop, **attributes: Any) -> httpx.Response:
    return client.post("/api/profiles", json=profile_body(**attributes), headers=shop.headers())


def _patch(client: AppClient, shop: Shop, profile_id: str, body: dict[str, Any]) -> httpx.Response:
    return client.request("PATCH", f"/api/profiles/{profile_id}", json=body, headers=shop.headers())


def _import(client: AppClient, shop: Shop, body: dict[str, Any]) -> httpx.Response:
    return client.post("/api/profile-import", json=body, headers=shop.headers())


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert error["status"] == status
    return dict(error)


def test_create_returns_201_with_the_resource(shop: Shop, client: AppClient) -> None:
    response = _create(
        client,
        shop,
        email=" Sarah.Mason@Example.com ",
        phone_number="+1 (500) 555-0006",
        first_name="Sarah",
        location={"city": "New York", "zip": "10017"},
        properties={"pseudonym": "Dr. Octopus"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/vnd.api+json"
    data = response.json()["data"]
    assert data["type"] == "profile"
    assert isinstance(data["id"], str)
    attributes = data["attributes"]
    assert attributes["email"] == "sarah.mason@example.com"
    assert attributes["phone_number"] == "+15005550006"
    assert attributes["first_name"] == "Sarah"
    assert attributes["last_name"] is None
    assert attributes["location"] == {"city": "New York", "zip": "10017"}
    assert attributes["properties"] == {"pseudonym": "Dr. Octopus"}
    assert attributes["created"] == attributes["updated"] == START.isoformat()
    assert data["links"]["self"] == f"http://shoptrack.test/api/profiles/{data['id']}/"


def test_one_profile_per_email_however_written_409_names_it(
    services: Services, shop: Shop, client: AppClient
) -> None:
    first = _create(client, shop, email="a@x.com").json()["data"]["id"]
    error = _error(_create(client, shop, email=" A@x.com"), 409)
    assert error["code"] == "duplicate_profile"
    assert error["meta"] == {"duplicate_profile_id": first}
    assert error["source"]["pointer"] == "/data/attributes"
    # A new email with a phone number that is taken: still the holder of the phone.
    holder = _create(client, shop, phone_number="+15005550006").json()["data"]["id"]
    error = _error(_create(client, shop, email="b@x.com", phone_number="+15005550006"), 409)
    assert error["meta"] == {"duplicate_profile_id": holder}
    assert profile_count(services, shop.account_id) == 2


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (profile_body(first_name="No identifier"), "/data/attributes"),
        (profile_body(email="not-an-email"), "/data/attributes/email"),
        (profile_body(phone_number="5550006"), "/data/attributes/phone_number"),
        (profile_body(email="a@x.com", first_name="x" * 201), "/data/attributes/first_name"),
        (profile_body(email="a@x.com", properties=["a"]), "/data/attributes/properties"),
        ({"data": {"type": "event", "attributes": {"email": "a@x.com"}}}, "/data/type"),
        ({"data": {"type": "profile"}}, "/data/attributes"),
        ({"profile": {}}, "/data"),
    ],
)
def test_bad_create_is_400_naming_the_field_and_writes_nothing(
    services: Services, shop: Shop, client: AppClient, body: dict[str, Any], pointer: str
) -> None:
    response = client.post("/api/profiles", json=body, headers=shop.headers())
    error = _error(response, 400)
    assert error["code"] == "invalid"
    assert error["source"]["pointer"] == pointer
    assert profile_count(services, shop.account_id) == 0


def test_a_body_that_is_not_json_is_400(shop: Shop, client: AppClient) -> None:
    response = client.post(
        "/api/profiles",
        content=b"{nope",
        headers=shop.headers() | {"content-type": "application/vnd.api+json"},
    )
    assert _error(response, 400)["code"] == "invalid"


def test_get_one_with_and_without_slash_and_sparse_fields(shop: Shop, client: AppClient) -> None:
    created = _create(client, shop, email="a@x.com", first_name="Ann").json()["data"]
    for path in (f"/api/profiles/{created['id']}", f"/api/profiles/{created['id']}/"):
        response = client.get(path, headers=shop.headers())
        assert response.status_code == 200
        assert response.json()["data"] == created
    sparse = client.get(
        f"/api/profiles/{created['id']}?fields[profile]=email,first_name", headers=shop.headers()
    ).json()["data"]
    assert sparse["attributes"] == {"email": "a@x.com", "first_name": "Ann"}
    missing = _error(client.get("/api/profiles/01NOPE", headers=shop.headers()), 404)
    assert missing["code"] == "not_found"
    assert missing["source"]["parameter"] == "id"


def test_patch_replaces_given_clears_null_merges_properties(
    clock: FrozenClock, shop: Shop, client: AppClient
) -> None:
    profile_id = _create(
        client,
        shop,
        email="a@x.com",
        first_name="Ann",
        last_name="Lee",
        title="CEO",
        location={"city": "Paris", "country": "France"},
        properties={"size": "M", "vip": True},
    ).json()["data"]["id"]
    clock.advance(timedelta(minutes=5))
    body = profile_body(
        profile_id,
        first_name="Anne",
        title=None,
        location={"city": "Lyon", "country": None},
        properties={"size": "L", "pets": 2},
    )
    response = _patch(client, shop, profile_id, body)
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    assert attributes["first_name"] == "Anne"
    assert attributes["last_name"] == "Lee"
    assert attributes["title"] is None
    assert attributes["email"] == "a@x.com"
    assert attributes["location"] == {"city": "Lyon"}
    assert attributes["properties"] == {"size": "L", "vip": True, "pets": 2}
    assert attributes["created"] == START.isoformat()
    assert attributes["updated"] == (START + timedelta(minutes=5)).isoformat()
    cleared = _patch(client, shop, profile_id, profile_body(profile_id, properties=None))
    assert cleared.json()["data"]["attributes"]["properties"] == {}
    again = client.get(f"/api/profiles/{profile_id}/", headers=shop.headers()).json()["data"]
    assert again["attributes"]["properties"] == {}


def test_patch_changes_identifiers_unless_another_profile_holds_them(
    shop: Shop, client: AppClient
) -> None:
    ann = _create(client, shop, email="ann@x.com").json()["data"]["id"]
    bob = _create(client, shop, email="bob@x.com", external_id="B-1").json()["data"]["id"]
    error = _error(_patch(client, shop, ann, profile_body(ann, email=" BOB@x.com")), 409)
    assert error["code"] == "duplicate_profile"
    assert error["meta"] == {"duplicate_profile_id": bob}
    error = _error(_patch(client, shop, ann, profile_body(ann, external_id="B-1")), 409)
    assert error["meta"] == {"duplicate_profile_id": bob}
    moved = _patch(client, shop, ann, profile_body(ann, email="ann@y.com", phone_number=None))
    assert moved.json()["data"]["attributes"]["email"] == "ann@y.com"
    # The old address is free again.
    assert _create(client, shop, email="ann@x.com").status_code == 201
    nothing_left = _patch(client, shop, bob, profile_body(bob, email=None, external_id=None))
    assert _error(nothing_left, 400)["source"]["pointer"] == "/data/attributes"


def test_patch_checks_the_body_id(shop: Shop, client: AppClient) -> None:
    profile_id = _create(client, shop, email="a@x.com").json()["data"]["id"]
    mismatch = _error(_patch(client, shop, profile_id, profile_body("01OTHER", title="x")), 409)
    assert mismatch["code"] == "conflict"
    assert mismatch["source"]["pointer"] == "/data/id"
    missing = _error(_patch(client, shop, profile_id, profile_body(title="x")), 400)
    assert missing["source"]["pointer"] == "/data/id"
    unknown = _error(_patch(client, shop, "01NOPE", profile_body("01NOPE", title="x")), 404)
    assert unknown["code"] == "not_found"


def test_import_creates_with_201_then_updates_with_200(
    services: Services, shop: Shop, client: AppClient
) -> None:
    created = _import(client, shop, profile_body(email="a@x.com", first_name="Ann", title="CEO"))
    assert created.status_code == 201, created.text
    profile_id = created.json()["data"]["id"]
    updated = _import(client, shop, profile_body(email=" A@X.com", last_name="Lee", title=None))
    assert updated.status_code == 200, updated.text
    data = updated.json()["data"]
    assert data["id"] == profile_id
    assert data["attributes"]["first_name"] == "Ann"  # omitted: unchanged
    assert data["attributes"]["last_name"] == "Lee"
    assert data["attributes"]["title"] is None  # null: cleared
    by_id = _import(client, shop, profile_body(profile_id, email="ann@y.com"))
    assert by_id.status_code == 200
    assert by_id.json()["data"]["attributes"]["email"] == "ann@y.com"
    unknown = _error(_import(client, shop, profile_body("01NOPE", email="z@x.com")), 404)
    assert unknown["source"]["pointer"] == "/data/id"
    nothing = _error(_import(client, shop, profile_body(first_name="Who")), 400)
    assert nothing["source"]["pointer"] == "/data/attributes"
    assert profile_count(services, shop.account_id) == 1


def test_import_matches_by_email_then_phone_then_external_id(
    services: Services, shop: Shop, client: AppClient
) -> None:
    by_phone = _create(client, shop, phone_number="+15005550006").json()["data"]["id"]
    by_external = _create(client, shop, external_id="X-1").json()["data"]["id"]
    # A phone-only profile gains the email it did not have.
    response = _import(client, shop, profile_body(email="p@x.com", phone_number="+15005550006"))
    assert response.status_code == 200
    assert response.json()["data"]["id"] == by_phone
    assert response.json()["data"]["attributes"]["email"] == "p@x.com"
    response = _import(client, shop, profile_body(external_id="X-1", first_name="Ext"))
    assert response.json()["data"]["id"] == by_external
    # The phone's profile has another email: the new address is another person, not a re-key.
    clash = _error(
        _import(client, shop, profile_body(email="q@x.com", phone_number="+15005550006")), 409
    )
    assert clash["code"] == "duplicate_profile"
    assert clash["meta"] == {"duplicate_profile_id": by_phone}
    # Found by email, an external id that another profile holds cannot be taken.
    clash = _error(_import(client, shop, profile_body(email="p@x.com", external_id="X-1")), 409)
    assert clash["meta"] == {"duplicate_profile_id": by_external}
    assert profile_count(services, shop.account_id) == 2


def test_import_patch_properties(shop: Shop, client: AppClient) -> None:
    _import(
        client,
        shop,
        profile_body(email="a@x.com", properties={"skus": ["1", "2"], "size": "M", "tag": "a"}),
    )
    meta = {
        "patch_properties": {
            "append": {"skus": "3", "tag": "b", "new": ["x", "y"]},
            "unappend": {"skus": "1"},
            "unset": "size",
        }
    }
    response = _import(client, shop, profile_body(email="a@x.com", meta=meta))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["properties"] == {
        "skus": ["2", "3"],
        "tag": ["a", "b"],
        "new": ["x", "y"],
    }
    unset_many = {"patch_properties": {"unset": ["tag", "new", "absent"]}}
    response = _import(client, shop, profile_body(email="a@x.com", meta=unset_many))
    assert response.json()["data"]["attributes"]["properties"] == {"skus": ["2", "3"]}


def test_a_profile_made_by_an_event_is_the_one_the_api_updates(
    services: Services, shop: Shop, client: AppClient
) -> None:
    event = {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {},
                "metric": {"data": {"type": "metric", "attributes": {"name": "Viewed Product"}}},
                "profile": {"data": {"type": "profile", "attributes": {"email": "A@x.com"}}},
            },
        }
    }
    assert client.post("/api/events", json=event, headers=shop.headers()).status_code == 202
    Processor(services.database, services.clock).run_until_idle()
    response = _import(client, shop, profile_body(email="a@x.com", first_name="Ann"))
    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["last_event_date"] == START.isoformat()
    assert _create(client, shop, email="a@x.com").status_code == 409


def test_a_key_never_reaches_another_accounts_profiles(
    services: Services, shop: Shop, client: AppClient
) -> None:
    other = make_shop(services)
    theirs = _create(client, other, email="a@x.com").json()["data"]["id"]
    assert client.get("/api/profiles", headers=shop.headers()).json()["data"] == []
    assert client.get(f"/api/profiles/{theirs}", headers=shop.headers()).status_code == 404
    patched = _patch(client, shop, theirs, profile_body(theirs, first_name="Mallory"))
    assert patched.status_code == 404
    imported = _import(client, shop, profile_body(theirs, first_name="Mallory"))
    assert imported.status_code == 404
    # The same email is a different person in another account.
    mine = _create(client, shop, email="a@x.com")
    assert mine.status_code == 201
    assert mine.json()["data"]["id"] != theirs
    unchanged = client.get(f"/api/profiles/{theirs}", headers=other.headers()).json()["data"]
    assert unchanged["attributes"]["first_name"] is None


def _collect(client: AppClient, shop: Shop, url: str) -> list[dict[str, Any]]:
    """Every profile of a listing, following ``links.next``."""
    seen: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url, headers=shop.headers())
        assert response.status_code == 200, response.text
        page = response.json()
        seen += page["data"]
        next_url = page["links"].get("next")
    return seen


def test_filters_sorts_and_keyset_pages(clock: FrozenClock, shop: Shop, client: AppClient) -> None:
    emails = ["d@x.com", "b@x.com", "e@x.com", "a@x.com", "c@x.com"]
    ids = []
    for email in emails:
        ids.append(_create(client, shop, email=email).json()["data"]["id"])
        clock.advance(timedelta(minutes=1))
    phone_only = _create(client, shop, phone_number="+15005550006", external_id="P-1")
    ids.append(phone_only.json()["data"]["id"])

    by_id = _collect(client, shop, "/api/profiles?page[size]=2")
    assert [p["id"] for p in by_id] == sorted(ids)
    first_page = client.get("/api/profiles?page[size]=2", headers=shop.headers()).json()
    assert len(first_page["data"]) == 2
    assert first_page["links"]["self"].endswith("page[size]=2")

    by_email = _collect(client, shop, "/api/profiles?sort=-email&page[size]=2")
    assert [p["attributes"]["email"] for p in by_email] == [*sorted(emails, reverse=True), None]
    ascending = _collect(client, shop, "/api/profiles?sort=email&page[size]=4")
    assert [p["attributes"]["email"] for p in ascending] == [None, *sorted(emails)]
    newest = _collect(client, shop, "/api/profiles?sort=-created&page[size]=3")
    assert [p["id"] for p in newest] == list(reversed(ids))

    def emails_of(query: str) -> list[str | None]:
        found = _collect(client, shop, f"/api/profiles?{query}")
        return sorted(p["attributes"]["email"] or "" for p in found)

    assert emails_of('filter=equals(email,"B@X.com ")') == ["b@x.com"]
    assert emails_of('filter=any(email,["a@x.com","c@x.com","zz@x.com"])') == [
        "a@x.com",
        "c@x.com",
    ]
    assert emails_of('filter=equals(phone_number,"%2B1 500 555 0006")') == [""]
    assert emails_of('filter=equals(external_id,"P-1")') == [""]
    assert emails_of(f'filter=equals(id,"{ids[1]}")') == ["b@x.com"]
    assert emails_of(f'filter=any(id,["{ids[0]}","{ids[2]}"])') == ["d@x.com", "e@x.com"]
    after = (START + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    before = (START + timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    assert emails_of(
        f"filter=and(greater-than(created,{after}),less-than(created,{before}))&page[size]=1"
    ) == ["a@x.com", "e@x.com"]
    assert emails_of(f'filter=greater-than(updated,{after}),equals(email,"a@x.com")') == ["a@x.com"]
    sparse = client.get("/api/profiles?fields[profile]=email", headers=shop.headers()).json()
    assert all(set(p["attributes"]) <= {"email"} for p in sparse["data"])


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ('filter=equals(first_name,"Ann")', "filter"),
        ('filter=greater-than(email,"a")', "filter"),
        ("filter=equals(created,2026-01-01T00:00:00Z)", "filter"),
        ('filter=greater-than(created,"yesterday")', "filter"),
        ('filter=equals(email,"not-an-email")', "filter"),
        ('filter=any(email,"a@x.com")', "filter"),
        ("filter=garbage", "filter"),
        ("sort=first_name", "sort"),
        ("page[size]=0", "page[size]"),
        ("page[size]=101", "page[size]"),
        ("page[cursor]=%%%", "page[cursor]"),
        ("fields[profile]=nope", "fields[profile]"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(
    shop: Shop, client: AppClient, query: str, parameter: str
) -> None:
    error = _error(client.get(f"/api/profiles?{query}", headers=shop.headers()), 400)
    assert error["source"]["parameter"] == parameter


def test_a_cursor_of_another_sort_is_400(shop: Shop, client: AppClient) -> None:
    for email in ("a@x.com", "b@x.com"):
        _create(client, shop, email=email)
    page = client.get("/api/profiles?sort=email&page[size]=1", headers=shop.headers()).json()
    cursor = page["links"]["next"].split("page%5Bcursor%5D=")[1]
    response = client.get(
        f"/api/profiles?sort=created&page[cursor]={cursor}", headers=shop.headers()
    )
    assert _error(response, 400)["source"]["parameter"] == "page[cursor]"


def test_without_a_key_is_401(client: AppClient) -> None:
    assert client.get("/api/profiles").status_code == 401
    assert client.post("/api/profile-import", json=profile_body(email="a@x.com")).status_code == 401
