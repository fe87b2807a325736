"""FastAPI dependencies: the process's services and the caller's account."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from shoptrack.api.auth import KeyCache
from shoptrack.services import Services
from shoptrack.store.accounts import Account

__all__ = ["AccountDep", "ServicesDep", "base_url"]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _account(request: Request) -> Account:
    keys: KeyCache = request.app.state.keys
    return await keys.account(request.headers.get("authorization"))


ServicesDep = Annotated[Services, Depends(_services)]
AccountDep = Annotated[Account, Depends(_account)]


def base_url(request: Request) -> str:
    """Where links point: this server as the client reached it."""
    return str(request.base_url).rstrip("/")
