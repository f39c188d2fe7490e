"""``sessionary import-agno``: move sessions from Agno's SqliteDb or PostgresDb into any store."""

from __future__ import annotations

import click
from rich.progress import Progress

from sessionary.errors import ConflictError
from sessionary_cli.agno import read_agno
from sessionary_cli.errors import handle_errors
from sessionary_cli.options import open_store

__all__ = ["import_agno"]


@click.command("import-agno")
@click.option(
    "--from",
    "source",
    required=True,
    metavar="URL",
    help="Agno's database (2.x or 3.x): sqlite:///path/to/agno.db, or its PostgresDb's "
    "postgresql://user@host:5432/db.",
)
@click.option(
    "--to",
    "target",
    envvar="SESSIONARY_DB",
    metavar="URL",
    help="The Sessionary store to write to (default: $SESSIONARY_DB).",
)
@click.option("--replace", is_flag=True, help="Replace sessions that already exist there.")
@click.option("--sessions-table", default="agno_sessions", show_default=True)
@click.option("--runs-table", default="agno_runs", show_default=True)
@click.option(
    "--schema",
    default="ai",
    show_default=True,
    help="PostgreSQL only: the schema of Agno's tables (PostgresDb's db_schema).",
)
@handle_errors
def import_agno(
    source: str,
    target: str | None,
    replace: bool,
    sessions_table: str,
    runs_table: str,
    schema: str,
) -> None:
    """Copy every agent and team session of an Agno SqliteDb or PostgresDb, every message."""
    imported = skipped = runs = 0
    with open_store(target) as store, Progress(transient=True) as progress:
        task = progress.add_task("importing", total=None)
        for session in read_agno(
            source, sessions_table=sessions_table, runs_table=runs_table, schema=schema
        ):
            try:
                store.import_session(session, replace=replace)
            except ConflictError:
                skipped += 1
            else:
                imported += 1
                runs += len(session.runs)
            progress.advance(task)
    click.echo(f"imported {imported} session(s) with {runs} run(s); skipped {skipped} existing")
