"""Web UI users and their sign-in sessions (rows only: hashing lives in ``shoptrack.users``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from shoptrack.store.schema import users, web_sessions
from shoptrack.store.sql import insert_ignore

__all__ = [
    "User",
    "delete_session",
    "delete_sessions_of",
    "insert_session",
    "insert_user",
    "list_users",
    "session_user",
    "set_password_hash",
    "signed_in",
    "user_by_email",
]


@dataclass(frozen=True, slots=True)
class User:
    """Someone who signs in to the web UI, and the account they see."""

    id: str
    account_id: str
    email: str
    password_hash: str
    created_at: datetime


def _user(row: Row[Any]) -> User:
    return User(row.id, row.account_id, row.email, row.password_hash, row.created_at)


def insert_user(connection: Connection, user: User) -> bool:
    """Stores a new user; False when the email belongs to a user already."""
    return insert_ignore(
        connection,
        users,
        {
            "id": user.id,
            "account_id": user.account_id,
            "email": user.email,
            "password_hash": user.password_hash,
            "created_at": user.created_at,
        },
        conflict=("email",),
    )


def user_by_email(connection: Connection, email: str) -> User | None:
    row = connection.execute(select(users).where(users.c.email == email)).first()
    return None if row is None else _user(row)


def list_users(connection: Connection, account_id: str) -> list[User]:
    rows = connection.execute(
        select(users).where(users.c.account_id == account_id).order_by(users.c.email)
    )
    return [_user(row) for row in rows]


def set_password_hash(connection: Connection, user_id: str, password_hash: str) -> None:
    connection.execute(
        update(users).where(users.c.id == user_id).values(password_hash=password_hash)
    )


def signed_in(connection: Connection, user_id: str, now: datetime) -> None:
    """Notes the sign-in and drops the user's expired sessions (so the table stays small)."""
    connection.execute(update(users).where(users.c.id == user_id).values(last_sign_in_at=now))
    connection.execute(
        delete(web_sessions).where(
            web_sessions.c.user_id == user_id, web_sessions.c.expires_at <= now
        )
    )


def insert_session(
    connection: Connection,
    *,
    token_hash: str,
    user: User,
    now: datetime,
    expires_at: datetime,
) -> None:
    connection.execute(
        web_sessions.insert().values(
            token_hash=token_hash,
            user_id=user.id,
            account_id=user.account_id,
            created_at=now,
            expires_at=expires_at,
        )
    )


def session_user(connection: Connection, token_hash: str, now: datetime) -> User | None:
    """The user of an unexpired session. The account comes from the user row, never from the
    browser, so a session can only ever show its user's account."""
    row = connection.execute(
        select(users)
        .join(web_sessions, web_sessions.c.user_id == users.c.id)
        .where(web_sessions.c.token_hash == token_hash, web_sessions.c.expires_at > now)
    ).first()
    return None if row is None else _user(row)


def delete_session(connection: Connection, token_hash: str) -> None:
    connection.execute(delete(web_sessions).where(web_sessions.c.token_hash == token_hash))


def delete_sessions_of(connection: Connection, user_id: str) -> None:
    """Signs the user out everywhere (after a password change)."""
    connection.execute(delete(web_sessions).where(web_sessions.c.user_id == user_id))
