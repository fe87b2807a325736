"""``shoptrack integrations …``: connecting stores, listing them (a table; ``--json`` prints
the document ``GET /api/integrations`` answers with), showing one as labels and values,
changing and removing them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from shoptrack.cli._common import AccountOption, JsonOption, console, in_account, print_json
from shoptrack.clock import relative

if TYPE_CHECKING:
    from shoptrack.integrations import ConnectResult
    from shoptrack.services import Services

__all__ = ["integrations_app"]

integrations_app = typer.Typer(help="Connected stores.", no_args_is_help=True)


def _pairs(values: list[str] | None, option: str, *, parse_json: bool) -> dict[str, Any]:
    """``key=value`` options as a dict; with ``parse_json`` a value that reads as JSON (a list,
    a number, true) is taken as such."""
    pairs: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r}: write KEY=VALUE", param_hint=option)
        parsed: Any = value
        if parse_json:
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                parsed = value
        pairs[key.strip()] = parsed
    return pairs


CredentialOption = Annotated[
    list[str] | None,
    typer.Option("--credential", "-c", help="A credential as KEY=VALUE (repeatable)."),
]
SettingOption = Annotated[
    list[str] | None,
    typer.Option("--setting", "-s", help="A setting as KEY=VALUE; JSON values allowed."),
]


def _integration_document(services: Services, integration_id: str) -> dict[str, Any]:
    from shoptrack.api.resources import integration_resource
    from shoptrack.integrations import integration_view

    return integration_resource(
        integration_view(services, integration_id), services.settings.public_base
    )


def _print_connected(services: Services, result: ConnectResult, as_json: bool) -> None:
    from shoptrack.api.resources import connected_document
    from shoptrack.integrations import integration_view

    view = integration_view(services, result.integration.id)
    document = connected_document(view, result, services.settings.public_base)
    if as_json:
        print_json(document)
        return
    attributes = document["data"]["attributes"]
    console.print(
        f"integration {result.integration.id}: {attributes['platform']} "
        f"{attributes['name']!r}, health {attributes['health']}"
    )
    console.print(f"webhook URL: {attributes['webhook_url']}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


@integrations_app.command("add")
def integrations_add(
    platform: str,
    name: Annotated[str, typer.Option(help="What to call this store.")],
    credential: CredentialOption = None,
    setting: SettingOption = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect a store; its credentials are checked against it first."""
    from shoptrack.integrations import connect

    services, account_id = in_account(account)
    result = connect(
        services,
        account_id=account_id,
        platform=platform,
        name=name,
        credentials=_pairs(credential, "--credential", parse_json=False),
        settings=_pairs(setting, "--setting", parse_json=True),
    )
    _print_connected(services, result, as_json)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _last_sync(attributes: dict[str, Any], now: datetime) -> str:
    """The latest sync as a person reads it: how it ended, and when."""
    last = attributes["last_sync"]
    if last is None:
        return "never"
    if last["state"] == "running":
        return f"running since {relative(_moment(last['started']), now)}"
    return f"{last['state']} {relative(_moment(last['finished'] or last['started']), now)}"


def _next_sync(attributes: dict[str, Any], now: datetime) -> str:
    moment = _moment(attributes["next_sync_at"])
    if not attributes["enabled"] or moment is None:
        return "—"
    return "due now" if moment <= now else relative(moment, now)


@integrations_app.command("list")
def integrations_list(account: AccountOption = None, as_json: JsonOption = False) -> None:
    """List the connected stores (a table; --json for scripts)."""
    from shoptrack.cli._output import Column, print_table
    from shoptrack.store.integrations import list_integrations

    services, account_id = in_account(account)
    with services.database.read() as connection:
        found = list_integrations(connection, account_id)
    documents = [_integration_document(services, i.id) for i in found]
    if as_json:
        print_json({"data": documents})
        return
    now = services.clock.now()
    columns = [
        Column("ID"),
        Column("Name", wrap=True),
        Column("Platform"),
        Column("Health"),
        Column("Enabled"),
        Column("Last sync"),
        Column("Next sync"),
    ]
    rows = []
    for document in sorted(documents, key=lambda d: d["attributes"]["name"].lower()):
        attributes = document["attributes"]
        rows.append(
            [
                document["id"],
                attributes["name"],
                attributes["platform"],
                attributes["health"],
                "yes" if attributes["enabled"] else "no",
                _last_sync(attributes, now),
                _next_sync(attributes, now),
            ]
        )
    print_table(
        console,
        columns,
        rows,
        empty="no integrations yet: connect a store with `shoptrack integrations add PLATFORM`",
    )


@integrations_app.command("show")
def integrations_show(
    integration: str, account: AccountOption = None, as_json: JsonOption = False
) -> None:
    """Show one integration, its settings and its last sync."""
    from shoptrack.cli._output import local_time, print_fields
    from shoptrack.store.integrations import get_integration

    services, account_id = in_account(account, integration)
    with services.database.read() as connection:
        get_integration(connection, account_id, integration)
    document = _integration_document(services, integration)
    if as_json:
        print_json({"data": document})
        return
    now = services.clock.now()
    attributes = document["attributes"]
    detail = attributes["health_detail"] or {}
    health = attributes["health"]
    if detail.get("detail"):
        health = f"{health}: {detail['detail']}"
    fields: list[tuple[str, object]] = [
        ("ID", document["id"]),
        ("Name", attributes["name"]),
        ("Platform", attributes["platform"]),
        ("Enabled", "yes" if attributes["enabled"] else "no"),
        ("Health", health),
        ("Webhook URL", attributes["webhook_url"]),
        ("Credentials set", ", ".join(attributes["credential_fields"]) or "none"),
        ("Connected", local_time(_moment(attributes["created"]), now)),
        ("Next sync", _next_sync(attributes, now)),
    ]
    last = attributes["last_sync"]
    if last is None:
        fields.append(("Last sync", "never"))
    else:
        fields.append(
            ("Last sync", f"{last['state']}, {local_time(_moment(last['started']), now)}")
        )
        read = (
            f"{last['orders_seen']} orders, {last['rows_written']} new, "
            f"{last['events_recorded']} events recorded"
        )
        fields.append(("  what it read", read))
        if last["error"]:
            fields.append(("  error", last["error"]["detail"]))
    for name, value in sorted(attributes["settings"].items()):
        shown = value
        if isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, dict | list):
            shown = orjson.dumps(value).decode()
        fields.append((f"setting {name}", shown))
    print_fields(console, fields)


@integrations_app.command("update")
def integrations_update(
    integration: str,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    credential: CredentialOption = None,
    setting: SettingOption = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn the integration on or off.")
    ] = None,
    account: AccountOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change an integration; credentials and settings are merged key by key."""
    from shoptrack.integrations import update

    services, account_id = in_account(account, integration)
    settings = _pairs(setting, "--setting", parse_json=True)
    if enable is not None:
        settings["enabled"] = enable
    result = update(
        services,
        account_id=account_id,
        integration_id=integration,
        name=name,
        credentials=_pairs(credential, "--credential", parse_json=False) or None,
        settings=settings or None,
    )
    _print_connected(services, result, as_json)


@integrations_app.command("remove")
def integrations_remove(integration: str, account: AccountOption = None) -> None:
    """Remove an integration; its events and metrics stay."""
    from shoptrack.integrations import remove

    services, account_id = in_account(account, integration)
    remove(services, account_id=account_id, integration_id=integration)
    console.print(f"integration {integration} removed (its events and metrics stay)")
