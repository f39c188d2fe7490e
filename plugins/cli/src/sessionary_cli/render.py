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


#: Inbox columns, most wanted first: a narrow terminal drops them from the end. The
#: session ID is never cut or wrapped (a script or a person copies it whole); the name
#: is cut with an ellipsis when it does not fit.
_COLUMNS = ("session", "name", "status", "last activity", "runs", "user", "agent/team", "named by")
_NAME_MIN = 20


def _row(info: SessionInfo) -> dict[str, str]:
    owner = info.owner_id or ""
    if info.session_type.value == "team" and owner:
        owner = f"team:{owner}"
    active = info.created_at if info.last_run_at is None else info.last_run_at
    return {
        "session": info.session_id,
        "name": info.name or "(unnamed)",
        "status": info.last_run_status.value if info.last_run_status else "",
        "last activity": when(active),
        "runs": str(info.run_count),
        "user": info.user_id or "",
        "agent/team": owner,
        "named by": info.name_source or "",
    }


def _widths(rows: list[dict[str, str]], width: int) -> dict[str, int]:
    """The columns that fit ``width`` cells and their widths, dropping the least wanted
    first; the name takes what is left (at least a few characters)."""

    def needed(column: str) -> int:
        return max([len(column), *(len(r[column]) for r in rows)])

    chosen = list(_COLUMNS)
    while len(chosen) > 1:
        fixed = sum(needed(c) for c in chosen if c != "name")
        name = min(needed("name"), _NAME_MIN) if "name" in chosen else 0
        if fixed + name + 3 * len(chosen) + 1 <= width:  # borders and padding
            break
        chosen.pop()
    widths = {c: needed(c) for c in chosen}
    if "name" in widths:
        spare = width - 3 * len(chosen) - 1 - sum(w for c, w in widths.items() if c != "name")
        widths["name"] = max(min(needed("name"), spare), 1)
    return widths


def inbox_table(
    sessions: Iterable[SessionInfo],
    title: str = "Sessions",
    width: int | None = None,
    caption: str | None = None,
) -> Table:
    """The inbox: one row a session, in the order given, fitted to ``width`` cells (the
    terminal's by default): columns are dropped rather than wrapped, IDs never cut.
    ``caption`` is printed under it (``"20 of 134"``)."""
    rows = [_row(info) for info in sessions]
    widths = _widths(rows, Console().width if width is None else width)
    table = Table(title=title, caption=caption)
    for column, cells in widths.items():
        table.add_column(column, no_wrap=True, overflow="ellipsis", width=cells)
    for row in rows:
        values: list[str | Text] = [row[c] for c in widths]
        if "name" in widths and row["name"] == "(unnamed)":
            values[list(widths).index("name")] = Text("(unnamed)", style="dim")
        table.add_row(*values)
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
