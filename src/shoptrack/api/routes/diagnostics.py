"""``/api/diagnostics`` and ``/api/integrations/{id}/diagnostics``: the doctor's findings as
JSON:API resources of type ``finding``, and applying a finding's fix."""

from __future__ import annotations

from fastapi import Request, Response

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import jsonapi_response
from shoptrack.api.resources import fix_document, report_document
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import FindingResponse, ReportResponse
from shoptrack.doctor import apply_fix, diagnose_account, diagnose_integration
from shoptrack.services import Services
from shoptrack.store.integrations import get_integration

__all__ = ["router"]

router = JSONAPIRouter("Diagnostics")


def _own(services: Services, account_id: str, integration_id: str) -> None:
    """404 for an id of no integration of the account (removed ones are the account's still)."""
    with services.database.read() as connection:
        get_integration(connection, account_id, integration_id)


@router.operation("GET /api/diagnostics", "get_diagnostics", ReportResponse)
def account_diagnostics(
    request: Request, account: AccountDep, services: ServicesDep, metric: str | None = None
) -> Response:
    """Every check of the account and of each of its integrations (ok ones included); stores
    are asked live where a check says so."""
    report = diagnose_account(services, account.id, metric=metric)
    return jsonapi_response(report_document(report, base_url(request), str(request.url)))


@router.operation(
    "GET /api/integrations/{integration_id}/diagnostics",
    "get_integration_diagnostics",
    ReportResponse,
)
def integration_diagnostics(
    integration_id: str,
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    *,
    metric: str | None = None,
    order: str | None = None,
) -> Response:
    """Every check of one integration (ok ones included); a removed integration of the account
    gives the finding ``integration_missing``, one of no integration of the account is 404.
    ``order`` (the platform's order id) adds that order's trace as ``meta.order``."""
    _own(services, account.id, integration_id)
    report = diagnose_integration(services, account.id, integration_id, metric=metric, order=order)
    return jsonapi_response(report_document(report, base_url(request), str(request.url)))


@router.operation(
    "POST /api/integrations/{integration_id}/diagnostics/{code}/fix",
    "fix_integration_finding",
    FindingResponse,
    more_errors=(409, 422, 502),
)
def fix_finding(
    integration_id: str, code: str, request: Request, account: AccountDep, services: ServicesDep
) -> Response:
    """Applies the finding's fix when shoptrack can (409 ``fix_not_applicable`` when not), then
    answers with the finding as the doctor sees it afterwards."""
    _own(services, account.id, integration_id)
    result = apply_fix(services, account.id, integration_id, code)
    return jsonapi_response(fix_document(result, base_url(request)))
