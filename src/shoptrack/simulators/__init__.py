"""Store simulators: each platform's real API (auth, paging, statuses, error bodies, signed
webhooks) served by a Starlette app, with the misbehaviour real stores show switched on by tests.

Used by the test suite, ``shoptrack simulate`` and ``shoptrack demo`` and the benchmarks; never
mounted by ``shoptrack serve``. One module per platform: ``shoptrack.simulators.woocommerce``,
each built from the kit (``_kit``) and offering the one protocol ``SimulatedShop``.
"""

from shoptrack.simulators._kit import SimulatedShop
from shoptrack.simulators.bigcommerce import BigCommerceSimulator
from shoptrack.simulators.magento2 import Magento2Simulator
from shoptrack.simulators.prestashop import PrestaShopSimulator
from shoptrack.simulators.shift4shop import Shift4ShopSimulator
from shoptrack.simulators.shopify import ShopifySimulator
from shoptrack.simulators.woocommerce import WooCommerceSimulator

__all__ = [
    "BigCommerceSimulator",
    "Magento2Simulator",
    "PrestaShopSimulator",
    "Shift4ShopSimulator",
    "ShopifySimulator",
    "SimulatedShop",
    "WooCommerceSimulator",
]
