"""A store address that answers, but not with its platform's API (a web page, a maintenance
page): connecting is refused with 422 naming the address field and quoting the store's answer,
capped, and nothing is stored; an integration that already points at such an address keeps the
doctor, its API and the Doctor page answering, with the answer as the finding's evidence."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from shoptrack.api.app import create_app
from shoptrack.connectors import connector_for
from shoptrack.pipeline.sync import Syncer
from shoptrack.services import Services
from shoptrack.simulators.catalog import CATALOG, StoreLife
from shoptrack.store.integrations import create_integration
from shoptrack.testing import Shop
from tests.helpers import AppClient
from tests.stores import serving
from tests.web.pages import Browser, add_user, no_wait_client

pytestmark = pytest.mark.slow

# A web page where the store's API should answer: longer than shoptrack keeps of an answer, and
# with a NUL character, which PostgreSQL cannot store in text.
PAGE = (
    "<!doctype html><html><body><h1>Down for maintenance</h1>\x00"
    + "<p>We will be back shortly.</p>" * 200
    + "</body></html>"
)
ANSWER_CAP_BYTES = 2048


async def _page(_request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


@pytest.fixture
def web_page() -> Iterator[str]:
    """An address that answers every request with a web page, 200 OK."""
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", _page, methods=methods)])
    with serving(app) as url:
        yield url


def _credentials(life: StoreLife, url: str) -> dict[str, Any]:
    credentials: dict[str, Any] = life.build(None, False).credentials(url)
    return credentials


def _address_field(life: StoreLife, credentials: dict[str, Any]) -> str:
    connector = connector_for(life.platform)
    return connector.address_field(connector.credentials_model.model_validate(credentials))


def _post(client: AppClient, shop: Shop, life: StoreLife, credentials: dict[str, Any]) -> Any:
    return client.post(
        "/api/integrations",
        headers=shop.headers(),
        json={
            "data": {
                "type": "integration",
                "attributes": {
                    "platform": life.platform,
                    "name": f"{life.label} behind a web page",
                    "credentials": credentials,
                },
            }
        },
    )


@pytest.mark.parametrize("life", CATALOG, ids=lambda life: life.platform)
def test_an_address_that_answers_no_json_is_refused_and_nothing_is_stored(
    client: AppClient, shop: Shop, web_page: str, life: StoreLife
) -> None:
    credentials = _credentials(life, web_page)
    field = _address_field(life, credentials)
    for _attempt in range(2):  # a second try stores nothing either
        response = _post(client, shop, life, credentials)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/vnd.api+json"
        (error,) = response.json()["errors"]
        assert error["code"] == "store_not_found"
        assert error["source"]["pointer"] == f"/data/attributes/credentials/{field}"
        assert field in error["detail"]
        assert "not JSON" in error["detail"]
        answer = error["meta"]["store_answer"]
        assert answer.startswith("<!doctype html><html><body><h1>Down for maintenance</h1><p>")
        assert len(answer.encode()) <= ANSWER_CAP_BYTES
        assert error["meta"]["store_status"] == 200
    listed = client.get("/api/integrations", headers=shop.headers()).json()["data"]
    assert [integration["id"] for integration in listed] == [shop.integration.id]


@pytest.mark.parametrize("life", CATALOG, ids=lambda life: life.platform)
def test_the_doctor_of_an_integration_behind_a_web_page_answers(
    services: Services, shop: Shop, web_page: str, life: StoreLife
) -> None:
    """Saved before connecting checked the answer (or by an older shoptrack): every place the
    doctor runs still answers, and says what the address answered."""
    with services.database.write() as connection:
        integration = create_integration(
            connection,
            services.cipher,
            account_id=shop.account_id,
            platform=life.platform,
            name="Behind a web page",
            credentials=_credentials(life, web_page),
            settings={},
            now=services.clock.now(),
        )
    app = create_app(services, run_workers=False)
    assert app.web is not None
    app.web.app.state.doctor_client = no_wait_client
    client = AppClient(app)
    try:
        account = client.get("/api/diagnostics", headers=shop.headers())
        assert account.status_code == 200, account.text
        own = client.get(f"/api/integrations/{integration.id}/diagnostics", headers=shop.headers())
        assert own.status_code == 200, own.text
        findings = [f["attributes"] for f in own.json()["data"]]
        unreadable = [f for f in findings if f["severity"] == "error" and "JSON" in f["summary"]]
        assert unreadable, findings
        assert "Down for maintenance" in str(unreadable[0]["evidence"])
        # A sync records its failure, with the answer (PostgreSQL stores it: no NUL left).
        run_id = Syncer(services).run(shop.account_id, integration.id)
        run = client.get(
            f"/api/integrations/{integration.id}/sync-runs/{run_id}", headers=shop.headers()
        ).json()["data"]["attributes"]
        assert run["state"] == "failed"
        assert run["error"]["code"] == "store_answer_unreadable"
        assert run["error"]["store_answer"].startswith("<!doctype html><html><body><h1>Down")
        assert "\x00" not in run["error"]["store_answer"]
        add_user(services, shop.account_id, "owner@example.com")
        browser = Browser(client)
        assert browser.sign_in("owner@example.com").status_code == 303
        page = browser.get("/doctor")
        assert page.status_code == 200, page.text
        assert "Behind a web page" in page.text
    finally:
        client.close()
