"""The Segment-compatible ``POST /v1/batch``: intake (auth, gzip, checks), the mapping onto
Klaviyo's events, and the official Segment and RudderStack SDKs against a real ``serve``."""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from shoptrack.domain.segment import SegmentPayloadError, batch_drafts, segment_drafts
from shoptrack.pipeline.processing import Processor
from shoptrack.services import Services
from shoptrack.store.schema import events, inbox, metrics, profiles
from shoptrack.testing import Shop
from tests.conftest import START
from tests.helpers import AppClient, event_counts, inbox_states, profile_count
from tests.processes import Server, environment, wait_until


def track(
    event: str = "Order Completed",
    *,
    message_id: str = "msg-1",
    email: str | None = "Ada@Example.com",
    user_id: str | None = "user-1",
    properties: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "track",
        "event": event,
        "messageId": message_id,
        "timestamp": "2026-11-27T10:30:00.250Z",
        "properties": properties if properties is not None else {"order_id": "1001", "total": 42.5},
    }
    if user_id is not None:
        message["userId"] = user_id
    if email is not None:
        message["context"] = {"traits": {"email": email}}
    return message | fields


def batch(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"batch": list(messages), "sentAt": "2026-11-27T10:31:00Z", **fields}


def basic(key: str) -> dict[str, str]:
    """Basic auth as both SDKs send it: the write key as username, an empty password."""
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def post(client: AppClient, body: dict[str, Any] | bytes, **headers: str) -> Any:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return client.post("/v1/batch", content=content, headers=headers)


def stored_rows(services: Services) -> list[Any]:
    with services.database.read() as connection:
        return list(connection.execute(select(inbox.c.source, inbox.c.topic, inbox.c.body)))


def process(services: Services) -> None:
    result = Processor(services.database, services.clock).run_until_idle()
    assert result.retried == result.dead == 0


def placed_orders(services: Services) -> list[Any]:
    with services.database.read() as connection:
        return list(
            connection.execute(
                select(events, profiles.c.email, profiles.c.external_id)
                .join(metrics, metrics.c.id == events.c.metric_id)
                .join(profiles, profiles.c.id == events.c.profile_id)
                .where(metrics.c.name == "Placed Order")
            )
        )


# --- intake -----------------------------------------------------------------------------------


def test_basic_auth_batch_is_one_inbox_row_answered_like_segment(
    services: Services, shop: Shop, client: AppClient
) -> None:
    body = batch(track(), track("Product Viewed", message_id="msg-2"))
    response = post(client, body, **basic(shop.private_key))
    assert response.status_code == 200
    assert response.json() == {"success": True}
    [row] = stored_rows(services)
    assert (row.source, row.topic) == ("segment", "batch")
    assert orjson.loads(row.body) == body


def test_trailing_slash_path_is_the_same_endpoint(shop: Shop, client: AppClient) -> None:
    response = client.post(
        "/v1/batch/", content=orjson.dumps(batch(track())), headers=basic(shop.private_key)
    )
    assert response.status_code == 200


def test_write_key_in_the_body_is_accepted_and_never_stored(
    services: Services, shop: Shop, client: AppClient
) -> None:
    response = post(client, batch(track(), writeKey=shop.private_key))
    assert response.status_code == 200
    [row] = stored_rows(services)
    assert shop.private_key.encode() not in row.body
    assert "writeKey" not in orjson.loads(row.body)


