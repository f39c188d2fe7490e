"""Checks of the arguments that agents and teams share, made before any I/O."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import attrs

from sessionary.domain.runs import PAUSE_EXPIRES_AT, Run
from sessionary.errors import InvalidInputError
from sessionary.flow import Flow, steps_async
from sessionary.ids import validate_optional_id
from sessionary.models.base import ContentDelta
from sessionary.resolve import resolve_db
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store
from sessionary.storage.checks import check_value
from sessionary.storage.memory import MemoryDb

__all__ = [
    "RESERVED_METADATA",
    "SUSPENDED_CALLS",
    "expiry_seconds",
    "instructions_text",
    "open_store",
    "run_metadata",
    "stream_async",
]

#: Key of :attr:`Run.metadata` listing the calls a tool suspended (team delegations).
SUSPENDED_CALLS = "suspended_calls"

#: Keys of :attr:`Run.metadata` that Sessionary writes itself (a paused run's).
RESERVED_METADATA = (PAUSE_EXPIRES_AT, SUSPENDED_CALLS)


def run_metadata(metadata: object) -> dict[str, Any]:
    """``run(..., metadata=)`` checked and copied: a JSON-compatible dict with str keys,
    none of them :data:`RESERVED_METADATA`; ``None`` is an empty one."""
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(f"metadata must be a dict, got {type(metadata).__name__}")
    keys = [k for k in metadata if not isinstance(k, str)]
    if keys:
        raise InvalidInputError(f"metadata keys must be str, got {keys[0]!r}")
    reserved = sorted(k for k in metadata if k in RESERVED_METADATA)
    if reserved:
        raise InvalidInputError(
            f"metadata key {reserved[0]!r} is reserved for Sessionary's own use"
        )
    check_value(metadata, "metadata")
    try:
        copied: dict[str, Any] = json.loads(json.dumps(dict(metadata), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata must be JSON-compatible: {exc}") from exc
    return copied


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


async def stream_async(flow: Flow[Run], db: AsyncStore) -> AsyncIterator[ContentDelta | Run]:
    """``arun(stream=True)``'s iterator: the deltas, then the run output."""
    steps = steps_async(flow, db)
    try:
        async for item in steps:
            yield item if isinstance(item, ContentDelta) else item.result
    finally:
        await steps.aclose()


def open_store(db: Store | str | None) -> Store:
    """The ``db`` argument: a store, a store URL, or ``None`` (a private in-memory store)."""
    resolved = resolve_db(db)
    return resolved if resolved is not None else MemoryDb()
