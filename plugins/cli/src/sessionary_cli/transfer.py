"""``sessionary sessions export | import``: JSON Lines, one session a line, any store to any."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from typing import IO

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from sessionary.codec import CodecError, dumps, loads
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import ConflictError, CorruptRecordError, SessionaryError
from sessionary.storage.base import Store
from sessionary_cli.errors import ExitCode, fail, handle_errors, message_for
from sessionary_cli.options import db_option, json_option, open_store

__all__ = ["export_sessions", "import_sessions", "iter_infos"]


def progress_bar() -> Progress:
    """A progress bar on standard error, shown only when that is a terminal."""
    err = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _size(source: IO[str]) -> float | None:
    """The bytes left to read in ``source``, when it is a file (not a pipe)."""
    try:
        return float(os.fstat(source.fileno()).st_size) or None
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def iter_infos(
    store: Store,
    *,
    user_id: str | None = None,
    agent_id: str | None = None,
    team_id: str | None = None,
) -> Iterator[SessionInfo]:
    """Every session matching the filters, page by page, newest first."""
    cursor: str | None = None
    while True:
        page = store.list_sessions(
            user_id=user_id, agent_id=agent_id, team_id=team_id, limit=200, cursor=cursor
        )
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


@click.command("export")
@db_option
@click.option("--user", "user_id", help="Only this user's sessions.")
@click.option("--agent", "agent_id", help="Only this agent's sessions.")
@click.option("--team", "team_id", help="Only this team's sessions.")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="File to write (default: standard output).",
)
@handle_errors
def export_sessions(
    db_url: str | None,
    user_id: str | None,
    agent_id: str | None,
    team_id: str | None,
    output: IO[str],
) -> None:
    """Write sessions, with every run, as JSON Lines.

    A damaged session (a record that cannot be decoded, text that cannot be written as
    UTF-8) does not stop the export: every healthy session is written, each damaged one
    is named on stderr, and the command exits with the corrupt-record code at the end.
    """
    count = 0
    damaged: list[str] = []
    with open_store(db_url) as store, progress_bar() as progress:
        infos = list(iter_infos(store, user_id=user_id, agent_id=agent_id, team_id=team_id))
        task = progress.add_task("exporting", total=len(infos))
        for info in infos:
            progress.advance(task)
            try:
                session = store.get_session(info.session_id)
                if session is None:  # deleted while exporting
                    continue
                line = dumps(session) + "\n"
                line.encode("utf-8")  # all or nothing: never half a line
            except (CorruptRecordError, UnicodeError) as exc:
                damaged.append(info.session_id)
                click.echo(
                    f"damaged: session {info.session_id!r}: {message_for(exc)}".encode(
                        "utf-8", "backslashreplace"
                    ).decode("utf-8"),
                    err=True,
                )
                continue
            output.write(line)
            count += 1
    if damaged:
        output.flush()
        fail(
            f"exported {count} session(s), {len(damaged)} damaged and not exported",
            ExitCode.CORRUPT,
        )
    click.echo(f"exported {count} session(s)", err=True)


@click.command("import")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@db_option
@click.option("--replace", is_flag=True, help="Replace sessions that already exist.")
@json_option
@handle_errors
def import_sessions(source: IO[str], db_url: str | None, replace: bool, as_json: bool) -> None:
    """Read JSON Lines written by ``export`` into a store (made if it does not exist);
    existing sessions are skipped."""
    imported = skipped = 0
    bad: list[str] = []
    with open_store(db_url, create=True) as store, progress_bar() as progress:
        task = progress.add_task("importing", total=_size(source))
        for number, line in enumerate(source, start=1):
            progress.advance(task, len(line.encode("utf-8")))
            if not line.strip():
                continue
            try:
                session = loads(line)
                if not isinstance(session, Session):
                    raise CodecError(f"a {type(session).__name__}, not a session")
                store.import_session(session, replace=replace)
                imported += 1
            except ConflictError:
                skipped += 1
            except (CodecError, SessionaryError) as exc:
                bad.append(f"line {number}: {exc}")
            except UnicodeError as exc:
                bad.append(f"line {number}: {message_for(exc)}")
    if as_json:
        summary = {"imported": imported, "skipped": skipped, "bad_lines": bad}
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    click.echo(f"imported {imported} session(s), skipped {skipped} existing", err=True)
    if bad:
        for problem in bad[:20]:
            click.echo(f"  {problem}".encode("utf-8", "backslashreplace").decode(), err=True)
        fail(f"{len(bad)} line(s) could not be imported", ExitCode.BAD_INPUT)
    sys.stdout.flush()
