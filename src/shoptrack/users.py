"""Web UI users: creating them, checking their passwords (argon2id) and their sessions.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, with the
user it signs in and when it expires. Signing out deletes the row, so the cookie stops working
everywhere at once, and a copy of the table signs nobody in.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shoptrack.domain.identity import InvalidIdentifierError, normalize_email
from shoptrack.errors import AuthenticationError, ConflictError, InputError
from shoptrack.ids import new_id
from shoptrack.services import Services
from shoptrack.store.accounts import get_account
from shoptrack.store.users import (
    User,
    delete_session,
    delete_sessions_of,
    insert_session,
    insert_user,
    session_user,
    set_password_hash,
    signed_in,
    user_by_email,
)

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SESSION_LIFETIME",
    "Session",
    "User",
    "create_user",
    "session_token_hash",
    "sign_in",
    "sign_out",
    "user_of_session",
]

SESSION_LIFETIME = timedelta(days=14)
MIN_PASSWORD_LENGTH = 10
# Long enough for any passphrase, short enough that hashing one is never a denial of service.
MAX_PASSWORD_LENGTH = 1024


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2id with the library's current recommended parameters (RFC 9106, low memory)."""
    return PasswordHasher()


@functools.cache
def _stand_in_hash() -> str:
    """A hash no password matches, checked when the email is unknown: an unknown email then
    takes as long to refuse as a wrong password, so timing does not tell which emails exist."""
    return _hasher().hash(secrets.token_hex(32))


@dataclass(frozen=True, slots=True)
class Session:
    """A new sign-in: ``token`` goes in the cookie and is not stored anywhere else."""

    token: str
    user: User
    expires_at: datetime


def session_token_hash(token: str) -> str:
    """The stored form of a session token (a long random value, so one SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _email(value: str) -> str:
    try:
        email = normalize_email(value)
    except InvalidIdentifierError as error:
        raise InputError(str(error), parameter="email") from error
    if email is None:
        raise InputError("the email is empty", parameter="email")
    return email


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters",
            parameter="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(
            f"the password is too long: use at most {MAX_PASSWORD_LENGTH} characters",
            parameter="password",
        )


def create_user(services: Services, *, account_id: str, email: str, password: str) -> User:
    """A new user of ``account_id``; an email may belong to one user only."""
    address = _email(email)
    _check_password(password)
    password_hash = _hasher().hash(password)
    now = services.clock.now()
    with services.database.write() as connection:
        get_account(connection, account_id)
        user = User(new_id(), account_id, address, password_hash, now)
        if not insert_user(connection, user):
            raise ConflictError(
                f"a user with the email {address} exists already", parameter="email"
            )
    return user


def _verifies(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(services: Services, email: str, password: str) -> Session:
    """A new session for the user with this email and password; one ``AuthenticationError``
    for a wrong email and a wrong password alike."""
    refused = AuthenticationError("the email or the password is wrong")
    try:
        address = normalize_email(email)
    except InvalidIdentifierError:
        address = None
    user = None
    if address is not None and len(password) <= MAX_PASSWORD_LENGTH:
        with services.database.read() as connection:
            user = user_by_email(connection, address)
    if user is None:
        _verifies(_stand_in_hash(), password[:MAX_PASSWORD_LENGTH])
        raise refused
    if not _verifies(user.password_hash, password):
        raise refused
    token = secrets.token_urlsafe(32)
    now = services.clock.now()
    session = Session(token, user, now + SESSION_LIFETIME)
    with services.database.write() as connection:
        if _hasher().check_needs_rehash(user.password_hash):
            set_password_hash(connection, user.id, _hasher().hash(password))
        signed_in(connection, user.id, now)
        insert_session(
            connection,
            token_hash=session_token_hash(token),
            user=user,
            now=now,
            expires_at=session.expires_at,
        )
    return session


def user_of_session(services: Services, token: str | None) -> User | None:
    """The signed-in user of a session cookie, or None (no cookie, unknown or expired)."""
    if not token:
        return None
    with services.database.read() as connection:
        return session_user(connection, session_token_hash(token), services.clock.now())


def sign_out(services: Services, token: str) -> None:
    with services.database.write() as connection:
        delete_session(connection, session_token_hash(token))


def change_password(services: Services, user: User, password: str) -> None:
    """Sets a new password and ends every session of the user."""
    _check_password(password)
    with services.database.write() as connection:
        set_password_hash(connection, user.id, _hasher().hash(password))
        delete_sessions_of(connection, user.id)
