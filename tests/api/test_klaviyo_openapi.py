"""Klaviyo's own OpenAPI slices (``tests/reference/klaviyo``) as the contract of the
Klaviyo-compatible API: realistic exchanges validate against the operations' request and response
schemas, and inputs that schemathesis generates from the same schemas never produce a 5xx.

Klaviyo's data privacy deletion job (request_profile_deletion) has no slice here, so only its
handling of text the database cannot hold is tested in this file; test_privacy.py covers the rest.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from jsonschema.protocols import Validator
from openapi_schema_validator import (
    OAS30ReadValidator,
    OAS30WriteValidator,
    oas30_format_checker,
)
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

from shoptrack.api.jsonapi import unstorable
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.testing import Shop
from tests.conftest import START
from tests.helpers import AppClient

SLICES = Path(__file__).parents[1] / "reference" / "klaviyo"
JSONAPI = "application/vnd.api+json"


# --- The slices ----------------------------------------------------------------------------


@functools.cache
def _spec(slice_name: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((SLICES / slice_name).read_text())
    return spec


def _operation(slice_name: str, method: str, path: str) -> dict[str, Any]:
    operation: dict[str, Any] = _spec(slice_name)["paths"][path][method.lower()]
    return operation


def _resolved(slice_name: str, node: dict[str, Any]) -> dict[str, Any]:
    """``node`` itself, or what its ``$ref`` points at within the slice."""
    while "$ref" in node:
        target: Any = _spec(slice_name)
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validator(slice_name: str, schema: dict[str, Any], cls: type[Validator]) -> Validator:
    # The slice's components ride along so that ``#/components/...`` references resolve against
    # the schema's own root; the validator classes read OpenAPI 3.0 (``nullable``, and
    # ``readOnly``/``writeOnly`` by direction) and check formats such as ``date-time``.
    root = {**schema, "components": _spec(slice_name)["components"]}
    return cls(root, format_checker=oas30_format_checker)


def _assert_valid(validator: Validator, instance: Any, what: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    messages = [
        f"  at /{'/'.join(str(part) for part in error.absolute_path)}: {error.message}"
        for error in errors[:10]
    ]
    assert not errors, f"{what} does not match Klaviyo's schema:\n" + "\n".join(messages)


def assert_klaviyo_request(slice_name: str, method: str, path: str, body: Any) -> Any:
    """Checks that ``body`` is what Klaviyo accepts for the operation, and returns it."""
    request_body = _operation(slice_name, method, path)["requestBody"]
    schema = _resolved(slice_name, request_body)["content"][JSONAPI]["schema"]
    validator = _validator(slice_name, schema, OAS30WriteValidator)
    _assert_valid(validator, body, f"the request body of {method} {path}")
    return body


def _declared_response(slice_name: str, method: str, path: str, status: int) -> dict[str, Any]:
    responses = _operation(slice_name, method, path)["responses"]
    declared = responses.get(str(status)) or responses.get(f"{status // 100}XX")
    assert declared is not None, f"{method} {path} declares no {status} response"
    return _resolved(slice_name, declared)


def assert_klaviyo_response(
    slice_name: str, method: str, path: str, response: httpx.Response, status: int
) -> Any:
    """Checks the status and that the body is what Klaviyo answers; returns the parsed body."""
    assert response.status_code == status, response.text
    content = _declared_response(slice_name, method, path, status).get("content")
    if content is None:
        assert response.content == b"", f"{method} {path} answers {status} without a body"
        return None
    assert response.headers["content-type"] == JSONAPI
    body = response.json()
    validator = _validator(slice_name, content[JSONAPI]["schema"], OAS30ReadValidator)
    _assert_valid(validator, body, f"the {status} answer of {method} {path}")
    return body


# --- Requests as Klaviyo's documentation writes them ----------------------------------------


def event_body(
    *, metric: str = "Placed Order", email: str = "ada@example.com", **attributes: Any
) -> dict[str, Any]:
    return {
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"OrderId": "1001", "Items": ["Kettle"], "ItemCount": 1},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {
                    "data": {
                        "type": "profile",
                        "attributes": {"email": email, "first_name": "Ada"},
                    }
                },
                **attributes,
            },
        }
    }


def profile_body(*, profile_id: str | None = None, **attributes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "profile", "attributes": attributes}
    if profile_id is not None:
        data["id"] = profile_id
    return {"data": data}


@pytest.fixture
def recorded(services: Services, shop: Shop, client: AppClient) -> dict[str, str]:
    """Two events of one profile, recorded: the ids of an event, its metric and its profile."""
    for hours, order_id in ((2, "1001"), (1, "1002")):
        body = event_body(
            time=(START - timedelta(hours=hours)).isoformat(),
            value=29.98,
            value_currency="USD",
            unique_id=order_id,
        )
        assert_klaviyo_request("events.json", "POST", "/api/events", body)
        response = client.post("/api/events", json=body, headers=shop.headers())
        assert_klaviyo_response("events.json", "POST", "/api/events", response, 202)
    Processor(services.database, services.clock).run_until_idle()
    (event, *_) = client.get("/api/events", headers=shop.headers()).json()["data"]
    return {
        "event": event["id"],
        "metric": event["relationships"]["metric"]["data"]["id"],
        "profile": event["relationships"]["profile"]["data"]["id"],
    }


# --- Responses conform ----------------------------------------------------------------------


def test_events_answers_conform(shop: Shop, client: AppClient, recorded: dict[str, str]) -> None:
    listed = assert_klaviyo_response(
        "events.json",
        "GET",
        "/api/events",
        client.get("/api/events?include=metric,profile&page[size]=1", headers=shop.headers()),
        200,
    )
    assert len(listed["data"]) == 1
    assert {resource["type"] for resource in listed["included"]} == {"metric", "profile"}
    assert "next" in listed["links"]
    filtered = client.get(
        f'/api/events?filter=equals(metric_id,"{recorded["metric"]}")&sort=datetime'
        "&fields[event]=datetime,event_properties",
        headers=shop.headers(),
    )
    assert_klaviyo_response("events.json", "GET", "/api/events", filtered, 200)
    one = assert_klaviyo_response(
        "events.json",
        "GET",
        "/api/events/{id}",
        client.get(f"/api/events/{recorded['event']}?include=metric", headers=shop.headers()),
        200,
    )
    assert one["data"]["id"] == recorded["event"]


def test_profiles_answers_conform(shop: Shop, client: AppClient, recorded: dict[str, str]) -> None:
    created_body = assert_klaviyo_request(
        "profiles.json",
        "POST",
        "/api/profiles",
        profile_body(
            email="grace@example.com",
            phone_number="+15005550006",
            external_id="customer-7",
            first_name="Grace",
            last_name="Hopper",
            organization="Navy",
            locale="en-US",
            title="Rear Admiral",
            image="https://example.com/grace.png",
            location={"city": "Arlington", "country": "United States", "zip": "22201"},
            properties={"Pets": ["moth"], "Loyalty": 3},
        ),
    )
    created = assert_klaviyo_response(
        "profiles.json",
        "POST",
        "/api/profiles",
        client.post("/api/profiles", json=created_body, headers=shop.headers()),
        201,
    )
    profile_id = created["data"]["id"]
    assert_klaviyo_response(
        "profiles.json",
        "GET",
        "/api/profiles",
        client.get(
            '/api/profiles?filter=any(email,["grace@example.com","ada@example.com"])'
            "&sort=-created&page[size]=1",
            headers=shop.headers(),
        ),
        200,
    )
    fetched = assert_klaviyo_response(
        "profiles.json",
        "GET",
        "/api/profiles/{id}",
        client.get(f"/api/profiles/{recorded['profile']}", headers=shop.headers()),
        200,
    )
    assert fetched["data"]["attributes"]["email"] == "ada@example.com"
    patch_body = profile_body(profile_id=profile_id, title=None, locale="en-GB")
    patch_body["data"]["meta"] = {
        "patch_properties": {"append": {"Pets": "ant"}, "unset": "Loyalty"}
    }
    assert_klaviyo_request("profiles.json", "PATCH", "/api/profiles/{id}", patch_body)
    patched = assert_klaviyo_response(
        "profiles.json",
        "PATCH",
        "/api/profiles/{id}",
        client.request(
            "PATCH", f"/api/profiles/{profile_id}", json=patch_body, headers=shop.headers()
        ),
        200,
    )
    assert patched["data"]["attributes"]["title"] is None
    new_body = assert_klaviyo_request(
        "profiles.json",
        "POST",
        "/api/profile-import",
        profile_body(email="linus@example.com", first_name="Linus"),
    )
    assert_klaviyo_response(
        "profiles.json",
        "POST",
        "/api/profile-import",
        client.post("/api/profile-import", json=new_body, headers=shop.headers()),
        201,
    )
    assert_klaviyo_response(
        "profiles.json",
        "POST",
        "/api/profile-import",
        client.post("/api/profile-import", json=new_body, headers=shop.headers()),
        200,
    )


def test_metrics_answers_conform(shop: Shop, client: AppClient, recorded: dict[str, str]) -> None:
    listed = assert_klaviyo_response(
        "metrics.json",
        "GET",
        "/api/metrics",
        client.get(
            '/api/metrics?filter=equals(integration.category,"API")&fields[metric]=name,integration',
            headers=shop.headers(),
        ),
        200,
    )
    assert [metric["attributes"]["name"] for metric in listed["data"]] == ["Placed Order"]
    assert_klaviyo_response(
        "metrics.json",
        "GET",
        "/api/metrics",
        client.get("/api/metrics", headers=shop.headers()),
        200,
    )
    assert_klaviyo_response(
        "metrics.json",
        "GET",
        "/api/metrics/{id}",
        client.get(f"/api/metrics/{recorded['metric']}", headers=shop.headers()),
        200,
    )
    query = assert_klaviyo_request(
        "metrics.json",
        "POST",
        "/api/metric-aggregates",
        {
            "data": {
                "type": "metric-aggregate",
                "attributes": {
                    "metric_id": recorded["metric"],
                    "measurements": ["count", "sum_value", "unique"],
                    "interval": "hour",
                    "by": ["$value_currency"],
                    "filter": [
                        "greater-or-equal(datetime,2026-11-27T00:00:00)",
                        "less-than(datetime,2026-11-28T00:00:00)",
                    ],
                    "timezone": "America/New_York",
                    "page_size": 10,
                },
            }
        },
    )
    aggregates = assert_klaviyo_response(
        "metrics.json",
        "POST",
        "/api/metric-aggregates",
        client.post("/api/metric-aggregates", json=query, headers=shop.headers()),
        200,
    )
    (row,) = aggregates["data"]["attributes"]["data"]
    assert row["dimensions"] == ["USD"]
    assert sum(row["measurements"]["count"]) == 2


def test_client_events_answer_conforms(services: Services, shop: Shop, client: AppClient) -> None:
    body = assert_klaviyo_request(
        "client.json", "POST", "/client/events", event_body(metric="Viewed Product")
    )
    response = client.post(
        f"/client/events?company_id={shop.public_key}",
        json=body,
        headers={"revision": "2026-07-15"},
    )
    assert_klaviyo_response("client.json", "POST", "/client/events", response, 202)
    result = Processor(services.database, services.clock).run_until_idle()
    assert result.processed == 1


@pytest.mark.parametrize(
    ("slice_name", "method", "path", "url", "body", "status"),
    [
        ("events.json", "POST", "/api/events", "/api/events", {"data": {}}, 400),
        ("events.json", "GET", "/api/events", "/api/events?filter=nope", None, 400),
        ("events.json", "GET", "/api/events/{id}", "/api/events/missing", None, 404),
        ("profiles.json", "POST", "/api/profiles", "/api/profiles", profile_body(), 400),
        ("profiles.json", "GET", "/api/profiles/{id}", "/api/profiles/missing", None, 404),
        ("metrics.json", "GET", "/api/metrics/{id}", "/api/metrics/missing", None, 404),
        ("metrics.json", "POST", "/api/metric-aggregates", "/api/metric-aggregates", {}, 400),
        ("client.json", "POST", "/client/events", "/client/events?company_id=nope", {}, 401),
    ],
)
def test_errors_are_klaviyo_error_documents(
    shop: Shop,
    client: AppClient,
    slice_name: str,
    method: str,
    path: str,
    url: str,
    body: Any,
    status: int,
) -> None:
    response = client.request(method, url, json=body, headers=shop.headers())
    document = assert_klaviyo_response(slice_name, method, path, response, status)
    assert document["errors"][0]["code"]


def test_an_unknown_key_is_a_klaviyo_error_document(client: AppClient) -> None:
    response = client.get("/api/profiles", headers={"Authorization": "Klaviyo-API-Key pk_nope"})
    document = assert_klaviyo_response("profiles.json", "GET", "/api/profiles", response, 401)
    assert document["errors"][0]["code"] == "not_authenticated"


# --- Input that once reached the database or the calendar unchecked ------------------------
# Each was a 500: NUL on PostgreSQL only (SQLite stores it), the rest on both databases.


def _cursor(*values: Any) -> str:
    """A ``page[cursor]`` holding ``values``, encoded as the server encodes its own."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _aggregate(*, since: str, before: str, **attributes: Any) -> dict[str, Any]:
    return {
        "data": {
            "type": "metric-aggregate",
            "attributes": {
                "metric_id": "{metric}",
                "measurements": ["count"],
                "filter": [f"greater-or-equal(datetime,{since})", f"less-than(datetime,{before})"],
                **attributes,
            },
        }
    }


