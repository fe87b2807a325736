"""What an inbox row carries: the orders a store sent, the orders it names for fetching, or the
events of the API, the onsite tracker or Segment — parsed, before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from shoptrack.connectors import connector_for
from shoptrack.domain.api_events import event_draft, parse_event
from shoptrack.domain.events import EventDraft
from shoptrack.domain.order import Order
from shoptrack.domain.segment import segment_drafts
from shoptrack.store.inbox import InboxRow
from shoptrack.store.integrations import Integration, find_integration

__all__ = ["EVENT_SOURCES", "Work", "error_text", "parse_row"]


@dataclass(frozen=True, slots=True)
class Work:
    """One inbox row, parsed: the orders it carries, the orders it names for fetching, its
    events (API rows, checkouts), or its error."""

    row: InboxRow
    integration: Integration | None
    orders: tuple[Order, ...] = ()
    drafts: tuple[EventDraft, ...] = ()
    fetch_ids: tuple[str, ...] = ()
    error: str | None = None
    nul_characters_removed: int = 0


def _api_event(row: InboxRow) -> list[EventDraft]:
    """A Klaviyo-form event (checked at intake, so this fails only on a changed rule)."""
    event = parse_event(orjson.loads(row.body), now=row.received_at)
    return [event_draft(event, received_at=row.received_at)]


# Rows that carry events rather than orders, by inbox source.
EVENT_SOURCES: dict[str, Callable[[InboxRow], list[EventDraft]]] = {
    "api": _api_event,
    "client": _api_event,
    "segment": lambda row: segment_drafts(row.body, row.received_at),
}


def _without_nul(document: Any) -> tuple[Any, int]:
    """``document`` with the NUL characters of its strings and keys removed, and how many.

    A store's delivery cannot be refused (it was acknowledged, or fetched), yet PostgreSQL
    stores no NUL in text or JSON: removing them, and saying so, records it on both databases
    alike. Walked with a stack, as orjson reads documents deeper than Python's recursion.
    """
    if isinstance(document, str):
        return document.replace("\x00", ""), document.count("\x00")
    removed = 0
    containers: list[Any] = [document]
    while containers:
        container = containers.pop()
        if isinstance(container, list):
            for index, item in enumerate(container):
                if isinstance(item, str) and "\x00" in item:
                    removed += item.count("\x00")
                    container[index] = item.replace("\x00", "")
                elif isinstance(item, list | dict):
                    containers.append(item)
        elif isinstance(container, dict):
            cleaned: dict[str, Any] = {}
            for key, item in container.items():
                removed += key.count("\x00")
                if isinstance(item, str) and "\x00" in item:
                    removed += item.count("\x00")
                    item = item.replace("\x00", "")  # noqa: PLW2901  # the cleaned value
                elif isinstance(item, list | dict):
                    containers.append(item)
                cleaned[key.replace("\x00", "")] = item
            container.clear()
            container.update(cleaned)
    return document, removed


def _store_document(body: bytes) -> tuple[Any, int]:
    """A store's JSON body, without NUL characters, and how many were removed. JSON carries a
    NUL only escaped, so a body without that escape is read as it is."""
    document = orjson.loads(body)
    if b"\\u0000" not in body:
        return document, 0
    return _without_nul(document)


def _store_work(row: InboxRow, integration: Integration) -> Work:
    """What a row a store sent carries: a polled or fetched order, or a webhook's orders, the
    ids of orders it names, and its other events."""
    connector = connector_for(integration.platform)
    payload, removed = _store_document(row.body)
    if row.source != "webhook":
        return Work(
            row, integration, (connector.to_order(payload),), nul_characters_removed=removed
        )
    return Work(
        row,
        integration,
        tuple(connector.orders_from_webhook(row.topic, payload)),
        drafts=tuple(connector.drafts_from_webhook(row.topic, payload)),
        fetch_ids=tuple(connector.order_ids_from_webhook(row.topic, payload)),
        nul_characters_removed=removed,
    )


def parse_row(
    connection: Connection, row: InboxRow, integrations: dict[str, Integration | None]
) -> Work:
    """What ``row`` carries, or why it cannot be processed; ``integrations`` caches the
    integrations read so far (by id)."""
    if row.integration_id is not None and row.integration_id not in integrations:
        integrations[row.integration_id] = find_integration(connection, row.integration_id)
    integration = integrations[row.integration_id] if row.integration_id is not None else None
    if row.source in EVENT_SOURCES:
        # Events sent for an integration (the onsite tracker's) go on its metrics.
        try:
            return Work(row, integration, drafts=tuple(EVENT_SOURCES[row.source](row)))
        except (ValueError, KeyError, TypeError) as error:
            return Work(row, integration, error=error_text(error))
    if row.integration_id is None:
        return Work(row, None, error=f"no handler for {row.source} rows without integration")
    if integration is None:
        return Work(row, None, error=f"integration {row.integration_id} does not exist")
    try:
        return _store_work(row, integration)
    except (ValueError, KeyError, TypeError) as error:
        return Work(row, integration, error=error_text(error))


def error_text(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
