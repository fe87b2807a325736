"""The doctor's findings as ``finding`` resources: a report, and a fix applied."""

from __future__ import annotations

from typing import Any

from shoptrack.doctor import Finding, FixResult, Report

__all__ = ["diagnostics_url", "finding_resource", "fix_document", "report_document"]


def diagnostics_url(base: str, integration_id: str | None = None) -> str:
    """Where the doctor's findings are read: the account's, or one integration's."""
    if integration_id is None:
        return f"{base}/api/diagnostics"
    return f"{base}/api/integrations/{integration_id}/diagnostics"


def finding_resource(finding: Finding, base: str) -> dict[str, Any]:
    """One finding: its code, severity, summary, evidence and fix."""
    resource: dict[str, Any] = {
        "type": "finding",
        "id": finding.id,
        "attributes": finding.as_json(),
    }
    if finding.integration_id is not None:
        resource["links"] = {
            "integration": f"{base}/api/integrations/{finding.integration_id}/",
        }
    return resource


def report_document(report: Report, base: str, self_link: str) -> dict[str, Any]:
    """The document ``GET /api/diagnostics`` (and ``shoptrack doctor --json``) answers with."""
    meta: dict[str, Any] = {"worst": report.worst.value, "counts": report.counts()}
    if report.order is not None:
        meta["order"] = dict(report.order)
    return {
        "data": [finding_resource(finding, base) for finding in report.findings],
        "meta": meta,
        "links": {"self": self_link},
    }


def fix_document(result: FixResult, base: str) -> dict[str, Any]:
    """The finding as the doctor sees it after its fix, what the fix did and the worst
    severity left."""
    return {
        "data": finding_resource(result.finding, base),
        "meta": {"done": result.done, "worst": result.report.worst.value},
    }
