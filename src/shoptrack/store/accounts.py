"""Accounts, their API keys and their settings."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, update

from shoptrack.domain.account_settings import AccountSettings
from shoptrack.errors import AuthenticationError, InputError, NotFoundError
from shoptrack.ids import hash_key, new_id, new_private_key, new_public_key
from shoptrack.store.schema import accounts, api_keys

__all__ = [
    "Account",
    "CreatedKey",
    "account_by_public_key",
    "account_exists",
    "account_settings",
    "accounts_sending_tests",
    "authenticate",
    "create_account",
    "create_key",
    "get_account",
    "list_accounts",
    "revoke_key",
    "save_account_settings",
]

_SETTINGS = [accounts.c[name] for name in AccountSettings.model_fields]


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


def account_exists(connection: Connection, account_id: str) -> bool:
    query = select(accounts.c.id).where(accounts.c.id == account_id)
    return connection.execute(query).first() is not None


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


def account_settings(connection: Connection, account_id: str) -> AccountSettings:
    """The account's settings; 404 for an unknown account."""
    row = connection.execute(select(*_SETTINGS).where(accounts.c.id == account_id)).first()
    if row is None:
        raise NotFoundError(f"no account {account_id}", parameter="account")
    return AccountSettings.model_validate(row._asdict())


def save_account_settings(
    connection: Connection, account_id: str, settings: AccountSettings
) -> None:
    connection.execute(
        update(accounts).where(accounts.c.id == account_id).values(**settings.model_dump())
    )


def accounts_sending_tests(connection: Connection, account_ids: Collection[str]) -> set[str]:
    """Those of ``account_ids`` whose settings let test orders start flows."""
    rows = connection.execute(
        select(accounts.c.id).where(accounts.c.id.in_(sorted(account_ids)), accounts.c.test_sends)
    )
    return set(rows.scalars())
