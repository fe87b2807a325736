"""``shoptrack demo`` and ``shoptrack simulate``: simulated stores — six of them connected to a
demo account and served with shoptrack, or one alone with its real API, keys, webhooks and
faults, for a shoptrack served elsewhere."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer

from shoptrack.cli._common import HostOption, JsonOption, PortOption, console, print_json
from shoptrack.settings import Settings

__all__ = ["demo", "simulate"]


def demo(
    host: HostOption = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port to listen on (8000 unless given); 0 picks a free one.")
    ] = 8000,
) -> None:
    """Serve with a demo account and six simulated stores connected (one per platform), their
    history imported and new orders coming in; prints the URL and keys."""
    from shoptrack.demo import run_demo

    run_demo(Settings(), host=host, port=port, console=console)


def simulate(
    platform: Annotated[
        str,
        typer.Argument(
            help="The store's platform: woocommerce, shopify, bigcommerce, magento2, "
            "prestashop or shift4shop."
        ),
    ],
    host: HostOption = "127.0.0.1",
    port: PortOption = 0,
    orders: Annotated[int, typer.Option(min=0, help="Orders the store starts with.")] = 25,
    as_json: JsonOption = False,
) -> None:
    """Serve a simulated store (its real API, keys, webhooks and faults) until Ctrl-C."""
    from datetime import timedelta

    import uvicorn

    from shoptrack.listener import address, command_socket
    from shoptrack.outbound import OutboundGuard, host_networks
    from shoptrack.simulators.catalog import CATALOG, store_life

    try:
        life = store_life(platform)
    except KeyError:
        names = ", ".join(entry.platform for entry in CATALOG)
        raise typer.BadParameter(
            f"{platform!r}: the simulated platforms are: {names}", param_hint="PLATFORM"
        ) from None
    # Bound before printing, so the port printed is the one served, even when 0 picked it.
    listener = command_socket(host, port, f"simulate {platform}")
    bound_host, bound_port = address(listener)
    base_url = f"http://{bound_host}:{bound_port}"
    # shoptrack reaches private addresses only where allowed: say what the server must allow.
    public = OutboundGuard()
    allowed = ",".join(
        str(network)
        for network in host_networks(host)
        if not public.permits(network.network_address)
    )
    simulator = life.build(base_url, False)
    # A store's usual mix, one order every 37 minutes up to now.
    life.seed(simulator, orders, timedelta(minutes=37))
    document = {
        "platform": life.platform,
        "base_url": base_url,
        "credentials": simulator.credentials(base_url),
        "private_store_networks": allowed or None,
    }
    if as_json:
        print_json(document)
    else:
        console.print(f"simulated {life.label} store on {base_url} with {orders} orders")
        credentials = orjson.dumps(document["credentials"]).decode()
        console.print(f"  credentials  {credentials}", soft_wrap=True, highlight=False)
        console.print(f"  control      {base_url}/_sim/ (orders, faults, webhook deliveries)")
        if allowed:
            console.print(
                f"  allow        SHOPTRACK_PRIVATE_STORE_NETWORKS={allowed} (set it where "
                "shoptrack serves: it reaches private addresses only where allowed)",
                soft_wrap=True,
                highlight=False,
            )
        console.print("Ctrl-C stops it")
    sys.stdout.flush()
    # No `server: uvicorn` header: the simulated store's edge names itself (nginx, cloudflare).
    config = uvicorn.Config(
        simulator.app, log_level="warning", access_log=False, lifespan="off", server_header=False
    )
    uvicorn.Server(config).run(sockets=[listener])
