"""Rich renderings shared by the commands: the inbox table and a transcript."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sessionary.domain.messages import Role
from sessionary.domain.sessions import Session, SessionInfo

__all__ = ["inbox_table", "print_transcript", "when"]


def when(timestamp: float) -> str:
    """An epoch timestamp as local date and time to the second."""
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def inbox_table(sessions: Iterable[SessionInfo], title: str = "Sessions") -> Table:
    """The inbox: one row a session, newest first as given."""
    table = Table(title=title)
    for column in (
        "name",
        "session",
        "user",
        "agent/team",
        "runs",
        "last activity",
        "status",
        "named by",
    ):
        table.add_column(column, overflow="fold")
    for info in sessions:
        owner = info.owner_id or ""
        if info.session_type.value == "team" and owner:
            owner = f"team:{owner}"
        table.add_row(
            info.name or Text("(unnamed)", style="dim"),
            info.session_id,
            info.user_id or "",
            owner,
            str(info.run_count),
            when(info.updated_at),
            info.last_run_status.value if info.last_run_status else "",
            info.name_source or "",
        )
    return table


def print_transcript(console: Console, session: Session) -> None:
    """Every run's messages, with tool calls folded to one line each."""
    title = session.name or session.session_id
    console.print(f"[bold]{title}[/bold]  ({session.session_id}, user {session.user_id or '-'})")
    for run in session.runs:
        member = f" [member run of {run.parent_run_id}]" if run.parent_run_id else ""
        console.print(f"[dim]-- run {run.run_id} {run.status.value}{member}[/dim]")
        for message in run.messages:
            if message.role is Role.SYSTEM:
                continue
            if message.tool_calls:
                for call in message.tool_calls:
                    arguments = json.dumps(call.arguments, ensure_ascii=False)
                    console.print(
                        f"  [magenta]tool call[/magenta] {call.name}({arguments})",
                        markup=True,
                        highlight=False,
                    )
            if message.role is Role.TOOL:
                text = (message.content or "").replace("\n", " ")
                short = text if len(text) <= 80 else text[:77] + "..."
                console.print(
                    f"  [magenta]tool result[/magenta] {message.name}: {short}", highlight=False
                )
            elif message.content:
                style = "cyan" if message.role is Role.USER else "green"
                console.print(f"[{style}]{message.role.value:>9}[/{style}]: ", end="")
                console.print(message.content, markup=False, highlight=False)
        if run.error:
            console.print(f"  [red]error[/red]: {run.error}", highlight=False)
