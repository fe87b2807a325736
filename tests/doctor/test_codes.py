"""Every finding code the doctor gives is documented in README.md, in report order, and nothing
more; and the finding model serialises as the API documents it."""

from __future__ import annotations

import re
from pathlib import Path

from shoptrack.doctor import CHECKS, FINDING_CODES, Finding, Fix, Report, Severity

README = Path(__file__).parents[2] / "README.md"


def _documented_codes() -> list[str]:
    text = README.read_text()
    section = text.split("## Doctor findings", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def test_finding_codes_and_docs_agree_in_report_order() -> None:
    assert _documented_codes() == list(FINDING_CODES)


def test_codes_are_unique_and_every_integration_check_is_listed() -> None:
    assert len(set(FINDING_CODES)) == len(FINDING_CODES)
    assert {check.code for check in CHECKS} <= set(FINDING_CODES)


def test_a_report_is_as_bad_as_its_worst_finding() -> None:
    fix = Fix("Enable it.", "shoptrack doctor X --fix integration_disabled", applicable=True)
    report = Report(
        [
            Finding("plugin_outdated", Severity.OK, "fine"),
            Finding("integration_disabled", Severity.ERROR, "off", {"enabled": False}, fix, "X"),
            Finding("status_skipped", Severity.INFO, "one", {"orders": 1}, integration_id="X"),
        ]
    )
    assert report.worst is Severity.ERROR
    assert report.has_errors
    assert report.counts() == {"ok": 1, "info": 1, "warning": 0, "error": 1}
    finding = report.get("integration_disabled", "X")
    assert finding is not None
    assert finding.id == "X.integration_disabled"
    assert finding.as_json() == {
        "code": "integration_disabled",
        "severity": "error",
        "summary": "off",
        "evidence": {"enabled": False},
        "fix": {
            "text": "Enable it.",
            "command": "shoptrack doctor X --fix integration_disabled",
            "applicable": True,
        },
        "integration_id": "X",
    }
    assert Report([]).worst is Severity.OK
