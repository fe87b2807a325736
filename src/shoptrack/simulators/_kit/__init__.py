"""The simulator kit: what every platform's simulator is built from, so that each platform's
modules say only what is its own.

- ``Simulator`` (``store``): the clock, the lock, id sequences (``Ids``) and the fault
  switchboard (``Fault``: a platform's own keys of ``POST /_sim/faults``, beside the edge's);
- ``EdgeFaults`` and ``behind_edge`` (``edge``): the firewall, rate limiter, failing servers and
  slowness of a store's hosting, in front of its API routes;
- ``WebhookSimulator`` and ``Delivery`` (``outbox``): webhook deliveries waiting, sent, logged;
  ``hmac_signature``, the HMAC-SHA256 that signs them;
- ``Control`` (``control``): the ``/_sim/`` control routes;
- ``SimulatedShop`` (``shop``): the protocol every simulator offers;
- ``values``: reading counts, amounts, time zones and times.
"""

from shoptrack.simulators._kit.control import Control, OrderForm, webhook_routes
from shoptrack.simulators._kit.edge import EDGE_FAULTS, EdgeFaults, at_edge, behind_edge
from shoptrack.simulators._kit.outbox import (
    Delivery,
    WebhookDelivery,
    WebhookSettings,
    WebhookSimulator,
    hmac_signature,
    post,
)
from shoptrack.simulators._kit.shop import SimulatedShop
from shoptrack.simulators._kit.store import (
    DELIVERY_FAULTS,
    Clock,
    Fault,
    Ids,
    NewOrder,
    OrderArguments,
    Simulator,
    listed,
    timezone_fault,
)

__all__ = [
    "DELIVERY_FAULTS",
    "EDGE_FAULTS",
    "Clock",
    "Control",
    "Delivery",
    "EdgeFaults",
    "Fault",
    "Ids",
    "NewOrder",
    "OrderArguments",
    "OrderForm",
    "SimulatedShop",
    "Simulator",
    "WebhookDelivery",
    "WebhookSettings",
    "WebhookSimulator",
    "at_edge",
    "behind_edge",
    "hmac_signature",
    "listed",
    "post",
    "timezone_fault",
    "webhook_routes",
]
