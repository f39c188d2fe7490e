"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from sessionary.resolve import open_db
from sessionary.storage.base import Store
from sessionary_cli.errors import ExitCode, fail

__all__ = ["db_option", "open_store"]

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


def open_store(db_url: str | None) -> Store:
    """Open the store, or exit with a clear line if no URL was given."""
    if not db_url:
        fail("no store given: pass --db URL or set SESSIONARY_DB", ExitCode.BAD_INPUT)
    assert db_url is not None
    return open_db(db_url)
