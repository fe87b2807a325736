"""The doctor: why an expected event is missing, told as findings.

Each check of an integration reads the stored data (deliveries, sync runs, order states,
events) and, where it says so, asks the store live through the connector; it gives one
``Finding`` — ``code``, ``severity``, ``summary``, ``evidence``, ``fix`` — ok ones included.
``apply_fix`` applies the fixes shoptrack can apply itself and looks again. ``live=False`` on
``diagnose_account`` and ``diagnose_integration`` asks no store (the live checks are left out,
the recorded health stands in): what the web UI's Home shows on every view. The codes are listed
in README.md ("Doctor findings"); ``tests/doctor/test_codes.py`` keeps the list honest.
"""

from shoptrack.doctor._checks_account import TRACKER_VERSION_PROPERTY
from shoptrack.doctor._checks_drops import DROP_CODES
from shoptrack.doctor._examination import ClientFactory
from shoptrack.doctor._findings import Finding, Fix, Report, Severity
from shoptrack.doctor._run import (
    CHECKS,
    FINDING_CODES,
    FixNotApplicableError,
    FixResult,
    apply_fix,
    diagnose_account,
    diagnose_integration,
    examine_account,
    examine_integration,
)

__all__ = [
    "CHECKS",
    "DROP_CODES",
    "FINDING_CODES",
    "TRACKER_VERSION_PROPERTY",
    "ClientFactory",
    "Finding",
    "Fix",
    "FixNotApplicableError",
    "FixResult",
    "Report",
    "Severity",
    "apply_fix",
    "diagnose_account",
    "diagnose_integration",
    "examine_account",
    "examine_integration",
]
