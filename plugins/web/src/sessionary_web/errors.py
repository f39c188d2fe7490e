"""Errors as JSON: the same codes the ``sessionary`` command line exits with.

The table is the command line's (``sessionary_cli.errors.code_for``), kept here because
plugins never import each other; a test checks that the two agree for every error.
"""

from __future__ import annotations

import re

from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    CorruptStoreError,
    InvalidInputError,
    OwnershipError,
    RunAlreadyContinuedError,
    RunExpiredError,
    RunNotFoundError,
    SchemaVersionError,
    SessionaryError,
    SessionNotFoundError,
    StoreUnavailableError,
)

__all__ = ["ErrorCode", "error_code", "public_message"]

#: (name, exit code of the command line, HTTP status), by what went wrong.
ErrorCode = tuple[str, int, int]

ERROR = ("error", 1, 500)
BAD_INPUT = ("bad_input", 2, 400)
NOT_FOUND = ("not_found", 3, 404)
OWNERSHIP = ("ownership", 4, 403)
UNREACHABLE = ("unreachable", 5, 503)
CONFLICT = ("conflict", 6, 409)
SCHEMA = ("schema", 7, 500)
CORRUPT = ("corrupt", 8, 500)

#: ``scheme://user:password@host``: the credentials part of a URL.
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def error_code(error: BaseException) -> ErrorCode:
    """The code, exit code and HTTP status for an error."""
    if isinstance(error, (SessionNotFoundError, RunNotFoundError)):
        return NOT_FOUND
    if isinstance(error, OwnershipError):
        return OWNERSHIP
    if isinstance(error, StoreUnavailableError):
        return UNREACHABLE
    if isinstance(error, ConflictError):
        return CONFLICT
    if isinstance(error, SchemaVersionError):
        return SCHEMA
    if isinstance(error, (CorruptRecordError, CorruptStoreError, UnicodeError)):
        return CORRUPT
    if isinstance(error, InvalidInputError):
        return BAD_INPUT
    if isinstance(error, RunExpiredError):
        return ("expired", 1, 410)
    return ERROR


def public_message(error: BaseException) -> str:
    """One line saying what went wrong, with any credentials in a URL blanked out.

    An unexpected error says only its type: its text may hold anything.
    """
    if isinstance(error, RunAlreadyContinuedError):
        text = f"this run was already continued by someone else: {error}"
    elif isinstance(error, SessionaryError):
        text = str(error) or type(error).__name__
    else:
        text = f"unexpected {type(error).__name__} (see the server's log)"
    return _CREDENTIALS.sub("***@", text.splitlines()[0] if text else text)
