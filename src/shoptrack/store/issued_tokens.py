"""The access token shoptrack obtained for an integration (a Shopify Dev Dashboard app's client
credentials grant), kept encrypted beside the credentials the merchant entered: one token per
integration, shared by every process and sync until it is renewed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from shoptrack.clock import Clock
from shoptrack.connectors.tokens import IssuedToken
from shoptrack.store.database import Database
from shoptrack.store.schema import integrations
from shoptrack.store.secrets import CredentialCipher

__all__ = ["StoredTokens", "clear_issued_token", "save_issued_token"]


def save_issued_token(
    connection: Connection, cipher: CredentialCipher, integration_id: str, token: IssuedToken
) -> None:
    """Keeps ``token`` (encrypted) as the integration's, in place of the one before."""
    connection.execute(
        integrations.update()
        .where(integrations.c.id == integration_id)
        .values(issued_token=cipher.encrypt(token.document()))
    )


def clear_issued_token(connection: Connection, integration_id: str) -> None:
    """Forgets the integration's token (its credentials changed)."""
    connection.execute(
        integrations.update().where(integrations.c.id == integration_id).values(issued_token=None)
    )


class StoredTokens:
    """The ``TokenKeeper`` of one integration: read from the database once, written back
    whenever a new token is issued."""

    def __init__(
        self, database: Database, cipher: CredentialCipher, clock: Clock, integration_id: str
    ) -> None:
        self._database = database
        self._cipher = cipher
        self._clock = clock
        self._integration_id = integration_id
        self._token: IssuedToken | None = None
        self._loaded = False

    def now(self) -> datetime:
        return self._clock.now()

    def load(self) -> IssuedToken | None:
        if not self._loaded:
            with self._database.read() as connection:
                sealed = connection.execute(
                    select(integrations.c.issued_token).where(
                        integrations.c.id == self._integration_id
                    )
                ).scalar()
            self._token = (
                IssuedToken.from_document(self._cipher.decrypt(sealed)) if sealed else None
            )
            self._loaded = True
        return self._token

    def save(self, token: IssuedToken) -> None:
        with self._database.write() as connection:
            save_issued_token(connection, self._cipher, self._integration_id, token)
        self._token, self._loaded = token, True
