"""Flow email templates are hostile input: the immutable sandbox, bounds on ``**`` and ``*``, a
256 KB output cap, a renderer process that a time limit really stops, and rendering outside
any transaction, so that one account's template never holds up another account."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateRuntimeError
from jinja2.sandbox import SecurityError
from sqlalchemy import select

from shoptrack.flows.delivery import SmtpMailer
from shoptrack.flows.engine import FlowEngine
from shoptrack.flows.renderer import TIME_LIMIT, TemplateRenderer, TemplateRenderError
from shoptrack.flows.sandbox import (
    MAX_OUTPUT_BYTES,
    TemplateLimitError,
    TemplatePart,
    render_parts,
)
from shoptrack.services import Services
from shoptrack.store.schema import flow_deliveries
from shoptrack.testing import WEBHOOK_SECRET, Shop, make_shop, woo_order, woo_webhook
from tests.conftest import START
from tests.flow_support import (
    SmtpServer,
    api_metric,
    flow_engine,
    process,
    send_event,
    smtp,
    statistics,
)
from tests.helpers import AppClient, event_counts
from tests.processes import wait_until

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here

# The template of the report: each power alone is one C call of about two seconds.
POWERS = "{% for i in range(6) %}{{ (9**(9**7 + i)) % 10 }}{% endfor %}"
# Ten billion steps of a loop, each cheap, none bounded alone: only the time limit stops it.
ENDLESS = "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"


def _text(source: str, context: dict[str, Any] | None = None) -> str:
    return render_parts([TemplatePart("text", source, html=False)], context or {})["text"]


# -- the sandbox, in this process -------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ 2 ** 64 }}", str(2**64)),
        ("{{ (2 ** 4000)|string|length }}", "1205"),
        ("{{ 10 ** 9 * 3 }}", "3000000000"),
        ("{{ 1.5 ** 2 }}", "2.25"),
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ ([0] * 3)|length }}", "3"),
        ("{{ 19.9 * 2 }}", "39.8"),
    ],
)
def test_ordinary_arithmetic_renders(source: str, expected: str) -> None:
    assert _text(source) == expected


@pytest.mark.parametrize(
    ("source", "words"),
    [
        (POWERS, "too large a number"),
        ("{{ 2 ** 5000 }}", "too large a number"),
        ("{{ (2 ** 4000) * (2 ** 4000) }}", "too large a number"),
        ("{{ 'x' * 10 ** 6 }}", "longer than an email may be"),
        ("{{ 10 ** 6 * 'x' }}", "longer than an email may be"),
        ("{{ ([0] * 10 ** 6)|length }}", "more than 100000 items"),
    ],
)
def test_an_operation_too_large_is_refused_before_it_runs(source: str, words: str) -> None:
    with pytest.raises(TemplateLimitError, match=words):
        _text(source)


def test_a_template_cannot_change_what_it_is_shown() -> None:
    profile: dict[str, Any] = {"email": "ada@example.com", "properties": {"Tier": "gold"}}
    event: dict[str, Any] = {"Items": [{"ProductName": "Blue mug"}]}
    for source in (
        "{{ profile.update({'email': 'eve@example.com'}) }}",
        "{{ profile.properties.clear() }}",
        "{{ event.Items.append(1) }}",
        "{{ profile.pop('email') }}",
    ):
        with pytest.raises(SecurityError):
            _text(source, {"profile": profile, "event": event})
    assert profile == {"email": "ada@example.com", "properties": {"Tier": "gold"}}
    assert event == {"Items": [{"ProductName": "Blue mug"}]}


def test_the_output_is_capped_across_the_parts() -> None:
    under = "{{ 'x' * 100000 }}"
    parts = [TemplatePart(name, under, html=False) for name in ("html", "text")]
    assert [len(text) for text in render_parts(parts, {}).values()] == [100_000, 100_000]
    parts.append(TemplatePart("subject", under, html=False))
    with pytest.raises(TemplateLimitError, match="subject: the email is longer than 256 KB"):
        render_parts(parts, {})
    with pytest.raises(TemplateLimitError, match="longer than 256 KB"):
        _text("{% for i in range(99999) %}{{ 'x' * 100 }}{% endfor %}")
    assert MAX_OUTPUT_BYTES == 256 * 1024


def test_filler_text_is_not_on_offer() -> None:
    with pytest.raises(TemplateRuntimeError):
        _text("{{ lipsum(10 ** 5) }}")


# -- the renderer's process -------------------------------------------------------------------


@pytest.fixture
def renderer() -> Any:
    started = TemplateRenderer()
    yield started
    started.close()


def _render(renderer: TemplateRenderer, source: str, **context: Any) -> str:
    return renderer.render([TemplatePart("text", source, html=False)], context)["text"]


def test_one_process_renders_one_email_after_another(renderer: TemplateRenderer) -> None:
    assert renderer.process_id is None  # started by the first render, not before
    assert _render(renderer, "Hi {{ name }}", name="Ada") == "Hi Ada"
    first = renderer.process_id
    assert first is not None
    assert first != os.getpid()
    assert _render(renderer, "Hi {{ name }}", name="Bob") == "Hi Bob"
    assert renderer.process_id == first


def test_a_render_past_the_time_limit_is_killed_and_the_process_replaced(
    renderer: TemplateRenderer,
) -> None:
    assert _render(renderer, "warm") == "warm"
    endless = renderer.process_id
    with pytest.raises(TemplateRenderError) as raised:
        _render(renderer, ENDLESS)
    assert raised.value.reason == "template_limit"
    assert f"longer than {TIME_LIMIT:g} s" in raised.value.detail
    assert renderer.process_id is None
    assert endless is not None
    assert _process_gone(endless)
    assert _render(renderer, "{{ 6 * 7 }}") == "42"
    assert renderer.process_id not in (None, endless)


@pytest.mark.parametrize(
    ("source", "reason", "words"),
    [
        ("{{ 'x'|center(10 ** 9) }}", "template_limit", "too much memory"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "template_limit", "nesting"),
        (POWERS, "template_limit", "too large a number"),
        ("{{ profile.update({'email': 'x'}) }}", "template_error", "unsafe"),
        ("{{ 1 / 0 }}", "template_error", "ZeroDivisionError"),
    ],
)
def test_a_failing_template_is_its_own_failure(
    renderer: TemplateRenderer, source: str, reason: str, words: str
) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        _render(renderer, source, profile={"email": "ada@example.com"})
    assert raised.value.reason == reason
    assert words in raised.value.detail
    assert _render(renderer, "still {{ 'here' }}") == "still here"


def _process_gone(pid: int) -> bool:
    """Ended: no such process, or a zombie no one has reaped yet."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


