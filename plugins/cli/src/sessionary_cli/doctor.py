"""``sessionary doctor``: can the store be reached, is its schema current, did every plugin
load, and does no name belong to two plugins."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from sessionary.errors import SessionaryError
from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import open_db
from sessionary_cli.errors import ExitCode, code_for
from sessionary_cli.options import db_option
from sessionary_cli.plugins import with_clashes

__all__ = ["doctor"]


@click.command()
@db_option
def doctor(db_url: str | None) -> None:
    """Check the store and the installed plugins; exit non-zero if anything is wrong."""
    console = Console()
    table = Table(title="sessionary doctor")
    table.add_column("check")
    table.add_column("result")
    problems: list[ExitCode] = []
    for record in with_clashes(get_plugin_host().records):
        ok = record.status in ("loaded", "disabled")
        detail = record.status if record.error is None else f"{record.status}: {record.error}"
        table.add_row(
            f"plugin {record.name} {record.version or ''}".strip(),
            detail if ok else f"[red]{detail}[/red]",
        )
        if not ok:
            problems.append(ExitCode.ERROR)
    if not db_url:
        table.add_row("store", "[yellow]no --db given (or SESSIONARY_DB)[/yellow]")
    else:
        try:
            with open_db(db_url) as store:
                store.ping()
                table.add_row("store", f"{store.name}: reachable")
                status = store.schema_status()
                current = f"schema {status.current} (latest {status.latest})"
                if status.needs_migration:
                    table.add_row("schema", f"[red]{current}: run sessionary migrate[/red]")
                    problems.append(ExitCode.SCHEMA)
                else:
                    table.add_row("schema", current)
        except SessionaryError as exc:
            table.add_row("store", f"[red]{exc}[/red]")
            problems.append(code_for(exc))
    console.print(table)
    if problems:
        raise SystemExit(int(problems[0]))
