"""Access tokens a connector obtains for itself (a Shopify Dev Dashboard app's client
credentials grant), and where they are kept between requests.

A ``TokenKeeper`` holds the token of one integration and tells the time its expiry is compared
with: ``MemoryTokens`` for one client's life (checking credentials before anything is stored),
``store.issued_tokens.StoredTokens`` for an integration (encrypted in the database, so every
process and every sync shares one token until it is renewed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shoptrack.clock import Clock, SystemClock

__all__ = ["IssuedToken", "MemoryTokens", "TokenKeeper"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token a store issued, with when it stops working (None: never said)."""

    # Never in a repr: tokens reach no log, exception or API answer.
    value: str = field(repr=False)
    expires_at: datetime | None = None
    scope: str = ""

    def due(self, now: datetime, margin: timedelta) -> bool:
        """Whether the token should be renewed now: it expires within ``margin``."""
        return self.expires_at is not None and now >= self.expires_at - margin

    def document(self) -> dict[str, Any]:
        """The token as stored (encrypted) by ``StoredTokens``."""
        return {
            "value": self.value,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "scope": self.scope,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> IssuedToken:
        expires = document.get("expires_at")
        return cls(
            value=str(document["value"]),
            expires_at=datetime.fromisoformat(expires) if expires else None,
            scope=str(document.get("scope") or ""),
        )


class TokenKeeper(Protocol):
    """Keeps the issued token of one integration."""

    def now(self) -> datetime:
        """The time expiries are compared with."""
        ...

    def load(self) -> IssuedToken | None:
        """The token kept, or None when none was issued yet."""
        ...

    def save(self, token: IssuedToken) -> None:
        """Keeps a newly issued token in place of the old one."""
        ...


class MemoryTokens:
    """A token kept in memory only: for credentials that belong to no integration yet."""

    def __init__(self, clock: Clock | None = None, token: IssuedToken | None = None) -> None:
        self._clock = clock or SystemClock()
        self._token = token

    def now(self) -> datetime:
        return self._clock.now()

    def load(self) -> IssuedToken | None:
        return self._token

    def save(self, token: IssuedToken) -> None:
        self._token = token