def test_gzip_body_is_decompressed_before_it_is_stored(
    services: Services, shop: Shop, client: AppClient
) -> None:
    body = batch(track())
    response = post(
        client,
        gzip.compress(orjson.dumps(body)),
        **basic(shop.private_key),
        **{"Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    [row] = stored_rows(services)
    assert orjson.loads(row.body) == body


@pytest.mark.parametrize(
    ("headers", "write_key"),
    [
        ({}, None),
        (basic("pk_not_a_real_key"), None),
        ({}, "pk_not_a_real_key"),
        ({"Authorization": "Basic !!!"}, None),
        ({"Authorization": "Basic " + base64.b64encode(b":").decode()}, None),
    ],
    ids=["missing", "unknown-basic", "unknown-body", "malformed-basic", "empty-basic"],
)
def test_missing_or_unknown_write_key_is_401(
    services: Services,
    shop: Shop,
    client: AppClient,
    headers: dict[str, str],
    write_key: str | None,
) -> None:
    body = batch(track()) | ({"writeKey": write_key} if write_key else {})
    response = post(client, body, **headers)
    assert response.status_code == 401
    error = response.json()["errors"][0]
    assert error["code"] == "not_authenticated"
    assert stored_rows(services) == []


def test_basic_auth_wins_over_a_wrong_body_write_key(
    services: Services, shop: Shop, client: AppClient
) -> None:
    response = post(client, batch(track(), writeKey="pk_other"), **basic(shop.private_key))
    assert response.status_code == 200
    assert len(stored_rows(services)) == 1


def test_bad_gzip_is_400(services: Services, shop: Shop, client: AppClient) -> None:
    response = post(
        client, b"this is not gzip", **basic(shop.private_key), **{"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    assert "gzip" in response.json()["errors"][0]["detail"]
    assert stored_rows(services) == []


def test_truncated_gzip_is_400(shop: Shop, client: AppClient) -> None:
    compressed = gzip.compress(orjson.dumps(batch(track())))
    response = post(
        client, compressed[:-12], **basic(shop.private_key), **{"Content-Encoding": "gzip"}
    )
    assert response.status_code == 400
    assert "truncated" in response.json()["errors"][0]["detail"]


def test_gzip_that_inflates_past_5_mb_is_413(
    services: Services, shop: Shop, client: AppClient
) -> None:
    bomb = gzip.compress(b" " * (6 * 1024 * 1024))  # a few KB on the wire
    response = post(client, bomb, **basic(shop.private_key), **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == "payload_too_large"
    assert stored_rows(services) == []


def test_unsupported_content_encoding_is_400(shop: Shop, client: AppClient) -> None:
    response = post(client, b"x", **basic(shop.private_key), **{"Content-Encoding": "br"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "Content-Encoding"}


def test_body_that_is_not_json_is_400(shop: Shop, client: AppClient) -> None:
    response = post(client, b"{not json", **basic(shop.private_key))
    assert response.status_code == 400
    assert "not JSON" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("message", "pointer"),
    [
        ("not an object", "/batch/1"),
        ({"event": "Order Completed", "userId": "u"}, "/batch/1/type"),
        ({"type": "shout", "userId": "u"}, "/batch/1/type"),
        (track() | {"event": ""}, "/batch/1/event"),
        (track(user_id=None, email=None), "/batch/1/userId"),
        (track(user_id=None, email="not-an-email"), "/batch/1/context/traits/email"),
        (track() | {"timestamp": "yesterday"}, "/batch/1/timestamp"),
        (track() | {"timestamp": "1970-01-01T00:00:00Z"}, "/batch/1/timestamp"),
        (track(properties={"total": "a lot"}), "/batch/1/properties/total"),
        (track(properties={"total": 1, "currency": "euro"}), "/batch/1/properties/currency"),
        (track(properties={"order_id": {"id": 1}}), "/batch/1/properties/order_id"),
        (track() | {"properties": [1, 2]}, "/batch/1/properties"),
        (track() | {"messageId": "m" * 256}, "/batch/1/messageId"),
        ({"type": "identify", "traits": {"name": "nobody"}}, "/batch/1/userId"),
        ({"type": "identify", "traits": {"email": "nope"}}, "/batch/1/traits/email"),
        (track(properties={"note": "a\x00b"}), "/batch/1/properties/note"),
    ],
    ids=[
        "not-object",
        "no-type",
        "unknown-type",
        "no-event",
        "no-person",
        "bad-email",
        "bad-timestamp",
        "ancient-timestamp",
        "bad-total",
        "bad-currency",
        "object-order-id",
        "properties-not-object",
        "long-message-id",
        "identify-nobody",
        "identify-bad-email",
        "nul-character",
    ],
)
def test_bad_message_is_400_naming_it_and_nothing_is_stored(
    services: Services, shop: Shop, client: AppClient, message: Any, pointer: str
) -> None:
    response = post(client, batch(track(), message), **basic(shop.private_key))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "invalid"
    assert error["source"] == {"pointer": pointer}
    assert error["detail"].startswith(pointer)
    assert stored_rows(services) == []


@pytest.mark.parametrize(
    ("body", "pointer"),
    [([track()], "/"), ({"messages": []}, "/batch"), (batch(track(), sentAt="soon"), "/sentAt")],
    ids=["array-body", "no-batch", "bad-sent-at"],
)
def test_bad_envelope_is_400(shop: Shop, client: AppClient, body: Any, pointer: str) -> None:
    response = post(client, orjson.dumps(body), **basic(shop.private_key))
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}


def test_anonymous_visitors_events_are_accepted_and_skipped(
    services: Services, shop: Shop, client: AppClient
) -> None:
    """SDKs drop a whole batch answered 400: an anonymous visitor's event must not cost the
    identified events beside it."""
    anonymous = track(user_id=None, email=None) | {"anonymousId": "device-1"}
    response = post(client, batch(anonymous, track()), **basic(shop.private_key))
    assert response.status_code == 200
    Processor(services.database, services.clock).run_until_idle()
    assert sum(event_counts(services, shop.account_id).values()) == 1


def test_empty_batch_is_answered_and_stores_nothing(
    services: Services, shop: Shop, client: AppClient
) -> None:
    response = post(client, batch(), **basic(shop.private_key))
    assert response.status_code == 200
    assert stored_rows(services) == []


# --- processing -------------------------------------------------------------------------------


def test_order_completed_is_a_placed_order_with_value_and_order_id(
    services: Services, shop: Shop, client: AppClient
) -> None:
    properties = {
        "order_id": "1001",
        "total": 59.9,
        "revenue": 50,
        "currency": "eur",
        "coupon": "BLACKFRIDAY",
        "discount": 10,
        "products": [
            {
                "product_id": "p-1",
                "sku": "SKU-1",
                "name": "Teapot",
                "price": 19.95,
                "quantity": 2,
                "category": "Kitchen",
                "brand": "Acme",
                "url": "https://shop.example.com/teapot",
                "image_url": "https://shop.example.com/teapot.jpg",
            },
            {"product_id": "p-2", "name": "Cup", "price": 10, "quantity": 1},
        ],
    }
    assert post(client, batch(track(properties=properties)), **basic(shop.private_key)).is_success
    process(services)
    assert event_counts(services, shop.account_id) == {"Placed Order": 1}
    [event] = placed_orders(services)
    assert event.unique_id == "1001"
    assert event.value == Decimal("59.9000")
    assert event.value_currency == "EUR"
    assert event.time == datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
    assert (event.email, event.external_id) == ("ada@example.com", "user-1")
    recorded = event.properties
    assert recorded["order_id"] == "1001"  # the original properties are kept
    assert recorded["OrderId"] == "1001"
    assert recorded["DiscountCode"] == "BLACKFRIDAY"
    assert recorded["DiscountValue"] == 10
    assert recorded["ItemNames"] == ["Teapot", "Cup"]
    assert recorded["Categories"] == ["Kitchen"]
    assert recorded["Items"][0] == {
        "ProductID": "p-1",
        "SKU": "SKU-1",
        "ProductName": "Teapot",
        "Quantity": 2,
        "ItemPrice": 19.95,
        "RowTotal": 39.9,
        "ProductURL": "https://shop.example.com/teapot",
        "ImageURL": "https://shop.example.com/teapot.jpg",
        "Categories": ["Kitchen"],
        "Brand": "Acme",
    }


def test_spec_events_map_to_klaviyo_metrics_and_others_keep_their_name(
    services: Services, shop: Shop, client: AppClient
) -> None:
    names = [
        "Checkout Started",
        "Product Added",
        "Product Viewed",
        "Order Refunded",
        "Order Cancelled",
        "Wishlist Shared",
    ]
    messages = [
        track(name, message_id=f"m-{index}", properties={"product_id": "p-1", "price": 5})
        for index, name in enumerate(names)
    ]
    assert post(client, batch(*messages), **basic(shop.private_key)).is_success
    process(services)
    assert event_counts(services, shop.account_id) == {
        "Started Checkout": 1,
        "Added to Cart": 1,
        "Viewed Product": 1,
        "Refunded Order": 1,
        "Cancelled Order": 1,
        "Wishlist Shared": 1,
    }


def test_one_profile_per_email_across_messages_and_batches(
    services: Services, shop: Shop, client: AppClient
) -> None:
    first = batch(
        track(message_id="a", email="ada@example.com"),
        track("Product Viewed", message_id="b", email=" ADA@example.com "),
    )
    second = batch(track("Checkout Started", message_id="c", email="Ada@Example.com"))
    for body in (first, second):
        assert post(client, body, **basic(shop.private_key)).is_success
    process(services)
    assert profile_count(services, shop.account_id) == 1


def test_repeated_message_id_records_one_event(
    services: Services, shop: Shop, client: AppClient
) -> None:
    # No order_id: the messageId is what makes an SDK's retry the same event.
    message = track(message_id="retry-me", properties={"total": 12})
    for _ in range(2):
        assert post(client, batch(message), **basic(shop.private_key)).is_success
    assert inbox_states(services) == {"pending": 2}
    process(services)
    assert event_counts(services, shop.account_id) == {"Placed Order": 1}
    [event] = placed_orders(services)
    assert event.unique_id == "retry-me"
    assert inbox_states(services) == {"processed": 2}


def test_identify_page_screen_group_alias_are_accepted_and_record_nothing(
    services: Services, shop: Shop, client: AppClient
) -> None:
    body = batch(
        {"type": "identify", "userId": "u-1", "traits": {"email": "ada@example.com"}},
        {"type": "page", "anonymousId": "anon", "name": "Home"},
        {"type": "screen", "userId": "u-1", "name": "Cart"},
        {"type": "group", "userId": "u-1", "groupId": "g-1"},
        {"type": "alias", "userId": "u-1", "previousId": "anon"},
    )
    response = post(client, body, **basic(shop.private_key))
    assert response.status_code == 200
    process(services)
    assert event_counts(services, shop.account_id) == {}
    assert inbox_states(services) == {"processed": 1}


# --- the mapping, without HTTP ------------------------------------------------------------------


def test_time_falls_back_to_original_timestamp_then_sent_at_then_receipt() -> None:
    received = START
    untimed = track() | {"timestamp": None}
    [original] = batch_drafts(
        batch(untimed | {"originalTimestamp": "2026-11-27T09:00:00+01:00"}), received_at=received
    )
    assert original.time == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    [sent] = batch_drafts(batch(untimed), received_at=received)
    assert sent.time == datetime(2026, 11, 27, 10, 31, tzinfo=UTC)
    [receipt] = batch_drafts({"batch": [untimed]}, received_at=received)
    assert receipt.time == received


def test_batch_context_traits_identify_messages_without_their_own() -> None:
    body = batch(track(email=None, user_id=None), context={"traits": {"email": "b@example.com"}})
    [draft] = batch_drafts(body, received_at=START)
    assert draft.person.email == "b@example.com"


def test_traits_give_names_and_phone_and_a_phone_without_country_is_left_off() -> None:
    message = track() | {
        "context": {
            "traits": {
                "email": "ada@example.com",
                "firstName": "Ada",
                "last_name": "Lovelace",
                "phone": "+44 20 7946 0000",
            }
        }
    }
    [draft] = batch_drafts(batch(message), received_at=START)
    person = draft.person
    assert (person.first_name, person.last_name) == ("Ada", "Lovelace")
    assert person.phone_number == "+442079460000"
    message["context"]["traits"]["phone"] = "555-0100"
    [draft] = batch_drafts(batch(message), received_at=START)
    assert draft.person.phone_number is None


def test_value_is_total_else_revenue_and_numeric_ids_become_text() -> None:
    message = track(properties={"order_id": 77, "revenue": "19.99"}) | {"userId": 42}
    [draft] = batch_drafts(batch(message), received_at=START)
    assert draft.value == Decimal("19.99")
    assert draft.unique_id == "77"
    assert draft.person.external_id == "42"


def test_message_without_id_dedupes_per_person_metric_and_second() -> None:
    message = track(properties={"total": 1})
    del message["messageId"]
    [draft] = batch_drafts(batch(message), received_at=START)
    assert (
        draft.unique_id
        == f"ada@example.com@{int(datetime(2026, 11, 27, 10, 30, tzinfo=UTC).timestamp())}"
    )


def test_single_product_event_gets_klaviyo_product_names() -> None:
    message = track(
        "Product Viewed",
        properties={"product_id": "p-9", "sku": "S9", "name": "Kettle", "price": 30},
    )
    [draft] = batch_drafts(batch(message), received_at=START)
    assert draft.metric == "Viewed Product"
    assert draft.properties["ProductName"] == "Kettle"
    assert draft.properties["Price"] == 30
    assert draft.properties["name"] == "Kettle"
    assert draft.unique_id == "msg-1"


def test_stored_body_maps_like_the_checked_one() -> None:
    body = orjson.dumps(batch(track()))
    assert segment_drafts(body, START) == batch_drafts(orjson.loads(body), received_at=START)
    with pytest.raises(SegmentPayloadError):
        segment_drafts(orjson.dumps(batch({"type": "track"})), START)


# --- the official SDKs against a real server ----------------------------------------------------
# The SDKs are imported inside the tests: importing rudderstack.analytics loads a .env file
# into os.environ, which only the tests that need it should risk.


@pytest.fixture
def server(services: Services, tmp_path: Path) -> Iterator[Server]:
    running = Server(environment(services.settings.resolved_database_url(), tmp_path / "data"))
    yield running
    running.stop()


def _sdk_order(client: Any) -> None:
    """Sends one "Order Completed" twice with one messageId, as an SDK's retry would."""
    for _ in range(2):
        client.track(
            user_id="sdk-user",
            event="Order Completed",
            properties={"total": 99.5, "currency": "USD", "products": [{"name": "Kettle"}]},
            context={"traits": {"email": "sdk@example.com"}},
            timestamp=datetime.now(UTC) - timedelta(minutes=1),
            message_id="sdk-message-1",
        )


def _wait_for_processing(services: Services, rows: int) -> None:
    wait_until(lambda: inbox_states(services) == {"processed": rows})


@pytest.mark.slow
def test_segment_sdk_order_sent_twice_is_one_placed_order(
    services: Services, shop: Shop, server: Server
) -> None:
    from segment.analytics import Client

    # sync_mode posts on the calling thread: no consumer thread to leak or join.
    client = Client(shop.private_key, host=server.url, sync_mode=True)
    _sdk_order(client)
    _wait_for_processing(services, rows=2)
    assert event_counts(services, shop.account_id) == {"Placed Order": 1}
    [event] = placed_orders(services)
    assert (event.unique_id, event.value) == ("sdk-message-1", Decimal("99.5000"))
    assert (event.email, event.external_id) == ("sdk@example.com", "sdk-user")


@pytest.mark.slow
def test_segment_sdk_with_gzip_and_a_wrong_key(
    services: Services, shop: Shop, server: Server
) -> None:
    from segment.analytics import Client
    from segment.analytics.request import APIError

    Client(shop.private_key, host=server.url, sync_mode=True, gzip=True).track(
        user_id="sdk-user", event="Signed Up", message_id="gz-1"
    )
    with pytest.raises(APIError) as refused:
        Client("pk_wrong", host=server.url, sync_mode=True).track(
            user_id="sdk-user", event="Signed Up", message_id="gz-2"
        )
    assert refused.value.status == 401
    _wait_for_processing(services, rows=1)
    assert event_counts(services, shop.account_id) == {"Signed Up": 1}


@pytest.mark.slow
def test_rudderstack_sdk_gzipped_order_sent_twice_is_one_placed_order(
    services: Services, shop: Shop, server: Server
) -> None:
    from rudderstack.analytics import Client

    client = Client(shop.private_key, host=server.url, sync_mode=True)
    assert client.gzip  # RudderStack compresses by default
    _sdk_order(client)
    _wait_for_processing(services, rows=2)
    assert event_counts(services, shop.account_id) == {"Placed Order": 1}
    [event] = placed_orders(services)
    assert (event.unique_id, event.value_currency) == ("sdk-message-1", "USD")
    assert (event.email, event.external_id) == ("sdk@example.com", "sdk-user")
