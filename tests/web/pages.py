"""Driving the web UI in-process as a browser would: cookies kept, CSRF tokens read off pages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx

from shoptrack.connectors import Connector
from shoptrack.connectors.base import Credentials
from shoptrack.connectors.http import StoreClient
from shoptrack.services import Services
from shoptrack.testing import SIMULATOR_GUARD
from shoptrack.users import create_user
from tests.helpers import AppClient

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return unescape(found.group(1))


def no_wait_client(connector: Connector, credentials: Credentials) -> StoreClient:
    """The store's client without the waits between retries, for the Doctor page's live checks
    (tests never sleep): ``app.web.app.state.doctor_client = no_wait_client``."""
    return connector.client(credentials, guard=SIMULATOR_GUARD, sleep=lambda _seconds: None)


def add_user(services: Services, account_id: str, email: str) -> None:
    create_user(services, account_id=account_id, email=email, password=PASSWORD)


@dataclass
class Browser:
    """A signed-in (or not yet) browser of the in-process app."""

    client: AppClient

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, **kwargs)

    def post(self, url: str, data: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return self.client.post(url, data=data, **kwargs)

    def submit(self, page_url: str, action: str, data: dict[str, Any]) -> httpx.Response:
        """Posts a form from ``page_url`` with that page's CSRF token, as a browser would."""
        page = self.get(page_url)
        assert page.status_code == 200, page.text
        return self.post(action, {"csrf_token": csrf_of(page.text), **data})

    def sign_in(self, email: str, password: str = PASSWORD, next_path: str = "/") -> httpx.Response:
        page = self.get("/sign-in")
        return self.post(
            "/sign-in",
            {
                "csrf_token": csrf_of(page.text),
                "email": email,
                "password": password,
                "next": next_path,
            },
        )

    def cookie(self, name: str) -> str | None:
        jar = self.client._client.cookies  # what the browser keeps
        return jar.get(name)


_TAG = re.compile(r"<[^>]+>")


def text_of(html: str) -> str:
    """The text of an HTML fragment, tags dropped and white space collapsed."""
    return " ".join(unescape(_TAG.sub(" ", html)).split())


def row_cells(html: str, table_id: str, label: str) -> list[str]:
    """The text of each cell of the row headed ``label`` in the table ``table_id``."""
    table = html[html.index(f'id="{table_id}"') :]
    table = table[: table.index("</table>")]
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.DOTALL):
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.DOTALL)
        if cells and text_of(cells[0]) == label:
            return [text_of(cell) for cell in cells[1:]]
    raise AssertionError(f"no row {label!r} in #{table_id}")
