"""The objects a process shares, built once from the settings (nothing happens at import)."""

from __future__ import annotations

from dataclasses import dataclass

from shoptrack.clock import Clock, SystemClock
from shoptrack.outbound import OutboundGuard
from shoptrack.settings import Settings
from shoptrack.store.database import Database
from shoptrack.store.secrets import CredentialCipher

__all__ = ["Services"]


@dataclass(slots=True)
class Services:
    settings: Settings
    database: Database
    clock: Clock
    cipher: CredentialCipher

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Services:
        return cls(
            settings=settings,
            database=Database(settings.resolved_database_url()),
            clock=clock or SystemClock(),
            cipher=CredentialCipher(settings.secret_keys()),
        )

    @property
    def outbound(self) -> OutboundGuard:
        """The guard of every request made for users (``SHOPTRACK_PRIVATE_STORE_NETWORKS``)."""
        return self.settings.outbound_guard()

    def upgrade(self) -> bool:
        """Brings the schema up to date (a no-op when it is)."""
        # Alembic loads only for this: most commands never migrate.
        from shoptrack.store.migrations import upgrade  # noqa: PLC0415  # see above

        return upgrade(self.database, cipher=self.cipher)

    def close(self) -> None:
        self.database.dispose()
