"""``shoptrack test-order INTEGRATION``: places a test order (or says how to place one by hand),
follows it through shoptrack with a live display of its steps, says where it stopped and which of
the doctor's findings explain it, then cancels it. Exits 1 when it stopped."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table

from shoptrack.cli._common import AccountOption, JsonOption, console, in_account, print_json
from shoptrack.cli.doctor import print_finding

if TYPE_CHECKING:
    from shoptrack.doctor import Finding
    from shoptrack.order_probe import OrderProbeRun

__all__ = ["follow_test_order", "render_run"]

# By the states' and severities' values: the run's modules load only when the command runs,
# so that every other command starts fast.
_MARKS = {"done": "[green]✓[/green]", "failed": "[red]✗[/red]", "skipped": "[dim]-[/dim]"}
_SEVERITY = {"error": "[red]error[/red]", "warning": "[yellow]warning[/yellow]"}
_EVIDENCE_WIDTH = 300


def _steps_table(run: OrderProbeRun, *, live: bool) -> Table:
    """One row per step; the step being waited for spins while ``live``."""
    from shoptrack.order_probe import StepState

    table = Table.grid(padding=(0, 1))
    waiting_seen = False
    for step in run.steps:
        mark: object
        if step.state is StepState.WAITING:
            mark = Spinner("dots") if live and not waiting_seen else "[dim]·[/dim]"
            waiting_seen = True
        else:
            mark = _MARKS[step.state]
        table.add_row(mark, f"[bold]{escape(step.title)}[/bold]", escape(step.detail))
    return table


def _render_finding(console: Console, finding: Finding) -> None:
    text = ""
    if finding.evidence:
        text = orjson.dumps(dict(finding.evidence)).decode()
        if len(text) > _EVIDENCE_WIDTH:
            text = text[: _EVIDENCE_WIDTH - 1] + "…"
    print_finding(console, finding, mark=_SEVERITY[finding.severity], indent=4, evidence=text)


def render_run(console: Console, run: OrderProbeRun) -> None:
    """The run's steps, then where it stopped and the findings that explain it."""
    from shoptrack.order_probe import StepState

    console.print(
        f"test order for {escape(run.email)} on {run.platform} integration {run.integration_id}"
        + (f": order {escape(run.order_id)}" if run.order_id else "")
    )
    console.print(_steps_table(run, live=False))
    if run.succeeded:
        console.print("[green]the test order went all the way through shoptrack[/green]")
        return
    stopped = run.stopped_at or next(s.key for s in run.steps if s.state is StepState.FAILED)
    step = run.step(stopped)
    console.print(
        f"[red]stopped at {escape(step.title)}[/red]: {escape(step.detail)}", soft_wrap=True
    )
    if run.order_trace:
        console.print(
            f"  order: {escape(str(run.order_trace.get('explanation', '')))}", soft_wrap=True
        )
    if run.findings:
        console.print("what the doctor finds:")
        for finding in run.findings:
            _render_finding(console, finding)
    elif run.stopped_at is not None:
        console.print("the doctor finds no warning or error; see `shoptrack doctor` for the rest")


def follow_test_order(
    integration: Annotated[str, typer.Argument(help="The integration's id.")],
    *,
    email: Annotated[
        str | None,
        typer.Option(help="The order's email (default: test-order+<time>@shoptrack.invalid)."),
    ] = None,
    order: Annotated[
        str | None,
        typer.Option(help="Follow this order (the platform's id), placed by hand, instead."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the order to go through.")
    ] = 120,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the test order on the store (not cancelled).")
    ] = False,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Place a test order through the store's API (or say how to place one by hand), follow it
    (delivery, order state, Placed Order, profile), explain where it stopped, then cancel it.
    Exits 1 when it stopped."""
    from shoptrack.order_probe import MANUAL_STEPS, OrderProbeOptions, run_order_probe

    services, account_id = in_account(account, integration)
    options = OrderProbeOptions(email=email, order_id=order, timeout=timeout, keep=keep)
    quiet = as_json or not sys.stderr.isatty()
    told_manual = False

    with Live(
        console=Console(stderr=True, quiet=quiet), refresh_per_second=8, transient=True
    ) as live:
        # Above the live display where there is one, else plainly on stderr.
        notes = Console(stderr=True) if quiet else live.console

        def show(run: OrderProbeRun) -> None:
            nonlocal told_manual
            if run.manual and run.order_id is None and not told_manual and not as_json:
                told_manual = True
                # Printed above the live display, where it stays: the merchant acts on it.
                notes.print(
                    f"{run.platform} has no API to place orders; place one by hand, shoptrack "
                    "waits for it:"
                )
                for number, text in enumerate(MANUAL_STEPS, 1):
                    notes.print(f"  {number}. {text}")
            live.update(Group(_steps_table(run, live=True)))

        result = run_order_probe(services, account_id, integration, options, on_change=show)
    if as_json:
        print_json({"data": result.as_json()})
    else:
        render_run(console, result)
    if not result.succeeded:
        raise typer.Exit(1)
