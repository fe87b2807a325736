"""``shoptrack watch`` and ``shoptrack alerts``: running the watchdog now (or on its schedule in
the foreground), and the account's alerts and who hears of them. ``--json`` prints the documents
``/api/alerts`` and ``/api/alert-subscriptions`` answer with."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from shoptrack.cli._common import (
    AccountOption,
    JsonOption,
    build_services,
    console,
    in_account,
    integration_names,
    print_json,
)

if TYPE_CHECKING:
    from shoptrack.alerts import WatchReport
    from shoptrack.store.alerts import AlertRecord

__all__ = ["alerts_app", "watch"]

alerts_app = typer.Typer(help="The watchdog's alerts and who hears of them.", no_args_is_help=True)

_MARKS = {"error": "[red]error  [/red]", "warning": "[yellow]warning[/yellow]"}


def _print_report(report: WatchReport) -> None:
    for account in report.accounts:
        console.print(
            f"[bold]{escape(account.name)}[/bold] ({account.account_id}): "
            f"{len(account.integrations)} integrations examined, {account.still_open} alerts open"
        )
        for alert in account.opened:
            console.print(f"  opened    {alert.code}  {escape(alert.summary)}", soft_wrap=True)
        for alert in account.resolved:
            console.print(f"  resolved  {alert.code}", soft_wrap=True)
        for integration_id in account.failed:
            console.print(f"  [red]could not examine integration {integration_id}[/red]")
        notices = account.notices
        if notices.notices:
            console.print(
                f"  told: {notices.emails} email, {notices.webhooks} webhooks"
                + (f", {notices.failed} failed (tried again next run)" if notices.failed else "")
            )
    finished = report.finished or report.started
    console.print(f"watched {len(report.accounts)} accounts at {finished.isoformat()}")


def watch(
    once: Annotated[
        bool, typer.Option("--once", help="Run now (after a run another process holds), then end.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the watchdog: the doctor on every account, alerts opened and resolved, subscribers
    told. Without --once it runs every SHOPTRACK_WATCH_INTERVAL_MINUTES until stopped, as the
    workers of `serve` and `worker` do."""
    import signal
    import threading

    from shoptrack.alerts import Watchdog

    services = build_services()
    watchdog = Watchdog.from_services(services)
    try:
        if once:
            report = watchdog.run_when_free()
            if as_json:
                print_json(report.as_json())
            else:
                _print_report(report)
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        console.print(
            f"shoptrack watchdog every {services.settings.watch_interval_minutes} minutes; "
            "Ctrl-C stops it"
        )
        while not stop.is_set():
            ran = watchdog.run_if_due()
            if ran is not None and not as_json:
                _print_report(ran)
            stop.wait(30)
    finally:
        watchdog.close()
        services.close()


def _alert_line(alert: AlertRecord, names: dict[str, str]) -> str:
    where = (
        names.get(alert.integration_id, f"integration {alert.integration_id}")
        if alert.integration_id
        else "the account"
    )
    state = (
        f"open since {alert.opened_at:%Y-%m-%d %H:%M}"
        if alert.is_open
        else f"resolved {alert.resolved_at:%Y-%m-%d %H:%M}"
    )
    mark = _MARKS.get(alert.severity, alert.severity) if alert.is_open else "[dim]resolved[/dim]"
    return (
        f"{mark}  [bold]{alert.code}[/bold] on {escape(where)} ({state}, id {alert.id})\n"
        f"           {escape(alert.summary)}"
    )


@alerts_app.command("list")
def alerts_list(
    show_all: Annotated[
        bool, typer.Option("--all", help="Resolved alerts too (newest first, after the open).")
    ] = False,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """The account's open alerts (with --all, their history too)."""
    from shoptrack.api.resources import alert_resource
    from shoptrack.store.alerts import list_alerts

    services, account_id = in_account(account)
    with services.database.read() as connection:
        found = list_alerts(
            connection, account_id, status=None if show_all else "open", limit=10_000
        )
    if as_json:
        base = services.settings.public_base
        print_json({"data": [alert_resource(alert, base) for alert in found]})
        return
    if not found:
        console.print("no open alerts" if not show_all else "no alerts")
        return
    names = integration_names(services, account_id)
    for alert in found:
        console.print(_alert_line(alert, names), soft_wrap=True)


@alerts_app.command("subscribe")
def alerts_subscribe(
    email: Annotated[str | None, typer.Option(help="An address to email alerts to.")] = None,
    webhook: Annotated[
        str | None, typer.Option(help="A URL to post signed alert webhooks to.")
    ] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Tell an email address or a webhook URL of the account's alerts (a webhook's secret is
    printed this once)."""
    from shoptrack.alerts import subscribe
    from shoptrack.api.resources import subscription_resource

    if (email is None) == (webhook is None):
        raise typer.BadParameter("give --email or --webhook (one)", param_hint="--email")
    services, account_id = in_account(account)
    made = subscribe(services, account_id, email=email, url=webhook)
    if as_json:
        resource = subscription_resource(
            made.subscription, services.settings.public_base, secret=made.secret
        )
        print_json({"data": resource})
        return
    subscription = made.subscription
    console.print(f"subscribed {escape(subscription.target)} (id {subscription.id})")
    if made.secret is not None:
        console.print(
            f"signing secret: {made.secret}  [dim](shown once: the receiver checks "
            "webhook-signature with it, the Standard Webhooks way)[/dim]"
        )


@alerts_app.command("unsubscribe")
def alerts_unsubscribe(
    subscription: Annotated[str | None, typer.Argument(help="The subscription's id.")] = None,
    email: Annotated[str | None, typer.Option(help="The subscribed address.")] = None,
    webhook: Annotated[str | None, typer.Option(help="The subscribed URL.")] = None,
    account: AccountOption = None,
) -> None:
    """Stop telling an address or URL of the account's alerts (by id, --email or --webhook)."""
    from shoptrack.alerts import unsubscribe

    if sum(value is not None for value in (subscription, email, webhook)) != 1:
        raise typer.BadParameter(
            "name the subscription: its id, --email or --webhook (one)", param_hint="SUBSCRIPTION"
        )
    services, account_id = in_account(account)
    removed = unsubscribe(
        services, account_id, subscription_id=subscription, email=email, url=webhook
    )
    console.print(f"unsubscribed {escape(removed.target)}")


@alerts_app.command("subscriptions")
def alerts_subscriptions(account: AccountOption = None, as_json: JsonOption = False) -> None:
    """Who hears of the account's alerts."""
    from shoptrack.alerts import subscriptions
    from shoptrack.api.resources import subscription_resource

    services, account_id = in_account(account)
    found = subscriptions(services, account_id)
    if as_json:
        base = services.settings.public_base
        print_json({"data": [subscription_resource(s, base) for s in found]})
        return
    for item in found:
        console.print(f"{item.id}  {item.channel:<8} {escape(item.target)}")
    if not found:
        console.print("nobody is told of the account's alerts: `shoptrack alerts subscribe`")
