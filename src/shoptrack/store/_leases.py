"""Leases: work a process holds for a while, recorded on the work's row as who holds it and
until when.

A lease, not a row lock, guards work done outside a transaction (a sync, a fetch from a store,
a message being sent, the watchdog's run): its holder renews it while it works and releases it
when done; a holder that dies lets it run out, and another process takes the work over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Table, literal_column, or_, update

__all__ = ["Lease"]


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease columns of one table: the holder's name and when its lease runs out."""

    owner: Column[Any]
    expires_at: Column[Any]

    @property
    def table(self) -> Table:
        return self.owner.table

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Rows no process holds at ``now``: never leased, released, or run out."""
        return or_(self.owner.is_(None), self.expires_at < now)

    def held_by(self, owner: str) -> ColumnElement[bool]:
        return self.owner == owner

    def taken(self, owner: str, now: datetime, duration: timedelta) -> dict[str, Any]:
        """The values of a row leased to ``owner`` for ``duration`` from ``now``."""
        return {self.owner.name: owner, self.expires_at.name: now + duration}

    def released(self) -> dict[str, Any]:
        """The values of a row no process holds: any may take it (once it is due)."""
        return {self.owner.name: None, self.expires_at.name: None}

    def take(
        self,
        connection: Connection,
        where: ColumnElement[bool],
        owner: str,
        now: datetime,
        duration: timedelta,
        **values: Any,
    ) -> bool:
        """Takes, or renews, the lease of the row ``where`` for ``owner`` (with ``values``);
        False while another process holds it. One UPDATE decides, so two processes never both
        hold it."""
        return self.update(
            connection,
            where,
            or_(self.owner.is_(None), self.owner == owner, self.expires_at < now),
            **self.taken(owner, now, duration),
            **values,
        )

    def renew(
        self, connection: Connection, where: ColumnElement[bool], owner: str, until: datetime
    ) -> bool:
        """Extends the lease ``owner`` holds on the row ``where`` to ``until``; False when it
        lost it."""
        return self.update(connection, where, self.held_by(owner), **{self.expires_at.name: until})

    def update(self, connection: Connection, *where: ColumnElement[bool], **values: Any) -> bool:
        """Sets ``values`` on the rows ``where``; whether there was one (a lease's holder
        learns so whether it still holds it)."""
        statement = update(self.table).where(*where).values(**values)
        return connection.execute(statement.returning(literal_column("1"))).first() is not None
