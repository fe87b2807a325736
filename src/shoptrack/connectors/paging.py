"""Paginators: how each platform says where the next page is, as small generic objects.

Two shapes share ``PageCursor`` (the token of the page to request next): a ``Paginator`` reads
the next token from the HTTP response (its headers, its status, how many records it held) —
every REST API here; ``EndCursorPaginator`` reads it from the body, a GraphQL connection's
``pageInfo`` (Shopify), which only the query's reader can find.

Each one refuses a page token it has already followed: a store that answers the same page
again (older Magento past the end, a looping ``Link`` header) must not make a sync run forever.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import httpx

from shoptrack.connectors.errors import StoreDataError

__all__ = [
    "EndCursorPaginator",
    "HeaderLinkPaginator",
    "OffsetPaginator",
    "PageCursor",
    "PageNumberPaginator",
    "Paginator",
    "RepeatedPageError",
    "TotalCountPaginator",
]

Token = TypeVar("Token", bound=Hashable)


class RepeatedPageError(StoreDataError):
    """The store pointed at a page already read."""

    code = "store_paging_loop"


class PageCursor(Generic[Token]):
    """Where a pass over a platform's pages stands: ``current`` is the token of the page to
    request next, None once there is none; a token already followed is refused."""

    def __init__(self, first: Token) -> None:
        self.current: Token | None = first
        self._seen: set[Token] = {first}

    @property
    def finished(self) -> bool:
        return self.current is None

    def _move(self, following: Token | None) -> None:
        if following is not None:
            if following in self._seen:
                raise RepeatedPageError(f"the store sent page {following!r} again")
            self._seen.add(following)
        self.current = following


class Paginator(PageCursor[Token], ABC):
    """Paging told by the HTTP response: ``advance`` after each page."""

    def advance(self, response: httpx.Response, records: int) -> None:
        """Moves to the next page after ``response``, which held ``records`` records."""
        self._move(self.next_token(response, records))

    @abstractmethod
    def next_token(self, response: httpx.Response, records: int) -> Token | None:
        """The token of the page after ``response``, or None at the end."""


class PageNumberPaginator(Paginator[int]):
    """Numbered pages (WooCommerce, BigCommerce): the end is an empty or short page, a 204, or
    the last page a total-pages header announces."""

    def __init__(self, page_size: int, total_pages_header: str | None = None) -> None:
        super().__init__(1)
        self._page_size = page_size
        self._total_pages_header = total_pages_header

    def next_token(self, response: httpx.Response, records: int) -> int | None:
        page = self.current or 1
        if response.status_code == 204 or records < self._page_size:
            return None
        if self._total_pages_header is not None:
            total = response.headers.get(self._total_pages_header)
            if total is not None and total.isdigit() and page >= int(total):
                return None
        return page + 1


class TotalCountPaginator(Paginator[int]):
    """Numbered pages whose answers count every match (Magento 2's ``total_count``): the end is
    when the pages read hold that many records, or an empty page. A short page is no proof (a
    store may cap the page size below the one asked for), and a page past the end may be the
    last one again (Magento before 2.4), so only the count tells."""

    def __init__(self, total: Callable[[httpx.Response], int]) -> None:
        super().__init__(1)
        self._total = total
        self._received = 0

    def next_token(self, response: httpx.Response, records: int) -> int | None:
        self._received += records
        if records == 0 or self._received >= self._total(response):
            return None
        return (self.current or 1) + 1


class OffsetPaginator(Paginator[int]):
    """Record offsets (Shift4Shop: 1-based): the end is a short page."""

    def __init__(self, page_size: int, first_offset: int = 0) -> None:
        super().__init__(first_offset)
        self._page_size = page_size

    def next_token(self, response: httpx.Response, records: int) -> int | None:
        if records < self._page_size:
            return None
        return (self.current or 0) + self._page_size


class HeaderLinkPaginator(Paginator[str]):
    """RFC 8288 ``Link`` headers (Shopify): the token is the ``page_info`` of ``rel="next"``."""

    def __init__(self, parameter: str = "page_info") -> None:
        super().__init__("")  # the first page has no token
        self._parameter = parameter

    def next_token(self, response: httpx.Response, records: int) -> str | None:
        link = response.links.get("next")
        if not link or "url" not in link:
            return None
        values = parse_qs(urlsplit(link["url"]).query).get(self._parameter)
        return values[0] if values else None


class EndCursorPaginator(PageCursor[str]):
    """GraphQL cursor connections (Shopify): paging told by the body, ``pageInfo.endCursor``
    while ``pageInfo.hasNextPage``; ``follow`` each connection read. The first page has no
    token (``""``)."""

    def __init__(self) -> None:
        super().__init__("")

    def follow(self, page_info: Any) -> None:
        """Moves past the page whose connection answered ``page_info``."""
        self._move(_end_cursor(page_info))


def _end_cursor(page_info: Any) -> str | None:
    if not isinstance(page_info, Mapping) or page_info.get("hasNextPage") is not True:
        return None
    cursor = page_info.get("endCursor")
    if not isinstance(cursor, str) or not cursor:
        raise StoreDataError(
            "the page says another follows but gives no endCursor", store_answer=str(page_info)
        )
    return cursor
