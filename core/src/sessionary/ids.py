"""Validation of IDs, done before any I/O.

An ID (session, user, run, agent, team) is a non-empty string of printable
characters, at most 256 of them. Anything else is rejected with an
:class:`~sessionary.errors.InvalidIdError` that names which ID was wrong and why.
"""

from __future__ import annotations

import uuid

from sessionary.errors import InvalidIdError

__all__ = ["MAX_ID_LENGTH", "new_id", "validate_id", "validate_optional_id"]

MAX_ID_LENGTH = 256


def validate_id(value: object, what: str = "session_id") -> str:
    """Return ``value`` if it is a valid ID, else raise :class:`InvalidIdError`.

    >>> validate_id("user_123_session_456")
    'user_123_session_456'
    """
    if type(value) is not str:
        # Not isinstance: a str subclass could override __eq__/__hash__ and break keys.
        raise InvalidIdError(f"{what} must be a str, got {type(value).__name__}")
    if not value:
        raise InvalidIdError(f"{what} must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidIdError(
            f"{what} is {len(value)} characters long; the maximum is {MAX_ID_LENGTH}"
        )
    if not value.isprintable():
        bad = next(ch for ch in value if not ch.isprintable())
        raise InvalidIdError(f"{what} contains a non-printable character {bad!r}")
    return value


def validate_optional_id(value: object, what: str) -> str | None:
    """Like :func:`validate_id`, but ``None`` passes through."""
    if value is None:
        return None
    return validate_id(value, what)


def new_id() -> str:
    """A fresh random ID (UUID4 as a string)."""
    return str(uuid.uuid4())
