"""Connectors: one module per platform, each a declarative subclass of ``Connector``."""

from __future__ import annotations

import functools

from shoptrack.connectors.base import (
    Connector,
    WebhookCheck,
    WebhookVerdict,
)

__all__ = ["Connector", "WebhookCheck", "WebhookVerdict", "connector_for", "known_platforms"]


@functools.cache
def _registry() -> dict[str, Connector]:
    from shoptrack.connectors.woocommerce import WooCommerce  # noqa: PLC0415  # avoids an import cycle

    return {connector.platform: connector for connector in (WooCommerce(),)}


def known_platforms() -> tuple[str, ...]:
    return tuple(sorted(_registry()))


def connector_for(platform: str) -> Connector:
    """The connector of ``platform``; ``KeyError`` for a platform shoptrack does not know."""
    return _registry()[platform]
