"""Platform names and each platform's order statuses for the status-rule editor.

The names are the connectors' (``Connector.display_name``), as are the statuses and the names
their admins show (``Connector.status_labels``,
from which the doctor's ``known_statuses`` derive): one catalogue. The editor also offers every
status seen on the integration's orders, so custom statuses appear as soon as one order has them.
"""

from __future__ import annotations

from collections.abc import Iterable

from shoptrack.connectors import connector_for, known_platforms

__all__ = ["platform_name", "status_rows"]

# Sources of events that no connector reads: those sent through the API by custom shops.
_OTHER_SOURCES = {"api": "API"}


def platform_name(platform: str) -> str:
    """How the web UI names ``platform`` (a value it does not know, as it is)."""
    if platform in known_platforms():
        return connector_for(platform).display_name
    return _OTHER_SOURCES.get(platform, platform)


def status_rows(
    platform: str, seen: Iterable[str], named: Iterable[str]
) -> list[tuple[str, str, bool]]:
    """Every status the editor offers as ``(raw value, name, custom)``: the platform's own in
    their admin's order, then custom ones (seen on orders or named by a rule) by value."""
    catalogue = connector_for(platform).status_labels if platform in known_platforms() else {}
    rows = [(raw, name, False) for raw, name in catalogue.items()]
    custom = sorted({*seen, *named} - set(catalogue))
    return rows + [(raw, raw, True) for raw in custom]
