"""The CLI as people read it: tables with a header row that fit a terminal and stay one line a
row when piped, a sentence for an empty list, errors naming the command's options, a busy port
answered with how to choose another, sync progress a log can read, and ``--json`` on every
listing."""

from __future__ import annotations

import io
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from shoptrack.cli._output import Column, local_time, print_fields, print_table
from shoptrack.cli.progress import SyncReport
from shoptrack.pipeline.sync import SyncProgress
from tests.processes import environment, run_cli

COLUMNS = [Column("ID"), Column("Name", wrap=True), Column("Platform"), Column("Last sync")]
ROWS = [
    [
        "01J0000000000000000000000A",
        "The very long name of a store that sells many things",
        "woo",
        "4 minutes ago",
    ],
    ["01J0000000000000000000000B", "Shop", "shopify", "never"],
]


def _console(*, terminal: bool, width: int) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=width, soft_wrap=not terminal), out


def test_a_table_in_a_terminal_has_a_header_and_fits_its_width() -> None:
    console, out = _console(terminal=True, width=70)
    print_table(console, COLUMNS, ROWS, empty="nothing")
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert all(len(_plain(line)) <= 70 for line in lines)
    assert _plain(lines[0]).split() == ["ID", "Name", "Platform", "Last", "sync"]
    text = _plain(out.getvalue())
    # Ids are never broken across lines; a long name wraps inside its column.
    assert "01J0000000000000000000000A" in text
    assert "01J0000000000000000000000B" in text
    assert "4 minutes ago" in text


def _plain(text: str) -> str:
    """Text without the terminal's colour codes."""

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_a_piped_table_is_one_line_a_row_in_fixed_columns() -> None:
    console, out = _console(terminal=False, width=40)
    print_table(console, COLUMNS, ROWS, empty="nothing")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3  # header and two rows, however narrow the imagined width
    header, first, second = lines
    assert header.split() == ["ID", "Name", "Platform", "Last", "sync"]
    assert first.startswith("01J0000000000000000000000A  The very long name")
    # Every column starts where its header does.
    for title in ("Name", "Platform", "Last sync"):
        column = header.index(title)
        assert first[column - 2 : column] == "  "
        assert second[column - 2 : column] == "  "
    assert second[header.index("Platform") :].startswith("shopify")
    assert "\x1b" not in out.getvalue()


def test_an_empty_table_is_a_sentence() -> None:
    for terminal in (True, False):
        console, out = _console(terminal=terminal, width=80)
        print_table(console, COLUMNS, [], empty="no integrations yet: add one")
        assert _plain(out.getvalue()).strip() == "no integrations yet: add one"


def test_fields_are_aligned_labels_and_values() -> None:
    console, out = _console(terminal=False, width=30)
    print_fields(console, [("ID", "01J0000000000000000000000A"), ("Webhook URL", "x" * 60)])
    assert out.getvalue().splitlines() == [
        "ID           01J0000000000000000000000A",
        f"Webhook URL  {'x' * 60}",
    ]


def test_times_are_local_and_relative() -> None:
    now = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    text = local_time(now - timedelta(minutes=4), now)
    assert text.endswith("(4 minutes ago)")
    assert text.startswith(f"{(now - timedelta(minutes=4)).astimezone():%Y-%m-%d %H:%M}")
    assert local_time(None, now) == "never"


def test_sync_progress_in_a_log_is_lines_with_counts() -> None:
    console, out = _console(terminal=False, width=80)
    with SyncReport(console, "importing order history") as report:
        report.start("Woo store")
        for page in range(1, 11):
            report.update("Woo store", SyncProgress("run", page, page * 40, 400))
        report.done("Woo store")
        report.start("PrestaShop store")
        for page in range(1, 13):
            report.update("PrestaShop store", SyncProgress("run", page, page * 10, None))
        report.done("PrestaShop store")
    lines = out.getvalue().splitlines()
    assert lines[0] == "importing order history: Woo store: starting"
    assert "importing order history: Woo store: 40/400 orders, 1 page" in lines
    assert "importing order history: Woo store: 400/400 orders, 10 pages" in lines
    assert lines.count("importing order history: Woo store: done, 400/400 orders, 10 pages") == 1
    # Without a total: counts, never "0/?", every tenth page.
    presta = [line for line in lines if "PrestaShop" in line]
    assert presta == [
        "importing order history: PrestaShop store: starting",
        "importing order history: PrestaShop store: 10 orders, 1 page",
        "importing order history: PrestaShop store: 110 orders, 11 pages",
        "importing order history: PrestaShop store: done, 120 orders, 12 pages",
    ]
    assert not any("?" in line for line in lines)


