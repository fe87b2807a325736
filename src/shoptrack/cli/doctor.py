"""``shoptrack doctor``: the doctor's findings as a readable report (or, with ``--json``, the
document ``GET /api/diagnostics`` answers with), and applying a finding's fix. Exits 1 when any
finding is an error, so scripts and monitoring can run it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape

from shoptrack.cli._common import (
    AccountOption,
    JsonOption,
    console,
    in_account,
    integration_names,
    print_json,
)
from shoptrack.cli._output import local_time

if TYPE_CHECKING:
    from shoptrack.doctor import Finding, Report

__all__ = ["doctor", "print_finding", "render_finding", "render_report"]

# By the severities' values: the doctor loads only when the command runs, so that every other
# command starts fast.
_MARKS = {
    "error": "[red]error  [/red]",
    "warning": "[yellow]warning[/yellow]",
    "info": "[cyan]info   [/cyan]",
    "ok": "[green]ok     [/green]",
}
_EVIDENCE_WIDTH = 400


def _readable(value: object, now: datetime) -> str:
    """An evidence value as a person reads it: times in the local zone and how long ago,
    nested objects as ``name: value`` pairs rather than JSON."""
    if isinstance(value, Mapping):
        return "(" + ", ".join(f"{k}: {_readable(v, now)}" for k, v in value.items()) + ")"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_readable(item, now) for item in value) + "]"
    if isinstance(value, str):
        if "T" in value[:11]:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
            if moment.tzinfo is not None:
                return local_time(moment, now)
        return value
    return orjson.dumps(value).decode()


def _evidence(finding: Finding, now: datetime) -> str:
    text = ", ".join(f"{key}: {_readable(value, now)}" for key, value in finding.evidence.items())
    return text if len(text) <= _EVIDENCE_WIDTH else text[: _EVIDENCE_WIDTH - 1] + "…"


def print_finding(
    console: Console, finding: Finding, *, mark: str, indent: int, evidence: str
) -> None:
    """A finding under its severity ``mark``: its code, then what it means, its ``evidence``
    (as text, left out when empty) and its fix, each ``indent`` columns in."""
    margin = " " * indent
    console.print(f"  {mark} [bold]{finding.code}[/bold]")
    console.print(f"{margin}{escape(finding.summary)}", soft_wrap=True)
    if evidence:
        console.print(f"{margin}[dim]evidence: {escape(evidence)}[/dim]", soft_wrap=True)
    if finding.fix is not None:
        how = "shoptrack can apply it" if finding.fix.applicable else "only you can"
        console.print(f"{margin}fix ({how}): {escape(finding.fix.text)}", soft_wrap=True)
        if finding.fix.command:
            console.print(f"{margin}$ {escape(finding.fix.command)}", soft_wrap=True)


def render_finding(console: Console, finding: Finding, now: datetime) -> None:
    """One finding: its severity and code, what it means, its evidence and its fix."""
    evidence = _evidence(finding, now) if finding.evidence else ""
    # The marks are padded to one width; the code stands two columns after them.
    print_finding(
        console, finding, mark=_MARKS[finding.severity] + " ", indent=11, evidence=evidence
    )


def render_report(
    console: Console, report: Report, names: Mapping[str, str], now: datetime
) -> None:
    """The findings that are not ok, grouped by integration (named by ``names``: id → "name
    (platform)"), then the ok checks in one line per integration."""
    groups: dict[str | None, list[Finding]] = {}
    for finding in report.findings:
        groups.setdefault(finding.integration_id, []).append(finding)
    for integration_id, findings in groups.items():
        if integration_id is None:
            heading = "account"
        else:
            name = names.get(integration_id)
            heading = f"{name}, integration {integration_id}" if name else integration_id
        console.print(f"[bold]{escape(heading)}[/bold]", soft_wrap=True)
        problems = sorted(
            (f for f in findings if f.severity != "ok"),
            key=lambda f: -f.severity.rank,
        )
        for finding in problems:
            render_finding(console, finding, now)
        passed = [f.code for f in findings if f.severity == "ok"]
        if passed:
            console.print(f"  {_MARKS['ok']}  [dim]{', '.join(passed)}[/dim]", soft_wrap=True)
    if report.order is not None:
        console.print(f"[bold]order {escape(str(report.order['order_id']))}[/bold]")
        console.print(f"  {escape(str(report.order['explanation']))}", soft_wrap=True)
        details = {k: v for k, v in report.order.items() if k not in ("order_id", "explanation")}
        if details:
            readable = ", ".join(
                f"{key}: {_readable(value, now)}" for key, value in details.items()
            )
            console.print(f"  [dim]{escape(readable)}[/dim]", soft_wrap=True)
    counts = report.counts()
    console.print(
        f"worst: {_MARKS[report.worst].replace(' ', '')} ({counts['error']} errors, "
        f"{counts['warning']} warnings, {counts['info']} info, {counts['ok']} ok)"
    )


def doctor(
    integration: Annotated[
        str | None, typer.Argument(help="An integration id; without one, the whole account.")
    ] = None,
    *,
    fix: Annotated[
        str | None,
        typer.Option("--fix", help="Apply the fix of this finding code (needs INTEGRATION)."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(help="Only the checks that explain a missing metric, e.g. 'Placed Order'."),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(help="Also follow this order (the platform's id) through shoptrack."),
    ] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Explain missing events: one finding per check (credentials, firewall, webhooks, dead
    letters, statuses no rule knows, syncs...), with evidence and a fix. Exits 1 on any error."""
    from shoptrack.api.resources import diagnostics_url, fix_document, report_document
    from shoptrack.doctor import apply_fix, diagnose_account, diagnose_integration

    services, account_id = in_account(account, integration)
    base = services.settings.public_base
    if fix is not None:
        if integration is None:
            raise typer.BadParameter("name the integration to fix", param_hint="INTEGRATION")
        result = apply_fix(services, account_id, integration, fix)
        if as_json:
            print_json(fix_document(result, base))
        else:
            console.print(f"applied {fix}: {escape(result.done)}", soft_wrap=True)
            render_finding(console, result.finding, services.clock.now())
        if result.finding.severity == "error":
            raise typer.Exit(1)
        return
    if integration is None:
        if order is not None:
            raise typer.BadParameter("name the order's integration", param_hint="INTEGRATION")
        report = diagnose_account(services, account_id, metric=metric)
    else:
        report = diagnose_integration(services, account_id, integration, metric=metric, order=order)
    if as_json:
        print_json(report_document(report, base, diagnostics_url(base, integration)))
    else:
        now = services.clock.now()
        render_report(console, report, integration_names(services, account_id), now)
    if report.has_errors:
        raise typer.Exit(1)