NUL = "\x00"
FILTER = {"parameter": "filter"}
CURSOR = {"parameter": "page[cursor]"}
PAGE_SIZE = {"parameter": "page[size]"}
NO_SOURCE: dict[str, str] = {}


@pytest.mark.parametrize(
    ("method", "url", "body", "source"),
    [
        # A calendar date that does not exist, and times with no UTC equivalent.
        ("GET", "/api/events?filter=greater-than(datetime,2026-13-45)", None, FILTER),
        ("GET", "/api/events?filter=less-than(datetime,0001-01-01T00:00:00%2B01:00)", None, FILTER),
        (
            "GET",
            "/api/events?filter=greater-than(datetime,9999-12-31T23:00:00-05:00)",
            None,
            FILTER,
        ),
        (
            "GET",
            "/api/profiles?filter=greater-than(created,0001-01-01T00:00:00%2B01:00)",
            None,
            FILTER,
        ),
        # Unix times beyond the calendar.
        ("GET", "/api/events?filter=greater-than(timestamp,99999999999999999)", None, FILTER),
        ("GET", "/api/events?filter=less-than(timestamp,-99999999999999999)", None, FILTER),
        ("GET", "/api/events?filter=greater-than(timestamp,1.5e999)", None, FILTER),
        # Digits int() refuses: a superscript two, and more digits than int() converts.
        ("GET", "/api/events?page[size]=%C2%B2", None, PAGE_SIZE),
        ("GET", "/api/profiles?page[size]=" + "9" * 5000, None, PAGE_SIZE),
        # Cursors no server gave: times with no UTC equivalent or no offset, text with NUL.
        (
            "GET",
            f"/api/events?page[cursor]={_cursor('0001-01-01T00:00:00+01:00', 'x')}",
            None,
            CURSOR,
        ),
        ("GET", "/api/events?page[cursor]=" + _cursor("2026-01-01", NUL), None, CURSOR),
        (
            "GET",
            f"/api/profiles?sort=created&page[cursor]={_cursor('0001-01-01T00:00:00+01:00', 'x')}",
            None,
            CURSOR,
        ),
        ("GET", "/api/profiles?sort=email&page[cursor]=" + _cursor(NUL, "x"), None, CURSOR),
        ("GET", "/api/metrics?page[cursor]=" + _cursor(NUL), None, CURSOR),
        # NUL anywhere in the URL: PostgreSQL cannot compare text with it.
        ("GET", "/api/events/%00", None, NO_SOURCE),
        ("GET", "/api/profiles/%00", None, NO_SOURCE),
        ("GET", "/api/metrics/a%00", None, NO_SOURCE),
        ("GET", '/api/events?filter=equals(metric_id,"%00")', None, NO_SOURCE),
        ("GET", '/api/profiles?filter=equals(external_id,"%00")', None, NO_SOURCE),
        ("POST", "/client/events?company_id=%00", {}, NO_SOURCE),
        # Bodies with what the database cannot hold: NUL, a lone surrogate, a 100-bit integer.
        (
            "POST",
            "/api/profiles",
            profile_body(email="n@example.com", first_name="a" + NUL),
            {"pointer": "/data/attributes/first_name"},
        ),
        (
            "POST",
            "/api/profiles",
            profile_body(email="n@example.com", properties={"a/b" + NUL: 1}),
            {"pointer": "/data/attributes/properties/a~1b" + NUL},
        ),
        (
            "POST",
            "/api/profiles",
            profile_body(email="n@example.com", last_name="\ud800"),
            {"pointer": "/data/attributes/last_name"},
        ),
        (
            "POST",
            "/api/profiles",
            profile_body(email="n@example.com", properties={"big": [2**100]}),
            {"pointer": "/data/attributes/properties/big/0"},
        ),
        (
            "POST",
            "/api/profile-import",
            profile_body(profile_id=NUL, email="n@example.com"),
            {"pointer": "/data/id"},
        ),
        (
            "PATCH",
            "/api/profiles/{profile}",
            {
                "data": {
                    "type": "profile",
                    "id": "{profile}",
                    "attributes": {},
                    "meta": {"patch_properties": {"append": {"n": 2**100}}},
                }
            },
            {"pointer": "/data/meta/patch_properties/append/n"},
        ),
        (
            "POST",
            "/api/metric-aggregates",
            _aggregate(since="2026-11-01", before="2026-11-02", metric_id=NUL),
            {"pointer": "/data/attributes/metric_id"},
        ),
        (
            "POST",
            "/api/data-privacy-deletion-jobs",
            {
                "data": {
                    "type": "data-privacy-deletion-job",
                    "attributes": {"profile": {"data": {"type": "profile", "id": NUL}}},
                }
            },
            {"pointer": "/data/attributes/profile/data/id"},
        ),
        # Aggregates over ranges whose buckets no datetime can hold, and odd page cursors.
        (
            "POST",
            "/api/metric-aggregates",
            _aggregate(since="9999-12-01T00:00:00", before="9999-12-31T00:00:00", interval="month"),
            {"pointer": "/data/attributes/filter/0"},
        ),
        (
            "POST",
            "/api/metric-aggregates",
            _aggregate(
                since="0001-01-01T00:00:00", before="0001-01-02T00:00:00", timezone="Asia/Tokyo"
            ),
            {"pointer": "/data/attributes/filter/0"},
        ),
        (
            "POST",
            "/api/metric-aggregates",
            _aggregate(since="2026-11-01", before="2026-11-02", page_cursor="\u00b2"),
            {"pointer": "/data/attributes/page_cursor"},
        ),
        (
            "POST",
            "/api/metric-aggregates",
            _aggregate(since="2026-11-01", before="2026-11-02", page_cursor="9" * 5000),
            {"pointer": "/data/attributes/page_cursor"},
        ),
        # An event time in year 1 east of UTC.
        (
            "POST",
            "/api/events",
            event_body(time="0001-01-01T00:00:00+01:00"),
            {"pointer": "/data/attributes/time"},
        ),
    ],
)
def test_input_the_database_cannot_hold_is_a_400_naming_it(
    shop: Shop,
    client: AppClient,
    recorded: dict[str, str],
    method: str,
    url: str,
    body: Any,
    source: dict[str, str],
) -> None:
    # Ids are known only once the fixture ran, so the table writes them as placeholders.
    def placed(text: str) -> str:
        return text.replace("{profile}", recorded["profile"]).replace(
            "{metric}", recorded["metric"]
        )

    response = client.request(
        method,
        placed(url),
        content=None if body is None else placed(json.dumps(body)),
        headers={**shop.headers(), "content-type": JSONAPI},
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "invalid"
    assert error["source"] == source


@pytest.mark.parametrize(
    ("document", "found"),
    [
        ({"a": ["ok", 1, 2.5, True, None, 2**64 - 1, -(2**63)]}, None),
        ({"a": [{"b": "x" + NUL}]}, ("/a/0/b", "text may not contain the NUL character (\\u0000)")),
        ({"~/": 2**64}, ("/~0~1", "integers are limited to 64 bits")),
        ("\udfff", ("/", "text may not contain a lone UTF-16 surrogate")),
        (functools.reduce(lambda inner, _: [inner], range(10_000), NUL), ("/0" * 10_000, ANY)),
    ],
)
def test_unstorable_names_where_and_why(document: Any, found: tuple[str, str] | None) -> None:
    assert unstorable(document) == found


# --- No generated input is a server error ---------------------------------------------------

# Per operation and generation mode, so 30 per operation. Derandomized, so every run sends the
# same requests; raising it locally explores further, and what that finds belongs in the table
# of regression tests above.
MAX_EXAMPLES = 15

FUZZED = [
    ("events.json", "POST", "/api/events"),
    ("events.json", "GET", "/api/events"),
    ("events.json", "GET", "/api/events/{id}"),
    ("profiles.json", "GET", "/api/profiles"),
    ("profiles.json", "POST", "/api/profiles"),
    ("profiles.json", "GET", "/api/profiles/{id}"),
    ("profiles.json", "PATCH", "/api/profiles/{id}"),
    ("profiles.json", "POST", "/api/profile-import"),
    ("metrics.json", "GET", "/api/metrics"),
    ("metrics.json", "GET", "/api/metrics/{id}"),
    ("metrics.json", "POST", "/api/metric-aggregates"),
    ("client.json", "POST", "/client/events"),
]


@functools.cache
def _schemathesis_schema(slice_name: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_path(SLICES / slice_name)


def _fuzzed_operation(slice_name: str, method: str, path: str) -> APIOperation:
    operation: APIOperation = _schemathesis_schema(slice_name)[path][method]
    return operation


# The path parameter of each fuzzed ``/{id}`` path, and the resource of ``recorded`` it names.
_RESOURCE_OF_PATH = {
    "/api/events/{id}": "event",
    "/api/profiles/{id}": "profile",
    "/api/metrics/{id}": "metric",
}


def _send(client: AppClient, shop: Shop, case: schemathesis.Case) -> httpx.Response:
    """Sends a generated case with the shop's credentials in place of generated ones."""
    if case.operation.path.startswith("/client/"):
        case.query = {**(case.query or {}), "company_id": shop.public_key}
    request = case.as_transport_kwargs(base_url="http://shoptrack.test", headers=shop.headers())
    body: dict[str, Any] = {}
    if "json" in request:
        body["content"] = json.dumps(request["json"]).encode()
    elif "data" in request:
        body["content"] = request["data"]
    # What a failure report shows: schemathesis' cases print as nothing in Hypothesis' report.
    note(f"{request['method']} {request['url']} params={request.get('params')!r} {body!r}")
    return client.request(
        request["method"],
        request["url"],
        params=request.get("params") or None,
        headers=dict(request["headers"]),
        **body,
    )


@pytest.fixture
def seeded(
    services: Services, shop: Shop, client: AppClient, recorded: dict[str, str]
) -> Iterator[dict[str, str]]:
    """Recorded data for generated requests to find, and afterwards a check that every event
    intake accepted was recorded (a 202 is a promise that processing will not refuse it)."""
    yield recorded
    result = Processor(services.database, services.clock).run_until_idle()
    assert (result.retried, result.dead) == (0, 0)


@pytest.mark.parametrize(
    ("slice_name", "method", "path"),
    [pytest.param(*operation, id=f"{operation[1]} {operation[2]}") for operation in FUZZED],
)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_input_is_a_server_error(
    shop: Shop,
    client: AppClient,
    seeded: dict[str, str],
    slice_name: str,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = _fuzzed_operation(slice_name, method, path)

    # The fixtures' database is shared by all examples on purpose: later requests meet the
    # profiles and events earlier ones created. Generating large bodies can be slow, which is no
    # fault of the API, hence ``too_slow``; no deadline either, as the first request warms up.
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(case=operation.as_strategy(generation_mode=mode), known_id=st.booleans())
    def exchange(case: schemathesis.Case, known_id: bool) -> None:
        if known_id and path in _RESOURCE_OF_PATH:
            # Half the time the path names a resource that exists, so its handler runs in full.
            case.path_parameters = {**case.path_parameters, "id": seeded[_RESOURCE_OF_PATH[path]]}
        response = _send(client, shop, case)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.json()["errors"][0]["code"], response.text

    exchange()
