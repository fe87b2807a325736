"""Store simulators: each platform's real API (auth, paging, statuses, error bodies, signed
webhooks) served by a Starlette app, with the misbehaviour real stores show switched on by tests.

Used by the test suite, ``shoptrack simulate`` and ``shoptrack demo`` and the benchmarks; never
mounted by ``shoptrack serve``. One module per platform: ``shoptrack.simulators.woocommerce``.
"""

from shoptrack.simulators.woocommerce import WooCommerceSimulator

__all__ = ["WooCommerceSimulator"]
