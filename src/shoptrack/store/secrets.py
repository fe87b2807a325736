"""Credentials at rest: encrypted with the newest secret key, readable with any listed key."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shoptrack.errors import ConfigurationError

__all__ = ["CredentialCipher"]


def _fernet(secret: str) -> Fernet:
    # Any string works as SHOPTRACK_SECRET_KEY; Fernet wants 32 url-safe base64 bytes.
    digest = hashlib.sha256(b"shoptrack credentials\x00" + secret.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class CredentialCipher:
    """Encrypts credential documents; several keys allow rotation (the first one encrypts)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigurationError("at least one secret key is needed to store credentials")
        self._fernet = MultiFernet([_fernet(key) for key in keys])

    def encrypt(self, credentials: Mapping[str, Any]) -> str:
        return self._fernet.encrypt(orjson.dumps(dict(credentials))).decode()

    def decrypt(self, token: str) -> dict[str, Any]:
        try:
            document: dict[str, Any] = orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as error:
            raise ConfigurationError(
                "stored credentials cannot be decrypted: SHOPTRACK_SECRET_KEY changed; list the "
                "old key after the new one (comma-separated) to rotate"
            ) from error
        return document
