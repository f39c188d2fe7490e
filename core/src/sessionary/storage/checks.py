"""The argument checks of the storage contract, shared by :class:`~sessionary.Store` and
:class:`~sessionary.AsyncStore`: every public method runs them before any I/O, so every
backend refuses a bad argument the same way, with an
:class:`~sessionary.errors.InvalidInputError` that names it.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final

import attrs

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session
from sessionary.errors import InvalidInputError
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.listing import (
    MAX_LIST_LIMIT,
    ListFilters,
    count_arguments,
    list_arguments,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_LIST_LIMIT",
    "UNSET",
    "ListFilters",
    "check_count",
    "check_flag",
    "check_import",
    "check_optional_version",
    "check_payload",
    "check_replacement",
    "check_run",
    "check_value",
    "check_version",
    "count_arguments",
    "list_arguments",
    "session_changes",
]

#: Deepest nesting of mappings and lists a stored value may have (state, metadata, a run).
MAX_DEPTH: Final = 64

_SURROGATE = re.compile("[\ud800-\udfff]")


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this field as it is" in :meth:`Store.update_session`.
UNSET: Final = _Unset.UNSET


def session_changes(
    session_id: str,
    user_id: str | None,
    *,
    expected_version: object,
    name: object,
    name_source: object,
    state: object,
    metadata: object,
) -> dict[str, Any]:
    """Check :meth:`Store.update_session`'s arguments; the changes to make, by field."""
    validate_id(session_id, "session_id")
    validate_optional_id(user_id, "user_id")
    check_optional_version(expected_version)
    if name is not UNSET and name is not None and not isinstance(name, str):
        raise InvalidInputError(f"name must be a str or None, got {type(name).__name__}")
    check_value(name, "name")
    if name_source is not UNSET and name_source is not None:
        validate_id(name_source, "name_source")
    changes: dict[str, Any] = {}
    for key, value in (
        ("name", name),
        ("name_source", name_source),
        ("state", state),
        ("metadata", metadata),
    ):
        if value is UNSET:
            continue
        if key in ("state", "metadata"):
            if not isinstance(value, Mapping):
                raise InvalidInputError(f"{key} must be a mapping")
            check_value(value, key)
            value = _json_copy(value, key)
        changes[key] = value
    return changes


def check_import(session: object) -> None:
    """Check a session given to :meth:`Store.import_session`."""
    if not isinstance(session, Session):
        raise InvalidInputError(f"expected a Session, got {type(session).__name__}")
    validate_id(session.session_id, "session_id")
    validate_optional_id(session.user_id, "user_id")
    check_value(session.info, f"session {session.session_id!r}")
    for run in session.runs:
        check_run(run)
        if run.session_id != session.session_id:
            raise InvalidInputError(
                f"run {run.run_id!r} names session {run.session_id!r}, not {session.session_id!r}"
            )


def check_version(expected_version: object) -> None:
    """Check an ``expected_version`` argument: an int (not a bool), 0 or more."""
    if (
        not isinstance(expected_version, int)
        or isinstance(expected_version, bool)
        or expected_version < 0
    ):
        raise InvalidInputError(
            f"expected_version must be an int of 0 or more, got {expected_version!r}"
        )


def check_optional_version(expected_version: object) -> None:
    """:func:`check_version`, where ``None`` (no compare-and-set) is allowed too."""
    if expected_version is not None:
        check_version(expected_version)


def check_run(run: Run) -> None:
    if not isinstance(run, Run):
        raise InvalidInputError(f"expected a Run, got {type(run).__name__}")
    validate_id(run.run_id, "run_id")
    validate_id(run.session_id, "session_id")
    validate_optional_id(run.user_id, "user_id")
    validate_optional_id(run.agent_id, "agent_id")
    validate_optional_id(run.team_id, "team_id")
    validate_optional_id(run.parent_run_id, "parent_run_id")
    check_value(run, f"run {run.run_id!r} of session {run.session_id!r}", json_only=True)
    for index, message in enumerate(run.messages):
        if message.payload is not None:
            check_payload(message.payload, f"run {run.run_id!r} message #{index + 1} payload")


