"""The core refuses a run that JSON cannot hold exactly, before any backend sees it."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import attrs
import pytest

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import InvalidInputError
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
