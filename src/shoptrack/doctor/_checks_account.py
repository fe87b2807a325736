"""Checks of the account as a whole: whether an integration is there at all, and whether the
onsite tracker on the stores is as new as the server."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson

import shoptrack
from shoptrack.doctor._findings import Finding, Fix, Severity
from shoptrack.domain.events import Metric
from shoptrack.services import Services
from shoptrack.store.diagnostics import client_event_bodies, event_counts
from shoptrack.store.integrations import Integration

__all__ = [
    "TRACKER_VERSION_PROPERTY",
    "check_account_integrations",
    "check_plugin_outdated",
    "missing_integration",
]

# The event property the onsite tracker reports its version in, on every /client/events event.
TRACKER_VERSION_PROPERTY = "$tracker_version"
_TRACKER_DAYS = 30
_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?")


def _version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.match(text)
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def missing_integration(
    integration_id: str, found: Integration | None, enabled: list[Integration]
) -> Finding:
    """The finding of an integration id that is not (or no longer) connected."""
    removed = found.removed_at if found is not None else None
    what = f"was removed on {removed.isoformat()}" if removed else "does not exist in the account"
    return Finding(
        "integration_missing",
        Severity.ERROR,
        f"Integration {integration_id} {what}: nothing of its store is recorded.",
        {
            "integration_id": integration_id,
            "removed_at": removed.isoformat() if removed else None,
            "enabled_integrations": [i.id for i in enabled],
        },
        Fix(
            "Connect the store (again).",
            "shoptrack integrations add PLATFORM --name NAME -c KEY=VALUE …",
        ),
        integration_id=integration_id,
    )


def check_account_integrations(
    services: Services, account_id: str, integrations: list[Integration], now: datetime
) -> Finding:
    """integration_missing for the account: no enabled integration, while no custom shop sends
    Placed Order through the API either."""
    enabled = [i for i in integrations if i.enabled]
    evidence: dict[str, Any] = {
        "integrations": len(integrations),
        "enabled_integrations": [i.id for i in enabled],
    }
    if enabled:
        return Finding(
            "integration_missing",
            Severity.OK,
            f"{len(enabled)} enabled integration{'s' if len(enabled) > 1 else ''}.",
            evidence,
        )
    with services.database.read() as connection:
        api_placed = event_counts(
            connection,
            account_id,
            [Metric.PLACED_ORDER],
            now - timedelta(days=30),
            integration_id=None,
        )[Metric.PLACED_ORDER]
    evidence["api_placed_orders_30_days"] = api_placed
    if api_placed:
        return Finding(
            "integration_missing",
            Severity.OK,
            "No store is connected; Placed Order arrives through the API (a custom shop).",
            evidence,
        )
    return Finding(
        "integration_missing",
        Severity.ERROR,
        "No enabled integration: no store's orders are recorded"
        + (" (the account's integrations are all disabled)." if integrations else "."),
        evidence,
        Fix(
            "Connect a store, or enable a disabled integration.",
            "shoptrack integrations add PLATFORM --name NAME -c KEY=VALUE …",
        ),
    )


def check_plugin_outdated(services: Services, account_id: str, now: datetime) -> Finding:
    """The onsite tracker's version, as its events to /client/events report it in
    ``$tracker_version``, against the server's."""
    code = "plugin_outdated"
    server = shoptrack.__version__
    with services.database.read() as connection:
        bodies = client_event_bodies(connection, account_id, now - timedelta(days=_TRACKER_DAYS))
    reported: Counter[str] = Counter()
    newest: tuple[datetime, str] | None = None
    for received, body in bodies:
        try:
            document = orjson.loads(body)
            value = document["data"]["attributes"]["properties"][TRACKER_VERSION_PROPERTY]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue
        version = str(value)
        reported[version] += 1
        if newest is None:
            newest = (received, version)  # bodies come newest first
    evidence: dict[str, Any] = {
        "property": TRACKER_VERSION_PROPERTY,
        "server_version": server,
        "days": _TRACKER_DAYS,
        "reported": dict(reported.most_common()),
    }
    if newest is None:
        return Finding(
            code,
            Severity.OK,
            f"No onsite tracker reported its version ({TRACKER_VERSION_PROPERTY}) in "
            f"{_TRACKER_DAYS} days.",
            evidence,
        )
    evidence["newest"] = {"version": newest[1], "received": newest[0].isoformat()}
    server_version, tracker_version = _version(server), _version(newest[1])
    if server_version is None or tracker_version is None or tracker_version >= server_version:
        return Finding(
            code, Severity.OK, f"The onsite tracker is at version {newest[1]}.", evidence
        )
    return Finding(
        code,
        Severity.WARNING,
        f"The onsite tracker on the store reports version {newest[1]}, older than the "
        f"server's {server}.",
        evidence,
        Fix(f"Update shoptrack's onsite tracker on the store to version {server}."),
    )
