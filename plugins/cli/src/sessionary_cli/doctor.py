"""``sessionary doctor``: can the store be reached, is its schema current, did every plugin
load, and does no name belong to two plugins."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sessionary.errors import SessionaryError
from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import open_db
from sessionary_cli.errors import ExitCode, code_for
from sessionary_cli.options import create_option, db_option, json_option, missing_store
from sessionary_cli.plugins import with_clashes

__all__ = ["doctor"]

#: One line of the report: what was checked, what was found, and whether it is fine.
Check = tuple[str, str, bool]


def _plugin_checks() -> list[Check]:
    checks: list[Check] = []
    for record in with_clashes(get_plugin_host().records):
        ok = record.status in ("loaded", "disabled")
        detail = record.status if record.error is None else f"{record.status}: {record.error}"
        checks.append((f"plugin {record.name} {record.version or ''}".strip(), detail, ok))
    return checks


def _store_checks(db_url: str | None, create: bool, problems: list[ExitCode]) -> list[Check]:
    if not db_url:
        return [("store", "no --db given (or SESSIONARY_DB)", True)]
    missing = None if create else missing_store(db_url)
    if missing is not None:
        problems.append(ExitCode.UNREACHABLE)
        return [("store", missing, False)]
    checks: list[Check] = []
    try:
        with open_db(db_url) as store:
            store.ping()
            checks.append(("store", f"{store.name}: reachable", True))
            status = store.schema_status()
            current = f"schema {status.current} (latest {status.latest})"
            if status.needs_migration:
                checks.append(("schema", f"{current}: run sessionary migrate", False))
                problems.append(ExitCode.SCHEMA)
            else:
                checks.append(("schema", current, True))
    except SessionaryError as exc:
        checks.append(("store", str(exc), False))
        problems.append(code_for(exc))
    return checks


@click.command()
@db_option
@create_option
@json_option
def doctor(db_url: str | None, create: bool, as_json: bool) -> None:
    """Check the store and the installed plugins; exit non-zero if anything is wrong.

    A store that does not exist (a mistyped SQLite path) is reported and exits 5; it is
    not created unless ``--create`` is given.
    """
    problems: list[ExitCode] = []
    checks = _plugin_checks()
    problems += [ExitCode.ERROR for _, _, ok in checks if not ok]
    checks += _store_checks(db_url, create, problems)
    if as_json:
        report = [{"check": name, "result": result, "ok": ok} for name, result, ok in checks]
        click.echo(json.dumps({"ok": not problems, "checks": report}, ensure_ascii=False, indent=2))
    else:
        table = Table(title="sessionary doctor")
        table.add_column("check")
        table.add_column("result")
        for name, result, ok in checks:
            table.add_row(escape(name), escape(result) if ok else f"[red]{escape(result)}[/red]")
        Console().print(table)
    if problems:
        raise SystemExit(int(problems[0]))
