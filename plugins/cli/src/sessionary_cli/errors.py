"""Exit codes a script can rely on, and one clear line per failure."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import IntEnum
from typing import ParamSpec, TypeVar

import click

from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    CorruptStoreError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SchemaVersionError,
    SessionaryError,
    SessionNotFoundError,
    StoreUnavailableError,
)

__all__ = ["ExitCode", "code_for", "fail", "handle_errors", "message_for"]

P = ParamSpec("P")
R = TypeVar("R")


class ExitCode(IntEnum):
    """The exit codes of the ``sessionary`` command."""

    OK = 0
    ERROR = 1
    BAD_INPUT = 2
    NOT_FOUND = 3
    OWNERSHIP = 4
    UNREACHABLE = 5
    CONFLICT = 6
    SCHEMA = 7
    CORRUPT = 8


def code_for(error: BaseException) -> ExitCode:
    """The exit code for an error."""
    if isinstance(error, (SessionNotFoundError, RunNotFoundError)):
        return ExitCode.NOT_FOUND
    if isinstance(error, OwnershipError):
        return ExitCode.OWNERSHIP
    if isinstance(error, StoreUnavailableError):
        return ExitCode.UNREACHABLE
    if isinstance(error, ConflictError):
        return ExitCode.CONFLICT
    if isinstance(error, SchemaVersionError):
        return ExitCode.SCHEMA
    if isinstance(error, (CorruptRecordError, CorruptStoreError, UnicodeError)):
        return ExitCode.CORRUPT
    if isinstance(error, InvalidInputError):
        return ExitCode.BAD_INPUT
    return ExitCode.ERROR


def message_for(error: BaseException) -> str:
    """One line that says what went wrong, for any error, never a traceback."""
    if isinstance(error, SessionaryError):
        text = str(error) or type(error).__name__
    elif isinstance(error, UnicodeError):
        text = f"stored text cannot be written as UTF-8 (a lone surrogate?): {error}"
    else:
        text = f"unexpected {type(error).__name__}: {error}"
    return text.splitlines()[0]


def fail(message: str, code: ExitCode) -> None:
    """Print one line to stderr and exit with ``code``.

    Text a terminal cannot take (a lone surrogate) is escaped, so the message itself
    can never fail.
    """
    safe = message.encode("utf-8", "backslashreplace").decode("utf-8")
    click.echo(f"error: {safe}", err=True)
    sys.exit(int(code))


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn every error into one line on stderr and an exit code: a distinct one for each
    Sessionary error, 1 for anything unexpected. Click's own exceptions pass through."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            fail(message_for(exc), code_for(exc))
            raise AssertionError("unreachable") from exc

    return wrapper
