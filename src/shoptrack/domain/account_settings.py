"""What an account sets for itself: one resource (``GET|PATCH /api/account-settings``), one page
of the web UI, one ``shoptrack accounts settings`` command.

- ``time_zone``: the IANA zone whose days the web UI's charts count in (Home, metric pages).
- ``test_sends``: whether test orders (a store's own, or ``shoptrack test-order``'s) start flows
  as live orders do; off by default, so a check of the pipeline never emails anybody.
- ``attribution_window_days``: how long after opening or clicking a flow email a live Placed
  Order is credited to it (Klaviyo's default, 5 days); ``attribution_clicks_only`` counts only
  clicks.
- ``email_tracking``: whether flow emails carry an open pixel and tracked links;
  ``utm_parameters``: whether their links get ``utm_source``, ``utm_medium`` and
  ``utm_campaign``.

New account-level settings join this model rather than inventing an endpoint of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shoptrack.errors import InputError

__all__ = ["ATTRIBUTES_POINTER", "AccountSettings"]

ATTRIBUTES_POINTER = "/data/attributes"


class AccountSettings(BaseModel):
    """An account's settings, every one with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    time_zone: str = Field("UTC", max_length=64)
    test_sends: bool = False
    attribution_window_days: int = Field(5, ge=1, le=90)
    attribution_clicks_only: bool = False
    email_tracking: bool = True
    utm_parameters: bool = True

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(
                f"{value!r} is no IANA time zone; use a name such as Europe/Berlin or UTC"
            ) from error
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def changed(
        self, changes: Mapping[str, Any], pointer: str = ATTRIBUTES_POINTER
    ) -> AccountSettings:
        """These settings with ``changes`` applied; a 400 naming the first setting that is
        unknown or not valid (``pointer`` is where the settings are in the request)."""
        try:
            return AccountSettings.model_validate({**self.model_dump(), **changes})
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            name = ".".join(str(part) for part in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            if first["type"] == "extra_forbidden":
                known = ", ".join(AccountSettings.model_fields)
                message = f"no such setting; the settings are {known}"
            raise InputError(f"{name}: {message}", pointer=f"{pointer}/{name}") from error
