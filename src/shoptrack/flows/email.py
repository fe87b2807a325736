"""Flow emails: Jinja2 templates rendered in a sandbox (merchants edit them through the API) into
a MIME message with a text and an HTML part, an unsubscribe link and ``List-Unsubscribe``."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from jinja2 import ChainableUndefined, TemplateSyntaxError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from shoptrack.errors import InputError
from shoptrack.flows.model import SendEmail

__all__ = [
    "EmailTemplateError",
    "RenderedEmail",
    "build_message",
    "check_templates",
    "render_email",
]


class EmailTemplateError(InputError):
    """An email template does not compile; the detail names the line."""

    code = "template_syntax"
    title = "The email template has a syntax error."


def money(value: Any, currency: Any = None) -> str:
    """An amount to two places, followed by its currency when known: ``29.98 EUR``."""
    if value is None or isinstance(value, Undefined):
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return (
        f"{amount} {currency}" if currency and not isinstance(currency, Undefined) else str(amount)
    )


def _environment(*, autoescape: bool) -> SandboxedEnvironment:
    # The sandbox keeps a template from reaching Python internals; missing values render empty
    # (ChainableUndefined: ``event.Items.0.Name`` of an event without items is "").
    environment = SandboxedEnvironment(
        autoescape=autoescape, undefined=ChainableUndefined, keep_trailing_newline=True
    )
    environment.filters["money"] = money
    return environment


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)
_PARTS = (("subject", _TEXT), ("preview_text", _TEXT), ("html", _HTML), ("text", _TEXT))


def check_templates(message: SendEmail, pointer: str) -> None:
    """Compiles each template of a message; a 400 naming the part and line of the first that
    does not compile (``pointer`` is where the message's attributes are)."""
    for part, environment in _PARTS:
        try:
            environment.parse(getattr(message, part))
        except TemplateSyntaxError as error:
            raise EmailTemplateError(
                f"{part}, line {error.lineno}: {error.message}", pointer=f"{pointer}/{part}"
            ) from error


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    preview_text: str
    html: str
    text: str


def render_email(message: SendEmail, context: Mapping[str, Any]) -> RenderedEmail:
    """The message's parts filled in; an unsubscribe footer is added to a part that has no
    ``unsubscribe_url`` of its own. Raises Jinja2's errors for a template that fails."""
    rendered = {
        part: environment.from_string(getattr(message, part)).render(context)
        for part, environment in _PARTS
    }
    url = str(context["unsubscribe_url"])
    html, text = rendered["html"], rendered["text"]
    if "unsubscribe_url" not in message.html:
        link = _HTML.from_string('<a href="{{ url }}">Unsubscribe</a>').render(url=url)
        html += f'\n<p style="font-size:12px;color:#666">{link}</p>\n'
    if "unsubscribe_url" not in message.text:
        text += f"\n--\nUnsubscribe: {url}\n"
    return RenderedEmail(
        subject=" ".join(rendered["subject"].split()),
        preview_text=" ".join(rendered["preview_text"].split()),
        html=html,
        text=text,
    )


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    recipient: str,
    message_id: str,
    unsubscribe_url: str,
    date: datetime,
) -> EmailMessage:
    """The MIME message: multipart/alternative (text, then HTML), one-click unsubscribe
    (RFC 8058) and a Message-ID that stays the same if the message is ever sent again."""
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = email.utils.format_datetime(date)
    message["Message-ID"] = message_id
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    html = rendered.html
    if rendered.preview_text:
        preview = _HTML.from_string(
            '<div style="display:none;max-height:0;overflow:hidden">{{ text }}</div>\n'
        ).render(text=rendered.preview_text)
        html = preview + html
    message.add_alternative(html, subtype="html")
    return message


def message_id_for(delivery_id: str, sender: str) -> str:
    """``<delivery id@the sender's domain>``: unique, and the same on every attempt."""
    address = email.utils.parseaddr(sender)[1]
    domain = address.rpartition("@")[2] or "shoptrack.invalid"
    return f"<{delivery_id.lower()}@{domain}>"
