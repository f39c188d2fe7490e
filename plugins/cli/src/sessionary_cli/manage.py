"""``sessionary sessions rename | delete | erase-user``."""

from __future__ import annotations

import click

from sessionary.errors import SessionNotFoundError
from sessionary.plugins.manager import get_plugin_host
from sessionary_cli.errors import handle_errors
from sessionary_cli.options import db_option, open_store

__all__ = ["delete", "erase_user", "rename"]


@click.command()
@click.argument("session_id")
@click.argument("name")
@db_option
@click.option("--user", "user_id", help="Act for this user (another user's session is not found).")
@handle_errors
def rename(session_id: str, name: str, db_url: str | None, user_id: str | None) -> None:
    """Give a session a name, through the naming guardrails (recorded as manual)."""
    from sessionary.naming.pipeline import default_policy
    from sessionary.naming.service import rename_session

    pipeline = default_policy().resolve()
    events = get_plugin_host().hook
    with open_store(db_url) as store:
        info = rename_session(
            store, session_id, name, user_id=user_id, pipeline=pipeline, events=events
        )
    click.echo(f"{info.session_id}: {info.name}")


@click.command()
@click.argument("session_id")
@db_option
@click.option("--user", "user_id", help="Act for this user (another user's session is not found).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def delete(session_id: str, db_url: str | None, user_id: str | None, yes: bool) -> None:
    """Delete a session and all its runs."""
    with open_store(db_url) as store:
        info = store.get_session_info(session_id, user_id=user_id)
        if info is None:
            raise SessionNotFoundError(session_id, user_id)
        if not yes:
            click.confirm(
                f"Delete session {session_id!r} ({info.run_count} runs, user {info.user_id})?",
                abort=True,
            )
        if not store.delete_session(session_id, user_id=user_id):
            raise SessionNotFoundError(session_id, user_id)
    click.echo(f"deleted {session_id}")


@click.command("erase-user")
@click.argument("user_id")
@db_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def erase_user(user_id: str, db_url: str | None, yes: bool) -> None:
    """Delete every session of a user, with their runs."""
    with open_store(db_url) as store:
        if not yes:
            click.confirm(f"Erase every session of user {user_id!r}?", abort=True)
        count = store.erase_user(user_id)
    click.echo(f"erased {count} session(s) of {user_id}")
