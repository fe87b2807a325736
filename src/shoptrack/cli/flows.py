"""``shoptrack flows …``: list, create from the library, show, change status, retarget after a
platform switch, run due steps, and the account's From address. ``--json`` prints the document
the HTTP API returns."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shoptrack.cli._common import (
    AccountOption,
    JsonOption,
    build_services,
    console,
    in_account,
    print_json,
)

__all__ = ["flows_app"]

flows_app = typer.Typer(help="Flows: automations started by live events.", no_args_is_help=True)


def _line(document: dict[str, Any]) -> str:
    attributes = document["attributes"]
    return (
        f"{document['id']}  {attributes['status']:<6} "
        f"{'archived ' if attributes['archived'] else ''}{attributes['name']}"
        f"  ({attributes['template'] or 'custom'}, metric {attributes['trigger_metric_id']})"
    )


@flows_app.command("list")
def flows_list(account: AccountOption = None, as_json: JsonOption = False) -> None:
    """List the account's flows (a table; --json for scripts)."""
    from shoptrack.api.resources import flow_resource
    from shoptrack.cli._output import Column, print_table
    from shoptrack.clock import relative
    from shoptrack.store.events import metrics_by_id
    from shoptrack.store.flows import list_flows

    services, account_id = in_account(account)
    with services.database.read() as connection:
        found = list_flows(connection, account_id, limit=10_000)
        metrics = metrics_by_id(connection, account_id, [f.trigger_metric_id for f in found])
    if as_json:
        print_json({"data": [flow_resource(flow, services.settings.public_base) for flow in found]})
        return
    now = services.clock.now()
    rows = []
    for flow in found:
        metric = metrics.get(flow.trigger_metric_id)
        source = metric.integration.get("name") if metric is not None else None
        trigger = (
            flow.trigger_metric_id
            if metric is None
            else f"{metric.name} ({source or 'API'}) {metric.id}"
        )
        rows.append(
            [
                flow.id,
                flow.name,
                flow.status.value + (", archived" if flow.archived else ""),
                flow.template or "custom",
                trigger,
                relative(flow.updated_at, now),
            ]
        )
    columns = [
        Column("ID"),
        Column("Name", wrap=True),
        Column("Status"),
        Column("Template"),
        Column("Trigger", wrap=True),
        Column("Changed"),
    ]
    print_table(
        console,
        columns,
        rows,
        empty="no flows yet: create one from the library with `shoptrack flows create TEMPLATE`",
    )


