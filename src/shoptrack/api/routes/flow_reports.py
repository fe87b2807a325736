"""``POST /api/flow-values-reports`` and ``POST /api/flow-series-reports``: what flow emails
earned, in Klaviyo's request and response shapes (the official SDK's
``Reporting.query_flow_values`` and ``query_flow_series`` work unchanged). Statistics, groupings,
timeframes and intervals Klaviyo does not know — or shoptrack does not have — are a 400 naming
the attribute."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request, Response

from shoptrack.api.deps import AccountDep, ServicesDep, base_url
from shoptrack.api.jsonapi import Condition, JSONAPIBody, jsonapi_response, parse_filter
from shoptrack.api.routes._router import JSONAPIRouter
from shoptrack.api.schemas import FlowSeriesReportResponse, FlowValuesReportResponse
from shoptrack.domain.flow_reports import FlowSeriesRequest, FlowValuesRequest, ReportAttributes
from shoptrack.errors import InputError
from shoptrack.flows.reports import FILTERABLE, FlowReport, flow_report
from shoptrack.store.accounts import account_settings

__all__ = ["router"]

router = JSONAPIRouter("Reporting")

_FILTER_POINTER = "/data/attributes/filter"


def _conditions(text: str | None) -> list[Condition]:
    """The report's filter: ``equals`` and ``contains-any`` on the flow, message and channel,
    joined by ``and``, one condition per attribute."""
    allowed = dict.fromkeys(FILTERABLE, ("equals", "contains-any"))
    try:
        conditions = parse_filter(text, allowed)
    except InputError as error:
        raise InputError(f"filter: {error.detail}", pointer=_FILTER_POINTER) from error
    named: set[str] = set()
    for condition in conditions:
        if condition.field in named:
            raise InputError(
                f"filter: one condition per attribute ({condition.field} has two)",
                pointer=_FILTER_POINTER,
            )
        named.add(condition.field)
        if condition.operator == "contains-any" and not isinstance(condition.value, list):
            raise InputError(
                f'filter: contains-any takes a list: contains-any({condition.field},["…"])',
                pointer=_FILTER_POINTER,
            )
    return conditions


def _keeper(conditions: list[Condition]) -> Any:
    def keep(description: Mapping[str, str | None]) -> bool:
        for condition in conditions:
            wanted = condition.value if isinstance(condition.value, list) else [condition.value]
            if description[condition.field] not in [str(value) for value in wanted]:
                return False
        return True

    return keep


def _report(account_id: str, services: ServicesDep, attributes: ReportAttributes) -> FlowReport:
    keep = _keeper(_conditions(attributes.filter))
    with services.database.read() as connection:
        zone = account_settings(connection, account_id).zone
        return flow_report(
            connection, account_id, attributes, zone=zone, now=services.clock.now(), keep=keep
        )


def _document(request: Request, report: FlowReport, statistics: Sequence[str]) -> Response:
    """The report in Klaviyo's shape: a values report, or (with intervals) a series report."""
    attributes: dict[str, Any] = {"results": report.results(statistics)}
    if report.date_times is None:
        report_type = "flow-values-report"
    else:
        report_type = "flow-series-report"
        attributes["date_times"] = [
            moment.astimezone(report.zone).isoformat() for moment in report.date_times
        ]
    flows = sorted({row.flow.id for row in report.rows})
    messages = sorted({row.step_id for row in report.rows})
    return jsonapi_response(
        {
            "data": {
                "type": report_type,
                "attributes": attributes,
                "relationships": {
                    "flows": {"data": [{"type": "flow", "id": flow} for flow in flows]},
                    "flow-messages": {
                        "data": [{"type": "flow-message", "id": step} for step in messages]
                    },
                },
            },
            "links": {"self": f"{base_url(request)}{request.url.path}"},
        }
    )


def _answer(
    request: Request, account_id: str, services: ServicesDep, attributes: ReportAttributes
) -> Response:
    """Answers a report request: a values report, or (with an interval) a series report."""
    report = _report(account_id, services, attributes)
    return _document(request, report, attributes.statistics)


@router.operation("POST /api/flow-values-reports", "query_flow_values", FlowValuesReportResponse)
def query_flow_values(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[FlowValuesRequest],
) -> Response:
    """Each flow message's statistics over the timeframe."""
    return _answer(request, account.id, services, body.data.attributes)


@router.operation("POST /api/flow-series-reports", "query_flow_series", FlowSeriesReportResponse)
def query_flow_series(
    request: Request,
    account: AccountDep,
    services: ServicesDep,
    body: JSONAPIBody[FlowSeriesRequest],
) -> Response:
    """Each flow message's statistics per interval of the timeframe."""
    return _answer(request, account.id, services, body.data.attributes)
