"""A session's summary and its runs are read as one snapshot, with appends in flight.

An append inserts its run document before it counts the run in the session document,
and a second writer's append can be counted before the first one's. The suite's
snapshot clause races a writer thread against reads; these tests stop an append at the
exact step between its insert and its count (the operations are generators, so one can
be driven a step at a time) and read there, with another append overtaking it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sessionary_mongodb import MongoDb
from sessionary_mongodb.calls import Call, Op

from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionType
from sessionary.testing.storage import make_run


def _paused_before_counting(store: MongoDb, op: Op[Any]) -> Call:
    """Drive an append up to its summary update (the one that takes its token out of
    ``inflight``); that call, not yet made."""
    reply: Any = None
    while True:
        request = op.send(reply)
        if isinstance(request, Call) and "$pull" in (request.args[1:2] or [{}])[0]:
            return request
        reply = store._perform(request)


def _finish(store: MongoDb, op: Op[Any], request: Call) -> Any:
    reply = store._perform(request)
    while True:
        try:
            request = op.send(reply)  # type: ignore[assignment]
        except StopIteration as stop:
            return stop.value
        reply = store._perform(request)


def _read(store: MongoDb) -> tuple[int, list[str | None], list[str | None], int]:
    whole = store.get_session("s1", user_id="u")
    tail = store.get_session("s1", user_id="u", last_n_runs=1)
    assert whole is not None and tail is not None
    messages = store.get_messages("s1", user_id="u")
    return (
        whole.run_count,
        [r.input for r in whole.runs],
        [r.input for r in tail.runs],
        len(messages),
    )


@pytest.mark.parametrize("conditional", [False, True], ids=["append", "conditional-append"])
def test_a_run_stored_but_not_yet_counted_is_not_read(mock: MongoDb, conditional: bool) -> None:
    for text in ("one", "two"):
        mock.append_run(make_run("s1", user_id="u", text=text))
    slow: Run = make_run("s1", user_id="u", text="slow")
    op = mock._append_op(slow, SessionType.AGENT, 2 if conditional else None)
    fold = _paused_before_counting(mock, op)
    assert mock._runs.find_one({"run_id": slow.run_id}) is not None  # stored, not counted
    assert _read(mock) == (2, ["one", "two"], ["two"], 4)
    if not conditional:  # a second writer's run is counted first
        mock.append_run(make_run("s1", user_id="u", text="fast"))
        assert _read(mock) == (3, ["one", "two", "fast"], ["fast"], 6)
    _finish(mock, op, fold)
    expected = ["one", "two", "slow"] + ([] if conditional else ["fast"])
    assert _read(mock) == (len(expected), expected, expected[-1:], 2 * len(expected))
    assert mock._sessions.find_one({"_id": "s1"})["inflight"] == []
