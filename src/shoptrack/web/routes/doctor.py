"""The Doctor page: the doctor's findings for the account and each integration, with their
evidence, and buttons that apply the fixes shoptrack can apply itself.

The page runs the doctor as the CLI and the API do (``shoptrack.doctor``), live checks included:
it asks the stores on view. Home shows the open warnings and errors of the doctor's mode that
asks no store (``live=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from shoptrack.doctor import (
    ClientFactory,
    Finding,
    FixNotApplicableError,
    Severity,
    apply_fix,
    diagnose_account,
)
from shoptrack.errors import NotFoundError
from shoptrack.store.integrations import get_integration, list_integrations
from shoptrack.web.routes._common import pages, redirect
from shoptrack.web.security import FormDep, VisitorDep, services_of

__all__ = ["FindingGroup", "group_findings", "open_problems", "router"]

router = APIRouter(include_in_schema=False)


def _client_factory(request: Request) -> ClientFactory:
    factory: ClientFactory = request.app.state.doctor_client
    return factory


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """The findings of the account (``integration_id`` None) or of one integration, worst
    first: the problems to show, and the checks that passed."""

    integration_id: str | None
    title: str
    problems: list[Finding]
    passed: list[Finding]


def _worst_first(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda finding: -finding.severity.rank)


def group_findings(findings: Sequence[Finding], names: dict[str, str]) -> list[FindingGroup]:
    """Findings by integration (the account's first), problems worst first, ok ones apart."""
    order: list[str | None] = [None, *names]
    groups = []
    for integration_id in order:
        own = [f for f in findings if f.integration_id == integration_id]
        if not own:
            continue
        title = "Account" if integration_id is None else names[integration_id]
        groups.append(
            FindingGroup(
                integration_id,
                title,
                _worst_first([f for f in own if f.severity is not Severity.OK]),
                [f for f in own if f.severity is Severity.OK],
            )
        )
    return groups


def open_problems(findings: Sequence[Finding]) -> list[Finding]:
    """The warnings and errors among ``findings``, worst first (what Home lists)."""
    return _worst_first([f for f in findings if f.severity in (Severity.WARNING, Severity.ERROR)])


@router.get("/doctor")
def doctor_page(request: Request, visitor: VisitorDep) -> Response:
    """Runs every check of the account and its integrations now, the stores asked live."""
    services = services_of(request)
    report = diagnose_account(services, visitor.account_id, client_factory=_client_factory(request))
    with services.database.read() as connection:
        names = {i.id: i.name for i in list_integrations(connection, visitor.account_id)}
    return pages(request).render(
        request,
        "doctor/show.html",
        {
            "groups": group_findings(report.findings, names),
            "counts": report.counts(),
            "worst": report.worst.value,
        },
        visitor=visitor,
    )


@router.post("/doctor/integrations/{integration_id}/fixes/{code}")
async def fix_finding(
    request: Request, integration_id: str, code: str, visitor: VisitorDep, _form: FormDep
) -> Response:
    """Applies the finding's fix (the doctor looks again before and after), then shows the
    findings as they are now."""
    services = services_of(request)

    def owned() -> str:
        with services.database.read() as connection:
            integration = get_integration(connection, visitor.account_id, integration_id)
        if integration.removed_at is not None:
            raise NotFoundError(f"integration {integration_id} was removed", parameter="id")
        return integration.name

    name = await run_in_threadpool(owned)
    try:
        result = await run_in_threadpool(
            apply_fix,
            services,
            visitor.account_id,
            integration_id,
            code,
            client_factory=_client_factory(request),
        )
    except FixNotApplicableError as error:
        flash = [("error", f"{name}: {error.detail}")]
    else:
        flash = [("ok", f"{name}: {result.done}.")]
        after = result.finding
        if after.severity in (Severity.WARNING, Severity.ERROR):
            flash.append((after.severity.value, f"{name}: {after.summary}"))
    return redirect(f"/doctor#integration-{integration_id}", visitor, flash)
