"""Signing in and out of the web UI: sessions, CSRF on every form, and what a session reaches."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from shoptrack import users
from shoptrack.errors import ConflictError, InputError, NotFoundError
from shoptrack.services import Services
from shoptrack.store.accounts import create_account
from shoptrack.store.schema import web_sessions
from shoptrack.testing import Shop
from shoptrack.users import create_user, sign_in
from tests.helpers import AppClient
from tests.web.pages import PASSWORD, Browser, add_user, csrf_of

PAGES = ["/", "/integrations", "/integrations/new", "/metrics", "/profiles"]


@pytest.fixture
def browser(client: AppClient) -> Browser:
    return Browser(client)


def _sessions(services: Services) -> int:
    with services.database.read() as connection:
        return connection.execute(select(func.count()).select_from(web_sessions)).scalar_one()


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_session(browser: Browser, path: str) -> None:
    response = browser.get(path)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/sign-in")
    if path != "/":
        assert "next=" in location


def test_signing_in_and_out(services: Services, shop: Shop, browser: Browser) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    page = browser.get("/sign-in")
    assert page.status_code == 200
    assert "Sign in" in page.text
    response = browser.sign_in(" Merchant@Example.com ", next_path="/integrations")
    assert response.status_code == 303
    assert response.headers["location"] == "/integrations"
    cookie = response.headers["set-cookie"].lower()
    assert "shoptrack_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    token = browser.cookie("shoptrack_session")
    assert token is not None
    home = browser.get("/")
    assert home.status_code == 200
    assert "merchant@example.com" in home.text
    assert _sessions(services) == 1

    # Signing out needs the page's CSRF token.
    refused = browser.post("/sign-out", {})
    assert refused.status_code == 403
    signed_out = browser.post("/sign-out", {"csrf_token": csrf_of(home.text)})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/sign-in?signed_out=1"
    assert _sessions(services) == 0
    assert browser.get("/").status_code == 303
    # The old cookie is dead everywhere, not only in this browser.
    browser.client._client.cookies.set("shoptrack_session", token)
    assert browser.get("/").status_code == 303


def test_wrong_email_and_wrong_password_are_refused_alike(
    services: Services, shop: Shop, browser: Browser
) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    wrong_password = browser.sign_in("merchant@example.com", "not the password")
    unknown = browser.sign_in("nobody@example.com", PASSWORD)
    for response in (wrong_password, unknown):
        assert response.status_code == 401
        assert "the email or the password is wrong" in response.text
        assert browser.cookie("shoptrack_session") is None
    # The email typed stays in the form; the password does not.
    assert 'value="merchant@example.com"' in wrong_password.text
    assert "not the password" not in wrong_password.text


def test_the_sign_in_form_needs_its_csrf_token(
    services: Services, shop: Shop, browser: Browser
) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    browser.get("/sign-in")  # the browser holds its CSRF cookie
    for token in ("", "forged"):
        response = browser.post(
            "/sign-in",
            {"csrf_token": token, "email": "merchant@example.com", "password": PASSWORD},
        )
        assert response.status_code == 403
    assert _sessions(services) == 0


@pytest.mark.parametrize(
    "next_path", ["//evil.example.com/", "https://evil.example.com/", "/\\evil.example.com"]
)
def test_sign_in_never_sends_the_browser_to_another_site(
    services: Services, shop: Shop, browser: Browser, next_path: str
) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    response = browser.sign_in("merchant@example.com", next_path=next_path)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_forms_of_a_signed_in_user_need_their_session_token(
    services: Services, shop: Shop, browser: Browser
) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    browser.sign_in("merchant@example.com")
    action = f"/integrations/{shop.integration.id}/sync"
    assert browser.post(action, {}).status_code == 403
    assert browser.post(action, {"csrf_token": "0" * 64}).status_code == 403
    # A token of an earlier session is no good either.
    token = csrf_of(browser.get("/").text)
    browser.post("/sign-out", {"csrf_token": token})
    browser.sign_in("merchant@example.com")
    assert browser.post(action, {"csrf_token": token}).status_code == 403
    # As a header (htmx sends it so), the right token works.
    fresh = csrf_of(browser.get("/").text)
    accepted = browser.client.post(
        action, headers={"X-CSRF-Token": fresh, "HX-Request": "true"}, data={}
    )
    assert accepted.status_code == 200


def test_pages_carry_security_headers(services: Services, shop: Shop, browser: Browser) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    browser.sign_in("merchant@example.com")
    response = browser.get("/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    static = browser.get("/static/shoptrack.css")
    assert static.status_code == 200
    assert "max-age" in static.headers["cache-control"]
    assert browser.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert browser.get("/static/vendor/chart-4.6.1.umd.min.js").status_code == 200


def test_a_session_opens_no_api_and_the_api_keeps_its_keys(
    services: Services, shop: Shop, browser: Browser
) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    browser.sign_in("merchant@example.com")
    refused = browser.get("/api/metrics")
    assert refused.status_code == 401
    assert orjson.loads(refused.content)["errors"][0]["code"] == "not_authenticated"
    assert browser.get("/api/metrics", headers=shop.headers()).status_code == 200
    assert browser.get("/openapi.json").status_code == 200
    assert browser.get("/health").status_code == 200
    # Unknown paths stay the API's JSON 404.
    unknown = browser.get("/no-such-page")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/vnd.api+json")


def test_creating_users(services: Services, shop: Shop) -> None:
    user = create_user(
        services, account_id=shop.account_id, email=" Owner@Example.COM", password=PASSWORD
    )
    assert user.email == "owner@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    with pytest.raises(ConflictError) as duplicate:
        create_user(
            services, account_id=shop.account_id, email="owner@example.com", password=PASSWORD
        )
    assert duplicate.value.parameter == "email"
    with pytest.raises(InputError) as short:
        create_user(services, account_id=shop.account_id, email="b@example.com", password="short")
    assert short.value.parameter == "password"
    with pytest.raises(InputError) as bad_email:
        create_user(services, account_id=shop.account_id, email="not an email", password=PASSWORD)
    assert bad_email.value.parameter == "email"
    with pytest.raises(NotFoundError):
        create_user(
            services, account_id="NO-SUCH-ACCOUNT", email="c@example.com", password=PASSWORD
        )
    session = sign_in(services, "OWNER@example.com", PASSWORD)
    assert session.user.account_id == shop.account_id
    assert len(session.token) >= 40


def test_a_user_sees_only_their_account(services: Services, shop: Shop, browser: Browser) -> None:
    with services.database.write() as connection:
        other, _ = create_account(connection, "Other shop", services.clock.now())
    add_user(services, other.id, "other@example.com")
    browser.sign_in("other@example.com")
    home = browser.get("/")
    assert home.status_code == 200
    assert "Woo" not in browser.get("/integrations").text
    for path in (
        f"/integrations/{shop.integration.id}",
        f"/integrations/{shop.integration.id}/settings",
        f"/integrations/{shop.integration.id}/remove",
        f"/integrations/{shop.integration.id}/sync-status",
    ):
        assert browser.get(path).status_code == 404, path
    token = csrf_of(home.text)
    for action in ("sync", "settings", "remove"):
        response = browser.post(
            f"/integrations/{shop.integration.id}/{action}", {"csrf_token": token, "name": "Mine"}
        )
        assert response.status_code == 404, action
    with services.database.read() as connection:
        from shoptrack.store.integrations import get_integration

        kept = get_integration(connection, shop.account_id, shop.integration.id)
    assert kept.name == "Woo"
    assert kept.removed_at is None


def test_passwords_are_hashed_at_argon2id_recommended_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC 9106's second recommended option: 3 passes over 64 MiB (tests use a cheap hasher)."""
    monkeypatch.undo()  # the production hasher, not the tests' cheap one
    hasher = users._hasher()
    assert hasher.type.name == "ID"
    assert hasher.time_cost >= 3
    assert hasher.memory_cost >= 64 * 1024


def test_messages_after_a_redirect_cannot_be_forged(
    services: Services, shop: Shop, browser: Browser
) -> None:
    add_user(services, shop.account_id, "merchant@example.com")
    browser.sign_in("merchant@example.com")
    forged = "W1sib2siLCJTZW5kIHVzIHlvdXIgcGFzc3dvcmQiXV0.0000"  # [["ok","Send us your password"]]
    browser.client._client.cookies.set("shoptrack_flash", forged)
    assert "Send us your password" not in browser.get("/").text