def check_payload(value: object, what: str) -> None:
    """Refuse a :attr:`Message.payload` that would not come back exactly: a ``dict`` of
    JSON values only (``dict`` with ``str`` keys, ``list``, ``str``, ``int``, finite
    ``float``, ``bool``, ``None``). A tuple would come back as a list, a NaN not at all.
    """
    if not isinstance(value, dict):
        raise InvalidInputError(f"{what} must be a dict or None, got {type(value).__name__}")
    stack: list[object] = [value]
    while stack:
        item = stack.pop()
        if item is None or type(item) in (str, bool, int):
            continue
        if type(item) is float:
            if item != item or item in (float("inf"), float("-inf")):
                raise InvalidInputError(f"{what} holds {item!r}, which JSON cannot store")
        elif type(item) is dict:
            for key in item:
                if type(key) is not str:
                    raise InvalidInputError(f"{what} has a key {key!r} that is not a str")
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        else:
            raise InvalidInputError(
                f"{what} holds a {type(item).__name__}: only dict, list, str, int, float, "
                "bool and None come back exactly"
            )


def check_replacement(
    session_id: object, count: object, runs: object, user_id: object
) -> tuple[Run, ...]:
    """Check :meth:`Store.replace_last_runs`'s arguments; the runs, as a tuple."""
    validate_id(session_id, "session_id")
    validate_optional_id(user_id, "user_id")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise InvalidInputError(f"count must be an int of 0 or more, got {count!r}")
    if isinstance(runs, (str, bytes, Run)) or not isinstance(runs, (list, tuple)):
        raise InvalidInputError(f"runs must be a list or tuple of Run, got {type(runs).__name__}")
    seen: set[str] = set()
    for run in runs:
        check_run(run)
        if run.session_id != session_id:
            raise InvalidInputError(
                f"run {run.run_id!r} names session {run.session_id!r}, not {session_id!r}"
            )
        if user_id is not None and run.user_id != user_id:
            raise InvalidInputError(
                f"run {run.run_id!r} names user {run.user_id!r}, not {user_id!r}"
            )
        if run.run_id in seen:
            raise InvalidInputError(f"run {run.run_id!r} is given twice")
        seen.add(run.run_id)
    return tuple(runs)


def check_value(value: object, what: str, *, json_only: bool = False) -> None:
    """Refuse text that is not valid Unicode and nesting deeper than :data:`MAX_DEPTH`.

    ``value`` is walked without recursion: strings (keys too), mappings, lists, tuples and
    attrs records (a run, a message, a session's summary). A lone UTF-16 surrogate
    (``json.loads('"\\ud83d"')`` makes one) has no UTF-8 encoding, so no store could write
    it and no reader could show it; a value nested deeper than the limit would end in a
    ``RecursionError`` somewhere. Both raise :class:`~sessionary.errors.InvalidInputError`.

    With ``json_only`` (a run, before any store sees it), every other value must be what
    JSON holds exactly: ``None``, a bool, an int, a finite float, an enum member that is
    a ``str``, ``int`` or ``float``, and mappings must have string keys; the records'
    own records (a run's messages, their tool calls) are walked, but a record or an
    ``object()`` in a run's metadata is refused here, naming the run, not by the
    adapter's encoder. So a checked run encodes to the same JSON in every encoder that
    takes what the standard ``json`` module takes.
    """
    # A level of nesting at a time, each a plain loop over a list: what records hold
    # directly (and in their tuples) is their structure, where records are walked (a
    # record's fields join the level they are on); what a dict or a list holds is data.
    # The common types are told apart by ``type(...) is`` before any isinstance (an ABC
    # check is slow), and text is searched for surrogates only when not ASCII: a run is
    # checked on every write, and this walk was the largest part of an append's CPU time.
    structure: list[Any] = [value]
    data: list[Any] = []
    depth = 0
    while structure or data:
        deeper_structure: list[Any] = []
        deeper_data: list[Any] = []
        for in_data, items in ((False, structure), (True, data)):
            for item in items:  # (a record's fields are appended to ``items`` as it goes)
                kind = type(item)
                if kind is str:
                    if not item.isascii():
                        _check_text(item, what)
                elif item is None or kind is int or kind is bool:
                    continue
                elif kind is float:
                    if json_only and not math.isfinite(item):
                        _refuse_value(item, what)
                elif kind is dict or kind is list or kind is tuple:
                    if depth >= MAX_DEPTH:
                        raise _too_deep(what)
                    if kind is dict:
                        _check_keys(item, what, json_only, deeper_data)
                        deeper_data.extend(item.values())
                    elif kind is list or in_data:
                        deeper_data.extend(item)
                    else:
                        deeper_structure.extend(item)
                else:
                    fields = _FIELDS[kind] if kind in _FIELDS else _fields_of(kind)
                    if fields is not None and not (in_data and json_only):
                        items.extend(fields(item))
                    else:
                        _check_other(item, depth, what, json_only, deeper_data)
        structure, data = deeper_structure, deeper_data
        depth += 1


