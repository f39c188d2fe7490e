"""The checks of an agent's or a team's constructor arguments: each error names the argument."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import attrs

from sessionary.errors import InvalidInputError
from sessionary.ids import validate_optional_id

__all__ = ["expiry_seconds", "instructions_text"]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _is(what: str, test: Callable[[Any], bool]) -> Validator:
    """A validator whose error names the argument: ``{name} must be {what}, got ...``."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not test(value):
            raise InvalidInputError(f"{attribute.name} must be {what}, got {value!r}")

    return check


def _int_from(low: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _an_id(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    validate_optional_id(value, attribute.name)


_bool = _is("True or False", lambda v: isinstance(v, bool))


def expiry_seconds(value: float | timedelta | None) -> float | None:
    """``pause_expires_after`` as seconds: a positive number, a timedelta, or ``None``."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InvalidInputError(
            f"pause_expires_after must be a positive number of seconds or a timedelta, "
            f"got {value!r}"
        )
    return float(value)


def instructions_text(value: str | Sequence[str] | None) -> str | None:
    """``instructions`` as one string (lines joined), or ``None`` when empty."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if all(isinstance(line, str) for line in value):
        return "\n".join(value) or None
    raise InvalidInputError("instructions must be a str or a list of str")
