"""The one guard of every request shoptrack makes on a user's behalf: store APIs, order fetches,
test orders, the doctor's live checks, flow and alert webhooks.

An address a user types could point shoptrack at the machine it runs on, the private network
behind it or a cloud's metadata service (server-side request forgery). So a host is resolved
first, and only addresses that are public on the internet — or inside a network the operator
allows with ``SHOPTRACK_PRIVATE_STORE_NETWORKS``, for stores on a private network — may be
reached. The request then goes to the very address that was checked, not to a second lookup of
the name (which a hostile DNS server could answer differently: "DNS rebinding"); TLS still checks
the certificate against the name. Redirects pass through the same transport, so every hop is
checked alike.

Addresses are checked twice: when a URL is saved (a 422 ``address_not_allowed`` naming the
field), and again at every request (settings change, and names resolve differently over time).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import httpx

from shoptrack.errors import InputError

__all__ = [
    "AddressNotAllowedError",
    "IPAddress",
    "IPNetwork",
    "OutboundGuard",
    "host_networks",
    "parse_networks",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# IPv6 prefixes that carry an IPv4 address inside: NAT64 (RFC 6052) maps the last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class AddressNotAllowedError(InputError):
    """The address is loopback, private, link-local, multicast or reserved, and not allowed."""

    code = "address_not_allowed"
    status = 422
    title = "The address is not allowed."


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDRs (``10.0.0.0/8, fd00::/8``; a bare address is one host);
    ``ValueError`` naming the entry that is none."""
    networks: list[IPNetwork] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not a network such as 10.0.0.0/8") from error
    return tuple(networks)


def host_networks(host: str) -> tuple[IPNetwork, ...]:
    """The networks of exactly the addresses ``host`` stands for (``127.0.0.1/32``): what
    ``SHOPTRACK_PRIVATE_STORE_NETWORKS`` must allow for a simulator or store served there."""
    addresses = OutboundGuard().addresses(host, 0)
    return tuple(ipaddress.ip_network(address) for address in addresses)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _is_public(address: IPAddress) -> bool:
    # `is_global` leaves out loopback, private, link-local, shared (100.64/10), documentation,
    # reserved and unspecified addresses; multicast is global by that test, so it is asked apart.
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            return _is_public(inner)
    return True


@dataclass(frozen=True, slots=True)
class OutboundGuard:
    """Which addresses shoptrack may reach for its users: public ones, and ``allowed``."""

    allowed: tuple[IPNetwork, ...] = ()

    def permits(self, address: IPAddress) -> bool:
        if any(
            address.version == network.version and address in network for network in self.allowed
        ):
            return True
        return _is_public(address)

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` stands for (itself, when it is an address); ``OSError`` when
        the name does not resolve."""
        literal = host.strip("[]")
        try:
            return [ipaddress.ip_address(literal)]
        except ValueError:
            pass
        try:
            found = socket.getaddrinfo(literal, port, type=socket.SOCK_STREAM)
        except UnicodeError as error:  # a label IDNA cannot encode ("a..b", 64 characters)
            raise socket.gaierror(f"{literal!r} is no host name: {error}") from error
        unique: dict[IPAddress, None] = {}
        for _family, _type, _proto, _name, sockaddr in found:
            # An IPv6 sockaddr may carry a scope ("fe80::1%eth0"): the address is before the %.
            unique[ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
        return list(unique)

    def choose(self, host: str, port: int, *, field: str | None = None) -> IPAddress:
        """The first permitted address of ``host``; ``AddressNotAllowedError`` (naming
        ``field``) when there is none, ``OSError`` when the name does not resolve."""
        found = self.addresses(host, port)
        for address in found:
            if self.permits(address):
                return address
        raise self._refusal(host, found[0] if found else None, field)

    def check_url(self, url: str, *, field: str) -> None:
        """Refuses a URL whose host is not allowed, naming ``field``, as a URL is saved. A name
        that does not resolve now passes: the request will say the store cannot be reached."""
        try:
            parsed = httpx.URL(url)
            host = parsed.host  # decoded on first use: a bad IDNA label fails here
        except (httpx.InvalidURL, UnicodeError) as error:
            raise InputError(f"{field}: {error}", pointer=_pointer(field)) from error
        if not host:
            return
        port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 443)
        try:
            self.choose(host, port, field=field)
        except OSError:
            return

    def transport(self, **options: Any) -> httpx.BaseTransport:
        """An httpx transport that sends each request to a checked address of its host
        (``options`` go to ``httpx.HTTPTransport``; proxies from the environment are not used:
        a proxy would make the lookup the guard checked)."""
        return _GuardedTransport(self, httpx.HTTPTransport(trust_env=False, **options))

    def _refusal(
        self, host: str, address: IPAddress | None, field: str | None
    ) -> AddressNotAllowedError:
        where = (
            f"{host}"
            if address is None or str(address) == host.strip("[]")
            else (f"{host} ({address})")
        )
        prefix = f"{field}: " if field else ""
        return AddressNotAllowedError(
            f"{prefix}{where} is a loopback, private, link-local or reserved address, which "
            "shoptrack does not reach for its users; use the store's public address, or allow "
            "its network with SHOPTRACK_PRIVATE_STORE_NETWORKS (e.g. 10.0.0.0/8)",
            pointer=_pointer(field) if field else None,
            meta={"host": host, "address": str(address) if address else None},
        )


def _pointer(field: str) -> str:
    return "/data/attributes/" + field.replace(".", "/")


class _GuardedTransport(httpx.BaseTransport):
    """Resolves and checks each request's host, then sends the request to that address."""

    def __init__(self, guard: OutboundGuard, inner: httpx.BaseTransport) -> None:
        self._guard = guard
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 443)
        try:
            address = self._guard.choose(url.host, port)
        except OSError as error:
            raise httpx.ConnectError(
                f"{url.host} does not resolve ({error})", request=request
            ) from error
        if str(address) != url.host.strip("[]"):
            # The Host header keeps the name (httpx set it when the request was built); TLS
            # sends the name as SNI and verifies the certificate against it.
            request.url = url.copy_with(host=str(address))
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": url.host}
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
