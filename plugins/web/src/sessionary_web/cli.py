"""``sessionary serve``: the inbox in a browser, on this machine by default."""

from __future__ import annotations

import importlib
import os
import sys
from typing import NoReturn

import click

__all__ = ["LOOPBACK", "TOKEN_ENV", "load_agent", "serve"]

#: The host names that reach only this machine.
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")
TOKEN_ENV = "SESSIONARY_WEB_TOKEN"


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_agent(spec: str) -> object:
    """The object ``module:attribute`` names (the current folder is importable)."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        _fail(f"--agent must be written module:attribute, got {spec!r}", 2)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        value: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError) as exc:
        _fail(f"cannot load --agent {spec}: {type(exc).__name__}: {exc}", 2)
    return value


@click.command()
@click.option("--db", "db_url", metavar="URL", help="Store URL (default: $SESSIONARY_DB).")
@click.option(
    "--agent",
    "agent_spec",
    metavar="MODULE:ATTRIBUTE",
    help="Your application's Agent or Team (with its model, tools and store): approvals "
    "then continue paused runs in this process. Without it they are read-only.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    show_envvar=True,
    help="Every request needs this token (open the inbox once with ?token=TOKEN). "
    "Required to listen on anything but this machine.",
)
@click.option("--user", "user_id", help="Show only this user's sessions.")
def serve(
    db_url: str | None,
    agent_spec: str | None,
    host: str,
    port: int,
    token: str | None,
    user_id: str | None,
) -> None:
    """Serve the inbox: sessions, transcripts, renames and approvals, in a browser."""
    loopback = host.lower() in LOOPBACK
    if not loopback and not token:
        _fail(
            f"refusing to listen on {host} without a token: anyone who reaches it could read "
            f"and change every session. Pass --token or set {TOKEN_ENV} (every request then "
            f"needs it), or listen on 127.0.0.1.",
            2,
        )
    if token is not None and len(token) < 8:
        _fail("--token must be at least 8 characters", 2)
    source = _source(db_url, agent_spec)
    import uvicorn

    from sessionary_web.app import inbox_app

    app = inbox_app(
        source,  # type: ignore[arg-type]
        user_id=user_id,
        token=token,
        allowed_hosts=["127.0.0.1", "localhost", "[::1]"] if loopback else None,
    )
    shown = f"[{host}]" if ":" in host else host
    mode = "approvals continue runs" if agent_spec else "approvals are read-only (no --agent)"
    click.echo(f"Sessionary inbox on http://{shown}:{port}/ ({mode}); Ctrl+C stops it.")
    if token:
        click.echo("Open it once with ?token=TOKEN; the browser then keeps it in a cookie.")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _source(db_url: str | None, agent_spec: str | None) -> object:
    from sessionary.agent.running import RunningOwner

    if agent_spec is not None:
        agent = load_agent(agent_spec)
        if not isinstance(agent, RunningOwner):
            _fail(f"--agent {agent_spec} is a {type(agent).__name__}, not an Agent or a Team", 2)
        if db_url:
            _fail("--agent brings its own store (the agent's db): drop --db", 2)
        return agent
    db_url = db_url or os.environ.get("SESSIONARY_DB")
    if not db_url:
        _fail("no store given: pass --db URL or set SESSIONARY_DB (or pass --agent)", 2)
    from sessionary.plugins.manager import get_plugin_host
    from sessionary.resolve import open_db

    scheme = db_url.partition("://")[0].lower()
    backends = get_plugin_host().storage_by_scheme()
    if "://" in db_url and scheme in backends and backends.get(scheme).exists_at(db_url) is False:
        _fail(f"the store {db_url} does not exist (a mistyped path?); nothing was created", 5)
    return open_db(db_url)