def test_processing_a_long_sync_waits_for_shows_its_progress() -> None:
    console, out = _console(terminal=False, width=80)
    with SyncReport(console, "sync") as report:
        report.start("Woo store")
        report.update("Woo store", SyncProgress("run", 10, 1_000, 1_000))
        report.done("Woo store")
        for done in (0, 40, 150, 160, 990, 1_000):
            report.processed("Woo store", done, 1_000)
    assert [line for line in out.getvalue().splitlines() if "processing" in line] == [
        "sync: Woo store: processing, 0/1000 rows processed",
        "sync: Woo store: processing, 150/1000 rows processed",
        "sync: Woo store: processing, 990/1000 rows processed",
        "sync: Woo store: processing, 1000/1000 rows processed",
    ]

    console, out = _console(terminal=True, width=80)
    with SyncReport(console, "sync") as report:
        report.start("Woo store")
        report.done("Woo store")
        report.processed("Woo store", 250, 1_000)
        console.file.flush()
        shown = _plain(out.getvalue())
    assert "sync: Woo store processing" in shown
    assert "250/1000 rows" in shown


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    env = environment(database_url, tmp_path / "data")
    assert run_cli(env, "accounts", "create", "Acme").returncode == 0
    return env


def test_empty_lists_say_so(env: dict[str, str]) -> None:
    flows = run_cli(env, "flows", "list")
    assert flows.returncode == 0, flows.stderr
    assert flows.stdout.strip() == (
        "no flows yet: create one from the library with `shoptrack flows create TEMPLATE`"
    )
    integrations = run_cli(env, "integrations", "list")
    assert integrations.stdout.startswith("no integrations yet")
    accounts = run_cli(env, "accounts", "list")
    assert accounts.stdout.splitlines()[0].split() == ["ID", "Name", "Public", "key"]
    assert accounts.stdout.splitlines()[1].split()[1] == "Acme"


def test_a_flow_without_its_metric_names_the_option(env: dict[str, str]) -> None:
    result = run_cli(env, "flows", "create", "post-purchase")
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith("error: --metric: the account has no Placed Order metric yet")
    assert "trigger_metric_id" not in line
    unknown = run_cli(env, "flows", "create", "post-purchase", "--metric", "nope")
    assert unknown.stderr.strip() == "error: --metric: no metric nope in this account"


@pytest.mark.parametrize(
    "listing",
    [
        ("accounts", "list"),
        ("integrations", "list"),
        ("flows", "list"),
        ("users", "list"),
        ("alerts", "list"),
        ("alerts", "subscriptions"),
    ],
)
def test_every_listing_has_json(env: dict[str, str], listing: tuple[str, ...]) -> None:
    result = run_cli(env, *listing, "--json")
    assert result.returncode == 0, result.stderr
    document = orjson.loads(result.stdout)
    rows = document["data"] if isinstance(document, dict) else document
    assert isinstance(rows, list)
    assert len(rows) == (1 if listing == ("accounts", "list") else 0)


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_a_busy_port_says_how_to_choose_another(tmp_path: Path, command: str) -> None:
    env = environment(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(env, command, "--port", str(port))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: port {port} on 127.0.0.1 is already in use (another shoptrack or another "
        f"program listens there): choose another with `shoptrack {command} --port {port + 1}`, "
        "or --port 0 for any free port\n"
    )
