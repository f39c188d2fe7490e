"""``sessionary sessions rename | delete | erase-user``."""

from __future__ import annotations

import json

import click

from sessionary.codec import encode_session_info
from sessionary.errors import SessionNotFoundError
from sessionary.plugins.manager import get_plugin_host
from sessionary_cli.errors import handle_errors
from sessionary_cli.options import db_option, json_option, open_store

__all__ = ["delete", "erase_user", "rename"]


@click.command()
@click.argument("session_id")
@click.argument("name")
@db_option
@click.option("--user", "user_id", help="Act for this user (another user's session is not found).")
@json_option
@handle_errors
def rename(
    session_id: str, name: str, db_url: str | None, user_id: str | None, as_json: bool
) -> None:
    """Give a session a name, through the naming guardrails (recorded as manual)."""
    from sessionary.naming.pipeline import default_policy
    from sessionary.naming.service import rename_session

    pipeline = default_policy().resolve()
    events = get_plugin_host().hook
    with open_store(db_url) as store:
        info = rename_session(
            store, session_id, name, user_id=user_id, pipeline=pipeline, events=events
        )
    if as_json:
        click.echo(json.dumps(encode_session_info(info), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{info.session_id}: {info.name}")


@click.command()
@click.argument("session_id")
@db_option
@click.option("--user", "user_id", help="Act for this user (another user's session is not found).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handle_errors
def delete(
    session_id: str, db_url: str | None, user_id: str | None, yes: bool, as_json: bool
) -> None:
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
    if as_json:
        click.echo(json.dumps({"deleted": session_id, "runs": info.run_count}))
    else:
        click.echo(f"deleted {session_id}")


@click.command("erase-user")
@click.argument("user_id")
@db_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@handle_errors
def erase_user(user_id: str, db_url: str | None, yes: bool, as_json: bool) -> None:
    """Delete every session of a user, with their runs."""
    with open_store(db_url) as store:
        if not yes:
            click.confirm(f"Erase every session of user {user_id!r}?", abort=True)
        count = store.erase_user(user_id)
    if as_json:
        click.echo(json.dumps({"user_id": user_id, "erased_sessions": count}, ensure_ascii=False))
    else:
        click.echo(f"erased {count} session(s) of {user_id}")
