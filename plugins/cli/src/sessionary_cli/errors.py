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
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SchemaVersionError,
    SessionaryError,
    SessionNotFoundError,
    StoreUnavailableError,
)

__all__ = ["ExitCode", "fail", "handle_errors"]

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
    if isinstance(error, InvalidInputError):
        return ExitCode.BAD_INPUT
    return ExitCode.ERROR


def fail(message: str, code: ExitCode) -> None:
    """Print one line to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(int(code))


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn Sessionary errors into one line on stderr and a distinct exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except SessionaryError as exc:
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, code_for(exc))
            raise AssertionError("unreachable") from exc

    return wrapper
