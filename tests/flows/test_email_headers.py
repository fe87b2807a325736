"""A flow email's headers as mail providers read them, after a real SMTP round trip."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import pytest

from shoptrack.flows.delivery import SmtpMailer
from shoptrack.flows.email import RenderedEmail, build_message
from tests.flow_support import SmtpServer, smtp

__all__ = ["smtp"]  # the fixture, imported so pytest finds it here


@pytest.mark.parametrize("length", [40, 78, 200, 900])
def test_list_unsubscribe_is_a_plain_link_at_any_length(smtp: SmtpServer, length: int) -> None:
    # Folded by the SMTP policy, a URL longer than a line used to become an RFC 2047 encoded
    # word (=?utf-8?q?=3Chttp…?=) that no mail provider reads as a link.
    url = "https://shop.example.com/unsubscribe/"
    url += "x" * (length - len(url)) if length > len(url) else ""
    message = build_message(
        RenderedEmail(subject="Thank you", preview_text="", html="<p>Hi</p>", text="Hi"),
        sender="Shop <shop@example.com>",
        recipient="ada@example.com",
        message_id="<01jfw@example.com>",
        unsubscribe_url=url,
        date=datetime(2026, 12, 6, tzinfo=UTC),
    )
    SmtpMailer(smtp.url).send(message, "01JFW")
    (received,) = smtp.mailbox.messages
    assert received["List-Unsubscribe"] == f"<{url}>"
    # Unfolded but not decoded: the header as a mail provider's parser meets it.
    (raw,) = smtp.mailbox.raw
    wire = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert "".join(str(wire["List-Unsubscribe"]).split()) == f"<{url}>"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received["Subject"] == "Thank you"
