"""Identifiers: time-ordered string ids and the account's API keys."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import string
import time

__all__ = ["hash_key", "lease_owner", "new_id", "new_private_key", "new_public_key"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ALPHANUMERIC = string.ascii_letters + string.digits


# Two Crockford digits for each 10-bit value: a ULID is 13 lookups instead of 26 divisions.
_PAIRS = tuple(a + b for a in _CROCKFORD for b in _CROCKFORD)


def new_id() -> str:
    """A 26-character ULID: 48 bits of milliseconds then 80 random bits, sortable by creation."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return "".join([_PAIRS[(value >> shift) & 0x3FF] for shift in range(120, -1, -10)])


def lease_owner(*, per_instance: bool = False) -> str:
    """The name a lease holder writes in the leases it takes: this machine and process
    (``host:pid``), with ``per_instance`` a random suffix too, so that two holders in one
    process never share a lease; at most 64 characters, as the lease columns hold."""
    owner = f"{socket.gethostname()}:{os.getpid()}"
    if per_instance:
        owner += f":{secrets.token_hex(4)}"
    return owner[:64]


def new_private_key() -> str:
    """A private API key in Klaviyo's form: ``pk_`` and 34 alphanumerics."""
    return "pk_" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(34))


def new_public_key() -> str:
    """A six-character public key (site id), safe to publish in a store's pages."""
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(6))


def hash_key(key: str) -> str:
    """The stored form of a private key; keys are long and random, so one SHA-256 suffices."""
    return hashlib.sha256(key.encode()).hexdigest()