_PARENT = f"""
import os, signal, threading
from shoptrack.flows.renderer import TemplateRenderer
from shoptrack.flows.sandbox import TemplatePart

renderer = TemplateRenderer(time_limit=3600)
renderer.render([TemplatePart("text", "warm", False)], {{}})
print(renderer.process_id, flush=True)
endless = [TemplatePart("text", {ENDLESS!r}, False)]
threading.Thread(target=renderer.render, args=(endless, {{}}), daemon=True).start()
renderer.rendering.wait()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_renderer_ends_with_its_parent_even_in_the_middle_of_a_render() -> None:
    parent = subprocess.run(
        [sys.executable, "-c", _PARENT], capture_output=True, text=True, timeout=60, check=False
    )
    assert parent.returncode == -9, parent.stderr
    child = int(parent.stdout.strip())
    wait_until(lambda: _process_gone(child), timeout=30)


# -- flows ------------------------------------------------------------------------------------


def _email_flow(client: AppClient, shop: Shop, metric: str, name: str, html: str) -> str:
    definition = {
        "entry": "mail",
        "actions": [
            {
                "type": "send-email",
                "id": "mail",
                "subject": "Hello",
                "html": html,
                "text": "Hello",
                "smart_sending": False,
            }
        ],
    }
    response = client.post(
        "/api/flows",
        headers=shop.headers(),
        json={
            "data": {
                "type": "flow",
                "attributes": {
                    "name": name,
                    "definition": definition,
                    "trigger_metric_id": metric,
                    "status": "live",
                },
            }
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _skipped_details(client: AppClient, shop: Shop, email_address: str) -> dict[str, str]:
    profile_id = client.get(
        f'/api/profiles?filter=equals(email,"{email_address}")', headers=shop.headers()
    ).json()["data"][0]["id"]
    activity = client.get(f"/api/profiles/{profile_id}/flow-activity", headers=shop.headers())
    return {
        item["attributes"]["flow_id"]: item["attributes"]["detail"]
        for item in activity.json()["data"]
        if item["attributes"]["kind"] == "skipped"
    }


def test_templates_that_break_a_limit_skip_their_step_and_say_why(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    powers = _email_flow(client, shop, metric, "Powers", POWERS)
    mutating = _email_flow(
        client, shop, metric, "Mutating", "{{ profile.update({'email': 'eve@example.com'}) }}"
    )
    long = _email_flow(
        client, shop, metric, "Long", "{% for i in range(9999) %}{{ 'x' * 99 }}{% endfor %}"
    )
    fine = _email_flow(client, shop, metric, "Fine", "<p>Thanks {{ profile.email }}</p>")
    send_event(client, shop, "Placed Order", "ada@example.com", unique_id="o1", value=10)
    process(services)
    engine = flow_engine(services, smtp)
    try:
        engine.run_until_idle()
    finally:
        engine.close()
    assert [str(m["To"]) for m in smtp.mailbox.messages] == ["ada@example.com"]
    assert statistics(client, shop, fine)["emailed"] == 1
    expected = ((powers, "template_limit"), (mutating, "template_error"), (long, "template_limit"))
    for flow_id, reason in expected:
        stats = statistics(client, shop, flow_id)
        assert stats["skipped"] == {reason: 1}, flow_id
        assert stats["completed"] == 1
    details = _skipped_details(client, shop, "ada@example.com")
    assert "too large a number" in details[powers]
    assert "unsafe" in details[mutating]
    assert "longer than 256 KB" in details[long]


def test_a_template_past_the_time_limit_skips_its_step(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    metric = api_metric(services, shop, "Placed Order")
    endless = _email_flow(client, shop, metric, "Endless", ENDLESS)
    send_event(client, shop, "Placed Order", "bo@example.com", unique_id="o1", value=10)
    process(services)
    engine = flow_engine(services, smtp)
    try:
        report = engine.run_until_idle()
    finally:
        engine.close()
    assert report.skipped == 1
    assert smtp.mailbox.messages == []
    assert statistics(client, shop, endless)["skipped"] == {"template_limit": 1}
    detail = _skipped_details(client, shop, "bo@example.com")[endless]
    assert f"took longer than {TIME_LIMIT:g} s to render" in detail


def test_a_hostile_template_rendering_holds_up_no_other_account(
    services: Services, shop: Shop, client: AppClient, smtp: SmtpServer
) -> None:
    """While one account's template renders, another account's webhook is acknowledged and
    processed: the render holds no transaction (on SQLite, the single writer's lock)."""
    metric = api_metric(services, shop, "Placed Order")
    _email_flow(client, shop, metric, "Endless", ENDLESS)
    send_event(client, shop, "Placed Order", "cy@example.com", unique_id="o1", value=10)
    process(services)
    # A limit far beyond this test, so that the render is surely still under way at its end.
    renderer = TemplateRenderer(time_limit=3600)
    engine = FlowEngine.from_services(services, mailer=SmtpMailer(smtp.url), renderer=renderer)
    walking = threading.Thread(target=engine.run_once)
    walking.start()
    try:
        assert renderer.rendering.wait(timeout=120)
        other = make_shop(services)
        headers, body = woo_webhook(woo_order(7, "processing", START), secret=WEBHOOK_SECRET)
        answer = client.post(
            f"/webhooks/woocommerce/{other.integration.id}", content=body, headers=headers
        )
        assert answer.status_code == 200, answer.text
        process(services)
        assert event_counts(services, other.account_id)["Placed Order"] == 1
        assert renderer.rendering.is_set()  # the template is rendering all this time
    finally:
        engine.close()
        walking.join(timeout=120)
    assert not walking.is_alive()
    with services.database.read() as connection:
        (state,) = connection.execute(select(flow_deliveries.c.state)).scalars()
    assert state == "retry"  # stopped by the shutdown, not by its own doing: tried again
    assert smtp.mailbox.messages == []


@pytest.mark.parametrize(
    ("html", "words"),
    [
        ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nested too deeply"),
        ("{% if 1 %}" * 3000 + "x" + "{% endif %}" * 3000, "nested too deeply"),
        ("{{ " + "9" * 5000 + " }}", "digits"),
    ],
)
def test_a_template_that_cannot_be_read_is_a_400_naming_its_part(
    services: Services, shop: Shop, client: AppClient, html: str, words: str
) -> None:
    flow_id = _email_flow(client, shop, api_metric(services, shop, "Placed Order"), "F", "<p>")
    response = client.request(
        "PATCH",
        f"/api/flows/{flow_id}/flow-messages/mail",
        headers=shop.headers(),
        json={"data": {"type": "flow-message", "attributes": {"html": html}}},
    )
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["code"] == "template_syntax"
    assert error["source"] == {"pointer": "/data/attributes/html"}
    assert words in error["detail"]


def test_text_that_is_no_utf8_fails_as_the_templates_error(renderer: TemplateRenderer) -> None:
    with pytest.raises(TemplateRenderError) as raised:
        _render(renderer, "{{ '\\ud800' }}")
    assert raised.value.reason == "template_error"
    assert "UnicodeEncodeError" in raised.value.detail
