"""Webhook secrets that differ from a stored one only by white space.

A merchant who pastes a secret with a trailing space or line break gets deliveries that verify
with no secret shoptrack holds, yet were signed by the store. Intake keeps such deliveries whole
(a forgery keeps only its first bytes), and the doctor finds the secret that verifies them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from shoptrack.connectors.base import Connector, WebhookVerdict

__all__ = ["SECRET_VARIANTS", "verifying_variant"]

# White space a secret may have gained or lost between the store and shoptrack, described for
# the merchant (the secret itself is never shown).
SECRET_VARIANTS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("white space around it removed", str.strip),
    ("a trailing space added", lambda s: s + " "),
    ("a leading space added", lambda s: " " + s),
    ("spaces added around it", lambda s: f" {s} "),
    ("a trailing line break added", lambda s: s + "\n"),
    ("a trailing CR LF added", lambda s: s + "\r\n"),
    ("a trailing tab added", lambda s: s + "\t"),
)


def verifying_variant(
    connector: Connector,
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime | None = None,
) -> tuple[str, str] | None:
    """The white-space variant of one of ``secrets`` that verifies the delivery, with how it
    differs from the stored secret; None when none does."""
    for secret in secrets:
        for description, change in SECRET_VARIANTS:
            candidate = change(secret)
            if candidate == secret or not candidate:
                continue
            check = connector.check_webhook([candidate], headers, body, now=now)
            if check.verdict is WebhookVerdict.ACCEPTED:
                return candidate, description
    return None
