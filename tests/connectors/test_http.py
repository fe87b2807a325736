"""The store client: User-Agent, retries honouring Retry-After, and classified failures; the
paginators."""

from __future__ import annotations

import httpx
import pytest

from shoptrack.connectors.errors import (
    StoreConfigError,
    StoreDataError,
    StoreError,
    StoreTransientError,
)
from shoptrack.connectors.http import USER_AGENT, RetryPolicy, StoreClient
from shoptrack.connectors.paging import (
    EndCursorPaginator,
    HeaderLinkPaginator,
    OffsetPaginator,
    PageNumberPaginator,
    RepeatedPageError,
)
from shoptrack.testing import SIMULATOR_GUARD

CLOUDFLARE_PAGE = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head>"
    "<body><h1>Sorry, you have been blocked</h1><p>Cloudflare Ray ID: 8c1f</p></body></html>"
)


def _client(handler: httpx.MockTransport, slept: list[float]) -> StoreClient:
    return StoreClient(
        "https://shop.example.com", guard=SIMULATOR_GUARD, transport=handler, sleep=slept.append
    )


def test_requests_carry_shoptracks_user_agent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, json=[])

    with _client(httpx.MockTransport(handler), []) as client:
        client.get("/x")
    assert seen == [USER_AGENT]
    assert USER_AGENT.startswith("shoptrack/")


def test_429_is_retried_after_the_time_the_store_asks() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}, json={"errors": "slow down"}),
            httpx.Response(503),
            httpx.Response(200, json=[1]),
        ]
    )
    slept: list[float] = []
    with _client(httpx.MockTransport(lambda _request: next(answers)), slept) as client:
        assert client.get("/x").json() == [1]
    assert slept == [7.0, 1.0]  # Retry-After, then the doubling backoff's second step


def test_transient_failures_give_up_after_the_policys_attempts() -> None:
    slept: list[float] = []
    client = StoreClient(
        "https://shop.example.com",
        guard=SIMULATOR_GUARD,
        transport=httpx.MockTransport(lambda _request: httpx.Response(502, text="bad gateway")),
        sleep=slept.append,
        retry=RetryPolicy(attempts=3, base_delay=0.5),
    )
    with client, pytest.raises(StoreTransientError) as raised:
        client.get("/x")
    assert slept == [0.5, 1.0]
    assert raised.value.store_status == 502
    assert raised.value.kind == "transient"


def test_timeouts_are_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    slept: list[float] = []
    with _client(httpx.MockTransport(handler), slept) as client, pytest.raises(StoreTransientError):
        client.get("/x")
    assert len(slept) == 4


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (
            httpx.Response(401, json={"code": "woocommerce_rest_cannot_view"}),
            "credentials_rejected",
        ),
        (
            httpx.Response(403, json={"errors": "[API] This action requires merchant approval"}),
            "scope_missing",
        ),
        (httpx.Response(404, text="Not Found"), "store_not_found"),
        (
            httpx.Response(403, text=CLOUDFLARE_PAGE, headers={"content-type": "text/html"}),
            "firewall_blocked",
        ),
        (
            httpx.Response(403, text="<html>…</html>", headers={"cf-mitigated": "challenge"}),
            "firewall_blocked",
        ),
    ],
)
def test_config_errors_are_not_retried_and_keep_the_stores_answer(
    response: httpx.Response, code: str
) -> None:
    slept: list[float] = []
    with (
        _client(httpx.MockTransport(lambda _request: response), slept) as client,
        pytest.raises(StoreConfigError) as raised,
    ):
        client.get("/x")
    assert raised.value.code == code
    assert slept == []
    assert raised.value.store_answer


def test_a_stores_own_rate_limit_behind_cloudflare_is_retried() -> None:
    """Cloudflare adds cf-ray and server headers to every answer it passes on."""
    answers = iter(
        [
            httpx.Response(
                429,
                json={"errors": "Exceeded 2 calls per second"},
                headers={"cf-ray": "8c1f-AMS", "server": "cloudflare", "retry-after": "2"},
            ),
            httpx.Response(200, json=[]),
        ]
    )
    slept: list[float] = []
    with _client(httpx.MockTransport(lambda _request: next(answers)), slept) as client:
        assert client.get("/x").json() == []
    assert slept == [2.0]


def test_firewall_error_names_the_user_agent_to_allow() -> None:
    page = httpx.Response(403, text=CLOUDFLARE_PAGE, headers={"content-type": "text/html"})
    with (
        _client(httpx.MockTransport(lambda _request: page), []) as client,
        pytest.raises(StoreConfigError) as raised,
    ):
        client.get("/x")
    assert USER_AGENT in raised.value.detail
    assert "no fixed IP" in raised.value.detail


def test_other_client_errors_are_system_errors() -> None:
    with (
        _client(httpx.MockTransport(lambda _r: httpx.Response(418)), []) as client,
        pytest.raises(StoreError) as raised,
    ):
        client.get("/x")
    assert raised.value.kind == "system"


def _response(status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("GET", "https://s/x"))


def test_page_numbers_end_on_total_pages_short_page_or_204() -> None:
    paginator = PageNumberPaginator(2, total_pages_header="x-wp-totalpages")
    paginator.advance(_response(headers={"x-wp-totalpages": "2"}), 2)
    assert paginator.current == 2
    paginator.advance(_response(headers={"x-wp-totalpages": "2"}), 2)
    assert paginator.finished
    short = PageNumberPaginator(100)
    short.advance(_response(), 99)
    assert short.finished
    empty = PageNumberPaginator(100)
    empty.advance(_response(204), 0)
    assert empty.finished


def test_offsets_advance_by_page_size() -> None:
    paginator = OffsetPaginator(50, first_offset=1)
    paginator.advance(_response(), 50)
    assert paginator.current == 51
    paginator.advance(_response(), 10)
    assert paginator.finished


def test_link_header_pages_and_a_repeated_token_is_refused() -> None:
    paginator = HeaderLinkPaginator()
    link = '<https://s/admin/api/2025-01/orders.json?limit=250&page_info=abc>; rel="next"'
    paginator.advance(_response(headers={"link": link}), 250)
    assert paginator.current == "abc"
    with pytest.raises(RepeatedPageError):
        paginator.advance(_response(headers={"link": link}), 250)
    last = HeaderLinkPaginator()
    last.advance(_response(headers={"link": '<https://s/x?page_info=z>; rel="previous"'}), 3)
    assert last.finished


def test_graphql_connections_page_on_their_end_cursor_until_there_is_no_next_page() -> None:
    paginator = EndCursorPaginator()
    assert paginator.current == ""
    paginator.follow({"hasNextPage": True, "endCursor": "c1"})
    assert paginator.current == "c1"
    with pytest.raises(RepeatedPageError):
        paginator.follow({"hasNextPage": True, "endCursor": "c1"})
    paginator.follow({"hasNextPage": False, "endCursor": "c2"})
    assert paginator.finished
    with pytest.raises(StoreDataError):
        EndCursorPaginator().follow({"hasNextPage": True, "endCursor": None})
