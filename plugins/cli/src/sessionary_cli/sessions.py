"""``sessionary sessions``: list and show the sessions of any store."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console

from sessionary.codec import encode_session, encode_session_info
from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import SessionNotFoundError
from sessionary.storage.base import MAX_LIST_LIMIT
from sessionary.storage.listing import ORDERS
from sessionary_cli.errors import handle_errors
from sessionary_cli.lazy import LazyGroup
from sessionary_cli.options import create_option, db_option, open_store
from sessionary_cli.render import inbox_table, print_transcript
from sessionary_cli.times import parse_time

__all__ = ["sessions"]


@click.group(
    cls=LazyGroup,
    lazy={
        "rename": "sessionary_cli.manage:rename",
        "autoname": "sessionary_cli.autoname:autoname",
        "delete": "sessionary_cli.manage:delete",
        "erase-user": "sessionary_cli.manage:erase_user",
        "export": "sessionary_cli.transfer:export_sessions",
        "import": "sessionary_cli.transfer:import_sessions",
        "prune": "sessionary_cli.prune:prune",
        "migrate": "sessionary_cli.admin:migrate",
        "doctor": "sessionary_cli.doctor:doctor",
    },
)
def sessions() -> None:
    """List, show and manage sessions in a store."""


@sessions.command("list")
@db_option
@click.option("--user", "user_id", help="Only this user's sessions.")
@click.option("--agent", "agent_id", help="Only this agent's sessions.")
@click.option("--team", "team_id", help="Only this team's sessions.")
@click.option("--name", "name_contains", help="Only sessions whose name contains this.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in RunStatus]),
    help="Only sessions whose last run has this status.",
)
@click.option(
    "--paused", "has_paused", is_flag=True, default=None, help="Only sessions with paused runs."
)
@click.option(
    "--active-after", metavar="TIME", callback=parse_time, help="Last run at or after this time."
)
@click.option(
    "--active-before", metavar="TIME", callback=parse_time, help="Last run before this time."
)
@click.option(
    "--created-after", metavar="TIME", callback=parse_time, help="Created at or after this time."
)
@click.option(
    "--created-before", metavar="TIME", callback=parse_time, help="Created before this time."
)
@click.option(
    "--order-by",
    type=click.Choice(list(ORDERS)),
    default="last_run_at",
    show_default=True,
    help="Newest first by last activity, by any update, or by creation.",
)
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(1, MAX_LIST_LIMIT),
    help="Sessions per page.",
)
@click.option("--cursor", help="Continue from the cursor a previous page printed.")
@click.option("--all", "every", is_flag=True, help="Every matching session, page after page.")
@create_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def list_sessions(
    db_url: str | None,
    user_id: str | None,
    agent_id: str | None,
    team_id: str | None,
    name_contains: str | None,
    status: str | None,
    has_paused: bool | None,
    active_after: float | None,
    active_before: float | None,
    created_after: float | None,
    created_before: float | None,
    order_by: str,
    limit: int,
    cursor: str | None,
    every: bool,
    create: bool,
    as_json: bool,
) -> None:
    """The inbox: sessions by last activity, newest first, one page at a time (``--all``:
    every one), with the total that match (``--paused``: the approval queue)."""
    filters: dict[str, Any] = {
        "user_id": user_id,
        "agent_id": agent_id,
        "team_id": team_id,
        "name_contains": name_contains,
        "status": status,
        "has_paused": has_paused,
        "active_after": active_after,
        "active_before": active_before,
        "created_after": created_after,
        "created_before": created_before,
    }
    items: list[SessionInfo] = []
    with open_store(db_url, create=create) as store:
        total = store.count_sessions(**filters)
        while True:
            page = store.list_sessions(
                **filters,
                order_by=order_by,
                limit=MAX_LIST_LIMIT if every else limit,
                cursor=cursor,
            )
            items.extend(page.items)
            cursor = page.next_cursor
            if not every or cursor is None:
                break
    if as_json:
        sessions = [encode_session_info(i) for i in items]
        listing = {"sessions": sessions, "total": total, "next_cursor": cursor}
        click.echo(json.dumps(listing, ensure_ascii=False, indent=2))
        return
    console = Console()
    console.print(inbox_table(items, width=console.width, caption=f"{len(items)} of {total}"))
    if cursor:
        console.print(f"more: --cursor {cursor} (or --all)", highlight=False, soft_wrap=True)


@sessions.command("show")
@click.argument("session_id")
@db_option
@click.option("--user", "user_id", help="Act for this user (another user's session is not found).")
@click.option("--json", "as_json", is_flag=True, help="Print the session as JSON.")
@handle_errors
def show_session(db_url: str | None, session_id: str, user_id: str | None, as_json: bool) -> None:
    """One session's transcript, tool calls folded."""
    with open_store(db_url) as store:
        session = store.get_session(session_id, user_id=user_id)
    if session is None:
        raise SessionNotFoundError(session_id, user_id)
    if as_json:
        click.echo(json.dumps(encode_session(session), ensure_ascii=False, indent=2))
        return
    print_transcript(Console(), session)
