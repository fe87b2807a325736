"""The doctor's answer: one finding per check, each with its evidence and the fix it suggests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Finding", "Fix", "Report", "Severity"]


class Severity(StrEnum):
    """How much a finding matters, from nothing to report to events being lost."""

    OK = "ok"  # the check passed
    INFO = "info"  # worth knowing, nothing is lost (a new store, a sync about to run)
    WARNING = "warning"  # something is degraded or late, or may be lost
    ERROR = "error"  # events are missing, or will be, until this is fixed

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.OK: 0, Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


@dataclass(frozen=True, slots=True)
class Fix:
    """What to do about a finding: ``text`` for people, ``command`` to run, and whether
    shoptrack can apply it itself (``applicable``: false where only the merchant can act)."""

    text: str
    command: str | None = None
    applicable: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "command": self.command, "applicable": self.applicable}


@dataclass(frozen=True, slots=True)
class Finding:
    """The result of one check: a stable ``code``, a ``severity``, one readable ``summary``,
    ``evidence`` (real data: counts, times, ids, the store's own answer) and a ``fix``.

    ``integration_id`` is None for findings about the whole account.
    """

    code: str
    severity: Severity
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: Fix | None = None
    integration_id: str | None = None

    @classmethod
    def not_checked(cls, code: str, reason: str, severity: Severity = Severity.OK) -> Finding:
        """The finding of a check that could not look, and ``reason`` why."""
        return cls(code, severity, f"Not checked: {reason}.", {"checked": False})

    @property
    def id(self) -> str:
        """Stable per integration and check, so a finding can be named across runs."""
        return f"{self.integration_id}.{self.code}" if self.integration_id else self.code

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "summary": self.summary,
            "evidence": dict(self.evidence),
            "fix": self.fix.as_json() if self.fix is not None else None,
            "integration_id": self.integration_id,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """The findings of one run of the doctor, in check order; ``order`` is the trace of the
    order asked about (``--order``), if any."""

    findings: Sequence[Finding]
    order: Mapping[str, Any] | None = None

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.OK)

    @property
    def has_errors(self) -> bool:
        return self.worst is Severity.ERROR

    def counts(self) -> dict[str, int]:
        """How many findings of each severity."""
        counts = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    def get(self, code: str, integration_id: str | None = None) -> Finding | None:
        """The finding of ``code`` (for ``integration_id`` when given)."""
        for finding in self.findings:
            if finding.code == code and (
                integration_id is None or finding.integration_id == integration_id
            ):
                return finding
        return None
