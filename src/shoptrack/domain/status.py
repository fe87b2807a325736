"""Status rules: which raw platform statuses make an order placed, fulfilled, cancelled, refunded.

Each connector declares its platform's defaults (DESIGN.md's table, ``Connector.default_rules``,
built with ``status_rules``); every integration may override each of the four lists in its
settings (``placed_statuses``, ``fulfilled_statuses``, ``cancelled_statuses``,
``refunded_statuses``), written either as a plain list or as ``{"include": [...]}`` /
``{"exclude": [...]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "Lifecycle",
    "StatusRuleError",
    "StatusRules",
    "StatusSet",
    "status_rules",
]


class Lifecycle(StrEnum):
    """The stages of an order that each record one event, once."""

    PLACED = "placed"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class StatusRuleError(ValueError):
    """A status list in an integration's settings that cannot be read."""


@dataclass(frozen=True, slots=True)
class StatusSet:
    """A set of raw statuses, given by the statuses it includes or by those it excludes."""

    statuses: frozenset[str]
    exclude: bool = False

    @classmethod
    def including(cls, statuses: Iterable[str]) -> StatusSet:
        return cls(frozenset(str(s) for s in statuses))

    @classmethod
    def excluding(cls, statuses: Iterable[str]) -> StatusSet:
        return cls(frozenset(str(s) for s in statuses), exclude=True)

    @classmethod
    def from_setting(cls, name: str, value: object) -> StatusSet:
        """Reads one settings value; ``name`` is the setting, named in the error."""
        if isinstance(value, list | tuple):
            return cls.including(_statuses(name, value))
        if isinstance(value, Mapping) and len(value) == 1:
            ((mode, statuses),) = value.items()
            if mode == "include":
                return cls.including(_statuses(name, statuses))
            if mode == "exclude":
                return cls.excluding(_statuses(name, statuses))
        raise StatusRuleError(
            f'{name} must be a list of statuses, {{"include": [...]}} or {{"exclude": [...]}}'
        )

    def to_setting(self) -> dict[str, list[str]]:
        return {"exclude" if self.exclude else "include": sorted(self.statuses)}

    def __contains__(self, raw_status: object) -> bool:
        return (raw_status in self.statuses) != self.exclude

    def names(self, raw_status: str) -> bool:
        """Whether this set mentions the status by name (in either mode)."""
        return raw_status in self.statuses


def _statuses(name: str, value: object) -> list[str]:
    if not isinstance(value, list | tuple):
        raise StatusRuleError(f"{name} must hold a list of statuses")
    statuses = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise StatusRuleError(f'{name} holds {item!r}; statuses are strings such as "11"')
        text = str(item).strip()
        if not text:
            raise StatusRuleError(f"{name} holds an empty status")
        statuses.append(text)
    return statuses


_SETTING_NAMES = {
    Lifecycle.PLACED: "placed_statuses",
    Lifecycle.FULFILLED: "fulfilled_statuses",
    Lifecycle.CANCELLED: "cancelled_statuses",
    Lifecycle.REFUNDED: "refunded_statuses",
}


@dataclass(frozen=True, slots=True)
class StatusRules:
    """The four status lists of one integration."""

    placed: StatusSet
    fulfilled: StatusSet
    cancelled: StatusSet
    refunded: StatusSet

    def for_stage(self, stage: Lifecycle) -> StatusSet:
        # Asked several times for every order processed: one attribute read, no table built
        # (the four fields are named after the stages' values).
        status_set: StatusSet = getattr(self, stage.value)
        return status_set

    def names(self, raw_status: str) -> bool:
        """Whether any of the four lists mentions the status by name."""
        return any(self.for_stage(stage).names(raw_status) for stage in Lifecycle)

    def stages(self, raw_status: str, fallback: str | None = None) -> frozenset[Lifecycle]:
        """The stages a raw status stands for. A status no list names is judged by ``fallback``
        when there is one (Magento 2 custom statuses by their state)."""
        if fallback is not None and not self.names(raw_status):
            raw_status = fallback
        return frozenset(stage for stage in Lifecycle if raw_status in self.for_stage(stage))

    def with_settings(self, settings: Mapping[str, Any]) -> StatusRules:
        """These rules with any of the four lists that ``settings`` holds put in their place."""
        changes = {
            stage.value: StatusSet.from_setting(key, settings[key])
            for stage, key in _SETTING_NAMES.items()
            if settings.get(key) is not None
        }
        return StatusRules(**{stage.value: self.for_stage(stage) for stage in Lifecycle} | changes)

    def to_settings(self) -> dict[str, dict[str, list[str]]]:
        return {key: self.for_stage(stage).to_setting() for stage, key in _SETTING_NAMES.items()}


def status_rules(
    placed: StatusSet,
    fulfilled: Iterable[str] = (),
    cancelled: Iterable[str] = (),
    refunded: Iterable[str] = (),
) -> StatusRules:
    """Rules as a connector declares its defaults: the placed statuses as a set (often an
    exclusion), the other three stages as the statuses they include."""
    return StatusRules(
        placed=placed,
        fulfilled=StatusSet.including(fulfilled),
        cancelled=StatusSet.including(cancelled),
        refunded=StatusSet.including(refunded),
    )
