"""Flow emails: Jinja2 templates (merchants edit them through the API) rendered in the sandbox
of ``flows.sandbox`` by the renderer's process (``flows.renderer``) into a MIME message with a
text and an HTML part, an unsubscribe link and ``List-Unsubscribe``."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from html import escape
from typing import Any

from jinja2 import TemplateSyntaxError

from shoptrack.errors import InputError
from shoptrack.flows.model import SendEmail
from shoptrack.flows.renderer import TemplateRenderer
from shoptrack.flows.sandbox import TemplatePart, environment

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


class _UnfoldedHeader(UnstructuredHeader, BaseHeader):
    """A header written on one line as it is given, whatever policy flattens the message (the
    SMTP client flattens with its own). Folded, a ``List-Unsubscribe`` URL longer than a line
    becomes an RFC 2047 encoded word that mail providers do not read as a link, and one-click
    unsubscribe stops working; SMTP allows lines of 998 characters."""

    def fold(self, *, policy: Policy) -> str:
        return f"{self.name}: {self}{policy.linesep}"


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _UnfoldedHeader)
_POLICY = SMTP.clone(header_factory=_HEADERS)

# Each part of a message, and whether it is HTML (escaped) or text.
_PARTS = (("subject", False), ("preview_text", False), ("html", True), ("text", False))


def check_templates(message: SendEmail, pointer: str) -> None:
    """Compiles each template of a message; a 400 naming the part and line of the first that
    does not compile (``pointer`` is where the message's attributes are)."""
    for part, html in _PARTS:
        try:
            environment(autoescape=html).parse(getattr(message, part))
        except TemplateSyntaxError as error:
            raise EmailTemplateError(
                f"{part}, line {error.lineno}: {error.message}", pointer=f"{pointer}/{part}"
            ) from error
        except RecursionError as error:
            raise EmailTemplateError(
                f"{part}: the template is nested too deeply", pointer=f"{pointer}/{part}"
            ) from error
        except ValueError as error:  # a number literal of more digits than Python reads
            raise EmailTemplateError(f"{part}: {error}", pointer=f"{pointer}/{part}") from error


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    preview_text: str
    html: str
    text: str


def render_email(
    message: SendEmail, context: Mapping[str, Any], renderer: TemplateRenderer
) -> RenderedEmail:
    """The message's parts filled in by ``renderer``; an unsubscribe footer is added to a part
    that has no ``unsubscribe_url`` of its own. Raises ``TemplateRenderError`` for a template
    that fails or breaks a limit."""
    parts = [TemplatePart(part, getattr(message, part), html) for part, html in _PARTS]
    rendered = renderer.render(parts, context)
    url = str(context["unsubscribe_url"])
    html, text = rendered["html"], rendered["text"]
    if "unsubscribe_url" not in message.html:
        link = f'<a href="{escape(url)}">Unsubscribe</a>'
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
    message = EmailMessage(policy=_POLICY)
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
        preview = (
            '<div style="display:none;max-height:0;overflow:hidden">'
            f"{escape(rendered.preview_text)}</div>\n"
        )
        html = preview + html
    message.add_alternative(html, subtype="html")
    return message


def message_id_for(delivery_id: str, sender: str) -> str:
    """``<delivery id@the sender's domain>``: unique, and the same on every attempt."""
    address = email.utils.parseaddr(sender)[1]
    domain = address.rpartition("@")[2] or "shoptrack.invalid"
    return f"<{delivery_id.lower()}@{domain}>"
