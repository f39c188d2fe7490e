"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import open_db
from sessionary.storage.base import Store
from sessionary_cli.errors import ExitCode, fail

__all__ = ["create_option", "db_option", "json_option", "missing_store", "open_store"]

F = TypeVar("F", bound=Callable[..., Any])


def db_option(function: F) -> F:
    """``--db URL``, defaulting to ``$SESSIONARY_DB``."""
    return click.option(
        "--db",
        "db_url",
        envvar="SESSIONARY_DB",
        show_envvar=True,
        metavar="URL",
        help="Store URL, e.g. sqlite:///tmp/agent.db.",
    )(function)


def create_option(function: F) -> F:
    """``--create``: make the store when it does not exist (read commands refuse it)."""
    return click.option(
        "--create",
        is_flag=True,
        help="Create the store if it does not exist (else a missing store exits 5).",
    )(function)


def json_option(function: F) -> F:
    """``--json``: print the result as JSON on standard output."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(
        function
    )


def missing_store(db_url: str) -> str | None:
    """Why the store ``db_url`` names does not exist, found without creating it; else ``None``.

    Asks the backend (:meth:`~sessionary.storage.base.Store.exists_at`): a SQLite file
    that is not there does not exist; a server's store cannot tell, and counts as there.
    """
    scheme = db_url.partition("://")[0].lower()
    if "://" not in db_url or scheme not in get_plugin_host().storage_by_scheme():
        return None  # opening it says what is wrong with the URL
    backend = get_plugin_host().storage_by_scheme().get(scheme)
    if backend.exists_at(db_url) is not False:
        return None
    return (
        f"the store {db_url} does not exist (a mistyped path?); nothing was created: "
        f"pass --create to make an empty one"
    )


def open_store(db_url: str | None, *, create: bool = False) -> Store:
    """Open the store, or exit with a clear line if no URL was given, or if the store does
    not exist and ``create`` is false (exit 5): only writes may make a store."""
    if not db_url:
        fail("no store given: pass --db URL or set SESSIONARY_DB", ExitCode.BAD_INPUT)
    assert db_url is not None
    if not create:
        missing = missing_store(db_url)
        if missing is not None:
            fail(missing, ExitCode.UNREACHABLE)
    return open_db(db_url)