@flows_app.command("create")
def flows_create(
    template: Annotated[
        str,
        typer.Argument(
            help="A library flow: post-purchase, abandoned-checkout, browse-abandonment, "
            "win-back, order-fulfilled, order-cancelled, order-refunded."
        ),
    ],
    metric: Annotated[
        str | None,
        typer.Option(help="The trigger metric's id; optional when the account has only one."),
    ] = None,
    status: Annotated[str, typer.Option(help="draft, manual or live.")] = "draft",
    name: Annotated[str | None, typer.Option(help="A name instead of the template's.")] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a flow from the library; warns when its trigger metric has been quiet."""
    from shoptrack.api.resources import created_flow_document, diagnostics_url
    from shoptrack.cli._output import options_named
    from shoptrack.flows.service import FlowRequest, create_flow_now

    services, account_id = in_account(account)
    request = FlowRequest(
        account_id=account_id,
        template=template,
        trigger_metric_id=metric,
        status=status,
        name=name,
    )
    base = services.settings.public_base
    with options_named({"trigger_metric_id": "--metric", "status": "--status"}):
        created = create_flow_now(services, request, diagnostics_url=diagnostics_url(base))
    document = created_flow_document(created, base)
    if as_json:
        print_json(document)
        return
    console.print(f"flow {_line(document['data'])}", highlight=False)
    for warning in document["meta"]["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning['detail']}", highlight=False)


@flows_app.command("show")
def flows_show(flow: str, account: AccountOption = None, as_json: JsonOption = False) -> None:
    """Show a flow, its definition and its statistics."""
    from shoptrack.api.resources import flow_resource, statistics_resource
    from shoptrack.store.flows import flow_statistics, get_flow

    services, account_id = in_account(account)
    with services.database.read() as connection:
        found = get_flow(connection, account_id, flow)
        statistics = flow_statistics(connection, found, services.clock.now())
    base = services.settings.public_base
    document = {
        "data": flow_resource(found, base, definition=True),
        "included": [statistics_resource(found, statistics, base)],
    }
    if as_json:
        print_json(document)
        return
    console.print_json(data=document)


@flows_app.command("set-status")
def flows_set_status(
    flow: str,
    status: Annotated[str, typer.Argument(help="draft, manual or live.")],
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a flow's status: draft (nobody enters), manual (nothing sent) or live."""
    from shoptrack.api.resources import flow_resource
    from shoptrack.flows.service import Safeguards, set_status

    services, account_id = in_account(account)
    with services.database.write() as connection:
        changed = set_status(
            connection,
            account_id,
            flow,
            services.clock.now(),
            safeguards=Safeguards.of(services),
            status=status,
        )
    document = flow_resource(changed, services.settings.public_base)
    if as_json:
        print_json({"data": document})
        return
    console.print(f"flow {_line(document)}", highlight=False)


@flows_app.command("retarget")
def flows_retarget(
    from_metric: Annotated[str, typer.Option("--from-metric", help="The old metric's id.")],
    to_metric: Annotated[str, typer.Option("--to-metric", help="The new metric's id.")],
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Move the flows of one metric to another of the same name (after a platform switch)."""
    from shoptrack.api.resources import retarget_resource
    from shoptrack.flows.service import retarget

    services, account_id = in_account(account)
    with services.database.write() as connection:
        moved = retarget(connection, account_id, from_metric, to_metric, services.clock.now())
    document = {"data": retarget_resource(from_metric, to_metric, moved)}
    if as_json:
        print_json(document)
        return
    console.print(f"moved {len(moved)} flows to metric {to_metric}: {' '.join(moved)}")


@flows_app.command("run")
def flows_run(as_json: JsonOption = False) -> None:
    """Take every flow step that is due now and send its messages (serve and worker do this
    continuously)."""
    from shoptrack.flows.engine import FlowEngine

    services = build_services()
    engine = FlowEngine.from_services(services)
    try:
        report = engine.run_until_idle()
    finally:
        engine.close()
    document = {name: getattr(report, name) for name in report.__slots__}
    if as_json:
        print_json(document)
        return
    console.print(
        f"{report.emailed} emailed, {report.webhooks_sent} webhooks, {report.skipped} skipped, "
        f"{report.exited} exited, {report.completed} completed"
    )


@flows_app.command("sender")
def flows_sender(
    address: Annotated[
        str | None,
        typer.Argument(help='The From of this account\'s flow emails, e.g. "Shop <hi@shop.com>".'),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Go back to SHOPTRACK_EMAIL_FROM.")
    ] = False,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show or set the account's From address (a message's own From still comes first)."""
    import email.utils

    from shoptrack.store.flows import account_email_from, set_account_email_from

    if address is not None and "@" not in email.utils.parseaddr(address)[1]:
        raise typer.BadParameter(f"{address!r} is not an email address", param_hint="ADDRESS")
    services, account_id = in_account(account)
    with services.database.write() as connection:
        if address is not None or clear:
            set_account_email_from(connection, account_id, None if clear else address)
        own = account_email_from(connection, account_id)
    document = {"account_id": account_id, "email_from": own or services.settings.email_from}
    if as_json:
        print_json(document)
        return
    source = "account" if own else "SHOPTRACK_EMAIL_FROM"
    console.print(f"From: {document['email_from']} ({source})", highlight=False)
