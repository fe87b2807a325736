"""The one protocol every platform's simulator offers: a simulated shop, as the shop's admin and
checkout drive it from Python (tests, ``shoptrack demo``, ``shoptrack simulate``, benchmarks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, Unpack

from starlette.types import ASGIApp

from shoptrack.simulators._kit.store import Clock, OrderArguments

__all__ = ["SimulatedShop"]


class SimulatedShop(Protocol):
    """A platform's simulated store: its API served by ``app``, its orders changed from Python.

    Statuses are the platform's raw ones, as its API writes them (BigCommerce's status ids are
    integers, every other platform's are strings). Faults use the vocabulary every simulator
    shares: ``{"rate_limit": {"burst": N, "retry_after": S}}``, ``{"server_error": N}``,
    ``{"slow_ms": M}``, ``{"firewall_user_agent": "shoptrack"}``, ``{"custom_statuses": [...]}``,
    ``{"site_timezone": "America/New_York"}``, and the platform's own.
    """

    clock: Clock

    @property
    def app(self) -> ASGIApp:
        """The store's API and its ``/_sim/`` control routes, as an ASGI app."""
        ...

    def credentials(self, base_url: str) -> dict[str, str]:
        """What a merchant enters in shoptrack for this store, served at ``base_url``."""
        ...

    def add_orders(self, count: int = 1, **given: Unpack[OrderArguments]) -> list[int]:
        """Creates ``count`` orders as checkouts would (``statuses`` cycle), the first placed at
        ``created`` (by default the store's clock, less the intervals) and last changed at
        ``modified`` (by default when placed), each next one ``interval`` later, for ``email``
        (by default the store's demo buyers), of ``lines`` lines adding up to ``total`` (by
        default the catalogue's); returns their ids in that order. Webhooks they cause wait for
        ``deliver_pending``."""
        ...

    def set_status(self, order_id: int, status: Any) -> None:
        """Changes an order's status as the shop admin would, at the store's clock."""
        ...

    def statuses(self) -> Mapping[int, Any]:
        """Every order's id and current status."""
        ...

    def order(self, order_id: int) -> dict[str, Any]:
        """The order as the platform's API writes it."""
        ...

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        """Switches misbehaviour on (keys as for ``POST /_sim/faults``); ``ValueError`` if bad."""
        ...

    def clear_faults(self) -> None:
        """Back to a well-behaved store, with the settings it was built with."""
        ...

    def faults(self) -> dict[str, Any]:
        """The faults in force, as ``GET /_sim/faults`` shows them."""
        ...

    async def deliver_pending(self) -> Sequence[Any]:
        """Sends the webhook deliveries waiting (none where the platform sends no webhooks);
        returns them in the order they were sent."""
        ...
