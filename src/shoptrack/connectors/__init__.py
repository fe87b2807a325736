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
    from shoptrack.connectors.bigcommerce import BigCommerce  # noqa: PLC0415  # avoids an import cycle
    from shoptrack.connectors.magento2 import Magento2  # noqa: PLC0415  # avoids an import cycle
    from shoptrack.connectors.prestashop import PrestaShop  # noqa: PLC0415  # avoids an import cycle
    from shoptrack.connectors.shift4shop import Shift4Shop  # noqa: PLC0415  # avoids an import cycle
    from shoptrack.connectors.shopify import Shopify  # noqa: PLC0415  # avoids an import cycle
    from shoptrack.connectors.woocommerce import WooCommerce  # noqa: PLC0415  # avoids an import cycle

    return {
        connector.platform: connector
        for connector in (
            WooCommerce(),
            BigCommerce(),
            Shift4Shop(),
            Magento2(),
            PrestaShop(),
            Shopify(),
        )
    }


def known_platforms() -> tuple[str, ...]:
    return tuple(sorted(_registry()))


def connector_for(platform: str) -> Connector:
    """The connector of ``platform``; ``KeyError`` for a platform shoptrack does not know."""
    return _registry()[platform]
