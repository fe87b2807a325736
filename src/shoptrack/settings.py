"""Configuration: one typed settings class, read from the environment or ``.env`` when built."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from pydantic import ByteSize, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shoptrack.errors import ConfigurationError
from shoptrack.outbound import IPNetwork, OutboundGuard, parse_networks

__all__ = ["Settings"]


class Settings(BaseSettings):
    """shoptrack's settings, from ``SHOPTRACK_*`` variables (DESIGN.md, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="SHOPTRACK_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".shoptrack"), description="Where SQLite and keys live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; a SQLite file in the data dir when unset."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts stored credentials; several keys separated by commas, newest first.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base of absolute webhook and unsubscribe URLs.",
    )
    smtp_url: str | None = None
    email_from: str = "shoptrack <shoptrack@localhost>"
    spool_size: ByteSize = Field(
        default=ByteSize(256 * 1024 * 1024),
        ge=0,
        description=(
            "How much the intake spool in the data dir may hold while the database is away "
            "(e.g. 256MiB, 1GB); 0 turns it off (deliveries are refused with 503 meanwhile)."
        ),
    )
    watch_interval_minutes: int = Field(
        default=15,
        ge=1,
        description="How often the watchdog runs the doctor on every account and opens alerts.",
    )
    private_store_networks: Annotated[tuple[IPNetwork, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated CIDRs that requests for users may reach although private.",
    )

    @field_validator("private_store_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return parse_networks(value) if isinstance(value, str) else value

    def outbound_guard(self) -> OutboundGuard:
        """The guard of requests made for users, allowing ``private_store_networks``."""
        return OutboundGuard(self.private_store_networks)

    def environment(self) -> dict[str, str]:
        """``SHOPTRACK_*`` variables that rebuild these settings in a child process (a value
        that is unset is left out)."""
        variables: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                text = value.get_secret_value()
            elif isinstance(value, tuple):
                text = ",".join(str(item) for item in value)
            elif isinstance(value, bool):
                text = "true" if value else "false"
            else:
                text = str(value)
            variables[f"SHOPTRACK_{name.upper()}"] = text
        return variables

    def resolved_database_url(self) -> str:
        """The database to use, with the PostgreSQL driver named (psycopg 3)."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'shoptrack.db').resolve()}"
        url = self.database_url
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        return url

    @property
    def public_base(self) -> str:
        """``public_url`` without a trailing slash: what absolute links are joined to."""
        return self.public_url.rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")

    def secret_keys(self) -> list[str]:
        """The credential keys, newest first. On SQLite a key is generated into the data dir when
        none is set; on PostgreSQL one must be set, since several machines share the database."""
        if self.secret_key is not None:
            keys = [k.strip() for k in self.secret_key.get_secret_value().split(",") if k.strip()]
            if keys:
                return keys
        if not self.is_sqlite:
            raise ConfigurationError(
                "SHOPTRACK_SECRET_KEY is required with PostgreSQL: set it to the same long random "
                "string on every machine (for example the output of `openssl rand -hex 32`)"
            )
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32) + "\n")
            key_file.chmod(0o600)
        return [key_file.read_text().strip()]
