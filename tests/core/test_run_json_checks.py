"""The core refuses a run that JSON cannot hold exactly, before any backend sees it."""

from __future__ import annotations

import asyncio
import enum
import math
from typing import Any

import attrs
import pytest

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import InvalidInputError
from sessionary.storage.checks import MAX_DEPTH
from sessionary.storage.memory import MemoryDb
from sessionary.testing.storage_data import make_run, rich_run

BAD_METADATA: list[dict[Any, Any]] = [
    {"obj": object()},
    {1: "int key"},
    {"nan": math.nan},
    {"inf": [math.inf]},
    {"bytes": b"x"},
    {"set": {1, 2}},
]


def _no_io(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the backend was given a run that is not JSON-compatible")


@pytest.mark.parametrize("metadata", BAD_METADATA, ids=lambda m: next(iter(m)).__repr__())
def test_append_and_update_refuse_a_non_json_run_before_the_backend(
    metadata: dict[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = MemoryDb()
    first = make_run("s1")
    db.append_run(first)
    monkeypatch.setattr(db, "_append_run", _no_io)
    monkeypatch.setattr(db, "_update_run", _no_io)
    with pytest.raises(InvalidInputError, match=first.run_id):
        db.append_run(attrs.evolve(first, metadata=metadata))
    with pytest.raises(InvalidInputError, match="JSON"):
        db.update_run(attrs.evolve(first, metadata=metadata), expected_version=1)
    call = ToolCall(id="c1", name="f", arguments={"q": metadata})
    message = Message(role=Role.ASSISTANT, tool_calls=(call,))
    with pytest.raises(InvalidInputError, match="JSON"):
        db.append_run(attrs.evolve(make_run("s1"), messages=(message,)))


def test_the_async_store_refuses_it_too() -> None:
    store = MemoryDb().to_async()

    async def scenario() -> None:
        with pytest.raises(InvalidInputError, match="JSON"):
            await store.append_run(attrs.evolve(make_run("s1"), metadata={"o": object()}))
        assert await store.get_session("s1") is None

    asyncio.run(scenario())


def test_every_json_value_still_passes() -> None:
    db = MemoryDb()
    run = attrs.evolve(
        rich_run("s1"),
        metadata={"a": [1, 2.5, -0.0, None, True, "x", {"n": {"m": []}}], "t": (1, 2)},
    )
    db.append_run(run)
    stored = db.get_run("s1", run.run_id)
    assert stored is not None and stored.metadata["a"] == run.metadata["a"]


class _Plain(enum.Enum):
    A = 1


class _Count(enum.IntEnum):
    ONE = 1


class _Word(str, enum.Enum):
    HI = "hi"


@attrs.frozen
class _Point:
    x: int = 1


@pytest.mark.parametrize(
    "value",
    [_Plain.A, _Point(), Message(role=Role.USER, content="hi"), [[_Point()]]],
    ids=["plain enum", "attrs record", "a message in metadata", "nested record"],
)
def test_a_record_or_an_enum_that_json_cannot_write_is_refused_by_the_check(
    value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # json.dumps refuses these; an encoder that writes records and enums (msgspec) would
    # not, so the check refuses them, before any store encodes the run.
    db = MemoryDb()
    monkeypatch.setattr(db, "_append_run", _no_io)
    run = attrs.evolve(make_run("s1"), metadata={"v": value})
    with pytest.raises(InvalidInputError, match="not JSON-compatible") as caught:
        db.append_run(run)
    assert run.run_id in str(caught.value)


def test_enums_that_are_text_or_numbers_and_the_records_own_records_pass() -> None:
    db = MemoryDb()
    run = attrs.evolve(rich_run("s1"), metadata={"w": _Word.HI, "n": [_Count.ONE]})
    db.append_run(run)
    stored = db.get_run("s1", run.run_id)
    assert stored is not None and stored.metadata == {"w": "hi", "n": [1]}
    assert stored.messages == run.messages


def _nested(levels: int) -> object:
    value: object = "x"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_the_depth_limit_counts_every_container_of_a_run_the_same() -> None:
    # The run's metadata is a container at depth 0, so a value nested MAX_DEPTH - 1
    # levels in it still passes, and one level more does not, in run and message alike.
    db = MemoryDb()
    fits, too_deep = _nested(MAX_DEPTH - 1), _nested(MAX_DEPTH)
    db.append_run(attrs.evolve(make_run("s1"), metadata={"v": fits}))
    with pytest.raises(InvalidInputError, match="nested more than"):
        db.append_run(attrs.evolve(make_run("s1"), metadata={"v": too_deep}))
    # A message sits in a tuple: one level deeper than the run's own fields.
    fits_in_message = Message(role=Role.USER, metadata={"v": _nested(MAX_DEPTH - 2)})
    db.append_run(attrs.evolve(make_run("s1"), messages=(fits_in_message,)))
    deep_in_message = Message(role=Role.USER, metadata={"v": _nested(MAX_DEPTH - 1)})
    with pytest.raises(InvalidInputError, match="nested more than"):
        db.append_run(attrs.evolve(make_run("s1"), messages=(deep_in_message,)))


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"é\ud800": 1}, "surrogate"),
        ({"é": {"ok": 1, 2: "x"}}, "mapping key 2"),
        ({"a": [{"b": "é\udfff"}]}, "surrogate"),
        ({"a": ({"b": math.nan},)}, "float value nan"),
    ],
)
def test_keys_and_values_deep_in_run_data_are_checked(
    metadata: dict[Any, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        MemoryDb().append_run(attrs.evolve(make_run("s1"), metadata=metadata))


def test_outside_a_run_any_value_passes_but_its_text_and_depth_are_checked() -> None:
    """Without ``json_only`` (an agent's input, a session's metadata) the same walk takes
    any value, and still walks records, non-text keys and mappings wherever they are."""
    from sessionary.storage.checks import check_value

    @attrs.frozen
    class Note:
        text: str

    class Odd(dict[str, Any]):
        pass

    fine = {"obj": object(), 1: math.nan, "note": [Note("ok")], "odd": Odd(a=b"x")}
    check_value(fine, "input")
    for bad in (
        {"k": [Note("\ud800")]},
        {("t\udc00",): 1},
        {"odd": Odd(k="\ud800")},
        {"deep": _nested(MAX_DEPTH + 1)},
    ):
        with pytest.raises(InvalidInputError, match="input"):
            check_value(bad, "input")
    check_value({"deep": _nested(MAX_DEPTH - 1)}, "input")