def _check_keys(mapping: dict[Any, Any], what: str, json_only: bool, deeper: list[Any]) -> None:
    """A dict's keys, checked at once by joining them when they are all text; a key that
    is not text is refused (``json_only``) or walked with the data."""
    try:
        keys = "".join(mapping)
    except TypeError:
        for key in mapping:
            if isinstance(key, str):
                _check_text(key, what)
            elif json_only:
                _refuse_key(key, what)
            else:
                deeper.append(key)
        return
    if not keys.isascii():
        _check_text(keys, what)


def _check_other(
    item: object, depth: int, what: str, json_only: bool, deeper: list[object]
) -> None:
    """:func:`check_value` for what is not a plain ``str``, scalar, ``dict``, ``list``,
    ``tuple`` or a record it walks: subclasses (a ``str`` enum), other mappings, other
    values (refused with ``json_only``); what it holds is data, one level deeper."""
    if isinstance(item, str):
        _check_text(item, what)
    elif isinstance(item, (Mapping, list, tuple)):
        if depth >= MAX_DEPTH:
            raise _too_deep(what)
        if isinstance(item, Mapping):
            if json_only:
                for key in item:
                    _refuse_key(key, what)
            deeper.extend(item.keys())
            deeper.extend(item.values())
        else:
            deeper.extend(item)
    elif json_only and not (
        isinstance(item, int) or (isinstance(item, float) and math.isfinite(item))
    ):
        _refuse_value(item, what)  # (a bool and an int or float enum are ints and floats)


def _refuse_value(item: object, what: str) -> None:
    raise InvalidInputError(
        f"{what} holds {type(item).__name__} value {_short(item)}, which is not "
        "JSON-compatible (str, int, finite float, bool, None, lists, str-keyed maps)"
    )


def _too_deep(what: str) -> InvalidInputError:
    return InvalidInputError(f"{what} is nested more than {MAX_DEPTH} levels deep (the limit)")


def _fields_of(kind: type) -> Callable[[Any], tuple[Any, ...]] | None:
    """A function giving the field values of an attrs record class (``None`` for a class
    that is not one), made once per class."""
    fields: Callable[[Any], tuple[Any, ...]] | None = None
    if attrs.has(kind):
        names = [f.name for f in attrs.fields(kind)]
        if names:
            getter = operator.attrgetter(*names)
            fields = (lambda item: (getter(item),)) if len(names) == 1 else getter
        else:
            fields = _no_fields
    _FIELDS[kind] = fields
    return fields


def _no_fields(item: object) -> tuple[Any, ...]:
    return ()


#: What :func:`check_value` has met, by class: a function giving a record's field values
#: (``None`` for a class that is not an attrs record).
_FIELDS: dict[type, Callable[[Any], tuple[Any, ...]] | None] = {}


def _check_text(text: str, what: str) -> None:
    found = _SURROGATE.search(text)
    if found is not None:
        raise InvalidInputError(
            f"{what} contains a lone UTF-16 surrogate {found.group()!r}: "
            "text must be valid Unicode (encodable as UTF-8)"
        )


def _refuse_key(key: object, what: str) -> None:
    if not isinstance(key, str):
        raise InvalidInputError(
            f"{what} has a mapping key {key!r} ({type(key).__name__}): "
            "JSON keys are strings, so it would not come back as it was"
        )


def _short(item: object) -> str:
    try:
        text = repr(item)
    except Exception:  # a repr that fails must not hide the real error
        text = "<unprintable>"
    return text if len(text) <= 60 else text[:57] + "..."


def check_flag(value: object, what: str) -> None:
    """Refuse a flag that is not a ``bool``."""
    if not isinstance(value, bool):
        raise InvalidInputError(f"{what} must be True or False, got {value!r}")


def check_count(value: object, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"{what} must be a non-negative int or None")


def _json_copy(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        copied: dict[str, Any] = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be JSON-compatible: {exc}") from exc
    return copied
