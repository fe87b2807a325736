"""Accounts and their API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from shoptrack.errors import AuthenticationError, InputError, NotFoundError
from shoptrack.ids import hash_key, new_id, new_private_key, new_public_key
from shoptrack.store.schema import accounts, api_keys

__all__ = [
    "Account",
    "CreatedKey",
    "account_by_public_key",
    "authenticate",
    "create_account",
    "create_key",
    "get_account",
    "list_accounts",
    "revoke_key",
]


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    public_key: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new private key: ``key`` is shown this once and stored only as a hash."""

    id: str
    account_id: str
    key: str
    hint: str
    label: str


def create_account(connection: Connection, name: str, now: datetime) -> tuple[Account, CreatedKey]:
    """A new account with its public key and a first private key."""
    name = name.strip()
    if not name:
        raise InputError("the account name is empty: give the account a name", parameter="name")
    account = Account(new_id(), name, new_public_key(), now)
    connection.execute(
        accounts.insert().values(
            id=account.id, name=account.name, public_key=account.public_key, created_at=now
        )
    )
    return account, create_key(connection, account.id, now, label="first key")


def create_key(
    connection: Connection, account_id: str, now: datetime, label: str = ""
) -> CreatedKey:
    get_account(connection, account_id)
    key = new_private_key()
    created = CreatedKey(new_id(), account_id, key, f"{key[:6]}…{key[-4:]}", label)
    connection.execute(
        api_keys.insert().values(
            id=created.id,
            account_id=account_id,
            key_hash=hash_key(key),
            hint=created.hint,
            label=label,
            created_at=now,
        )
    )
    return created


def revoke_key(connection: Connection, account_id: str, key_id: str, now: datetime) -> None:
    result = connection.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id, api_keys.c.account_id == account_id)
        .where(api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"no active key {key_id} in account {account_id}", parameter="key_id")


def _account(row: object) -> Account:
    return Account(row.id, row.name, row.public_key, row.created_at)  # type: ignore[attr-defined]


def get_account(connection: Connection, account_id: str) -> Account:
    row = connection.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise NotFoundError(f"no account {account_id}", parameter="account")
    return _account(row)


def list_accounts(connection: Connection) -> list[Account]:
    return [_account(row) for row in connection.execute(select(accounts).order_by(accounts.c.id))]


def account_by_public_key(connection: Connection, public_key: str) -> Account | None:
    row = connection.execute(
        select(accounts).where(accounts.c.public_key == public_key.strip())
    ).first()
    return None if row is None else _account(row)


def authenticate(connection: Connection, private_key: str) -> Account:
    """The account a private key belongs to; revoked and unknown keys are refused alike."""
    row = connection.execute(
        select(accounts)
        .join(api_keys, api_keys.c.account_id == accounts.c.id)
        .where(api_keys.c.key_hash == hash_key(private_key.strip()))
        .where(api_keys.c.revoked_at.is_(None))
    ).first()
    if row is None:
        raise AuthenticationError("the private API key is unknown or revoked")
    return _account(row)
