"""Request bodies of the JSON:API routes are read by typed models: a body that does not fit is
a 400 ``invalid`` whose ``source.pointer`` names the field, whatever the route; a body is JSON
whatever its Content-Type says, strict JSON (no NaN), at most 5 MB."""

from __future__ import annotations

from typing import Any

import pytest

from shoptrack.api.asgi import MAX_BODY_BYTES
from shoptrack.services import Services
from shoptrack.testing import Shop
from tests.helpers import AppClient, profile_count

# Each JSON:API body route, with a path that exists for the shop's integration where it needs one.
ROUTES = [
    ("POST", "/api/profiles", "profile"),
    ("PATCH", "/api/profiles/{profile}", "profile"),
    ("POST", "/api/profile-import", "profile"),
    ("POST", "/api/data-privacy-deletion-jobs", "data-privacy-deletion-job"),
    ("POST", "/api/metric-aggregates", "metric-aggregate"),
    ("POST", "/api/integrations", "integration"),
    ("PATCH", "/api/integrations/{integration}", "integration"),
    ("POST", "/api/integrations/{integration}/deliveries/replay", "delivery-replay"),
    ("POST", "/api/flows", "flow"),
    ("PATCH", "/api/flows/nope", "flow"),
    ("PATCH", "/api/flows/nope/flow-messages/nope", "flow-message"),
    ("POST", "/api/flow-retargets", "flow-retarget"),
    ("POST", "/api/email-suppressions", "email-suppression"),
]


@pytest.fixture
def profile_id(shop: Shop, client: AppClient) -> str:
    body = {"data": {"type": "profile", "attributes": {"email": "ada@example.com"}}}
    response = client.post("/api/profiles", json=body, headers=shop.headers())
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _url(path: str, shop: Shop, profile_id: str) -> str:
    return path.replace("{profile}", profile_id).replace("{integration}", shop.integration.id)


@pytest.mark.parametrize(("method", "path", "resource_type"), ROUTES)
@pytest.mark.parametrize(
    ("shape", "pointer"),
    [
        ("attributes", "/data/attributes"),
        ("type", "/data/type"),
        ("data", "/data"),
        ("document", "/"),
    ],
)
def test_a_body_of_the_wrong_shape_is_400_naming_the_field(
    shop: Shop,
    client: AppClient,
    profile_id: str,
    method: str,
    path: str,
    resource_type: str,
    shape: str,
    pointer: str,
) -> None:
    body: Any = {
        "attributes": {"data": {"type": resource_type, "id": profile_id, "attributes": 5}},
        "type": {"data": {"type": f"not-{resource_type}", "attributes": {}}},
        "data": {"data": []},
        "document": ["data"],
    }[shape]
    response = client.request(
        method, _url(path, shop, profile_id), json=body, headers=shop.headers()
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/vnd.api+json"
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == ("invalid", {"pointer": pointer})


@pytest.mark.parametrize(("method", "path", "resource_type"), ROUTES)
def test_a_body_that_is_no_strict_json_is_400(
    shop: Shop, client: AppClient, profile_id: str, method: str, path: str, resource_type: str
) -> None:
    body = b'{"data": {"type": "%s", "attributes": {"x": NaN}}}' % resource_type.encode()
    response = client.request(
        method, _url(path, shop, profile_id), content=body, headers=shop.headers()
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": "/"}


def test_a_profile_with_nan_is_refused_not_stored_as_null(
    services: Services, shop: Shop, client: AppClient
) -> None:
    attributes = b'{"email": "n@x.com", "properties": {"x": NaN}}'
    body = b'{"data": {"type": "profile", "attributes": %s}}' % attributes
    response = client.post("/api/profiles", content=body, headers=shop.headers())
    assert response.status_code == 400, response.text
    assert profile_count(services, shop.account_id) == 0


def test_a_body_is_read_as_json_whatever_its_content_type(shop: Shop, client: AppClient) -> None:
    # What ``curl -d`` sends: Klaviyo reads it as JSON all the same.
    response = client.post(
        "/api/profiles",
        content=b'{"data": {"type": "profile", "attributes": {"email": "curl@x.com"}}}',
        headers={**shop.headers(), "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["attributes"]["email"] == "curl@x.com"


def test_a_body_over_5_mb_is_413(services: Services, shop: Shop, client: AppClient) -> None:
    padding = "x" * MAX_BODY_BYTES
    body = {"data": {"type": "profile", "attributes": {"email": "big@x.com", "title": padding}}}
    response = client.post("/api/profiles", json=body, headers=shop.headers())
    assert response.status_code == 413, response.text
    assert response.json()["errors"][0]["code"] == "payload_too_large"
    assert profile_count(services, shop.account_id) == 0


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"ids": [10**30]}, "/data/attributes/ids/0"),
        ({"ids": ["one"]}, "/data/attributes/ids/0"),
        ({"states": "dead"}, "/data/attributes/states"),
        ({"states": ["gone"]}, "/data/attributes/states/0"),
        ({"since": "yesterday"}, "/data/attributes/since"),
        ({"until": "2026-01-01T00:00:00"}, "/data/attributes/until"),
    ],
)
def test_a_replay_of_the_wrong_shape_is_400_naming_the_field(
    shop: Shop, client: AppClient, attributes: dict[str, Any], pointer: str
) -> None:
    response = client.post(
        f"/api/integrations/{shop.integration.id}/deliveries/replay",
        json={"data": {"type": "delivery-replay", "attributes": attributes}},
        headers=shop.headers(),
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}


def test_a_body_is_checked_after_the_key(client: AppClient) -> None:
    body = {"data": {"type": "profile", "attributes": 5}}
    response = client.post("/api/profiles", json=body)
    assert response.status_code == 401, response.text
