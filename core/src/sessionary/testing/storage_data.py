"""Test data for the storage conformance suite: bad and hostile IDs, realistic runs."""

from __future__ import annotations

import time
from typing import Any

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Requirement, RequirementKind, Run, RunMetrics, RunStatus
from sessionary.ids import new_id

__all__ = ["BAD_IDS", "HOSTILE_IDS", "make_run", "rich_run"]


#: IDs every store must reject before any I/O.
BAD_IDS: tuple[Any, ...] = (
    "",
    "x" * 257,
    123,
    4.5,
    b"bytes",
    ["list"],
    {"$gt": ""},
    "a\nb",
    "a\x00b",
    "tab\there",
)
#: IDs that look like syntax somewhere (Redis keys and patterns, MongoDB operators, SQL).
HOSTILE_IDS: tuple[str, ...] = (
    "a:b",
    "a",
    "b:c",
    "*",
    "?",
    "[a-z]",
    "{x}",
    "{",
    "$gt",
    "$where",
    "a.b",
    "%",
    "_",
    "'",
    '"',
    "\\",
    "'; DROP TABLE sessions; --",
    "x" * 256,
    "ünïcödé 会话 🚀",
)


def make_run(
    session_id: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = "agent-1",
    team_id: str | None = None,
    parent_run_id: str | None = None,
    text: str = "hello",
    answer: str | None = None,
    status: RunStatus = RunStatus.COMPLETED,
    input_tokens: int = 3,
    output_tokens: int = 5,
    run_id: str | None = None,
    created_at: float | None = None,
) -> Run:
    """A small realistic run: a user message and an assistant answer."""
    now = time.time() if created_at is None else created_at
    return Run(
        run_id=run_id if run_id is not None else new_id(),
        session_id=session_id,
        user_id=user_id,
        agent_id=agent_id,
        team_id=team_id,
        parent_run_id=parent_run_id,
        status=status,
        input=text,
        messages=(
            Message(role=Role.USER, content=text, created_at=now),
            Message(role=Role.ASSISTANT, content=answer or f"re: {text}", created_at=now),
        ),
        content=answer or f"re: {text}",
        metrics=RunMetrics(input_tokens=input_tokens, output_tokens=output_tokens, duration=0.01),
        created_at=now,
        updated_at=now,
    )


def rich_run(session_id: str, user_id: str | None = None) -> Run:
    """A run that uses every field of the record, for exact round trips."""
    call = ToolCall(id="call_1", name="search", arguments={"q": "weather", "n": 2})
    bad = ToolCall(id="call_2", name="search", raw_arguments="{not json")
    return Run(
        run_id=new_id(),
        session_id=session_id,
        user_id=user_id,
        agent_id="agent-1",
        parent_run_id=None,
        status=RunStatus.PAUSED,
        input="What's the weather?",
        messages=(
            Message(role=Role.SYSTEM, content="Be brief.", created_at=1.5),
            Message(role=Role.USER, content="What's the weather? ünï 🚀", created_at=1.25),
            Message(
                role=Role.ASSISTANT,
                tool_calls=(call, bad),
                created_at=2.0,
                metadata={"response_id": "resp_1", "latency": 0.125},
            ),
            Message(
                role=Role.TOOL,
                content="Sunny",
                tool_call_id="call_1",
                name="search",
                created_at=2.5,
                metadata={"is_error": False},
            ),
        ),
        content=None,
        requirements=(
            Requirement(
                id="req_1",
                kind=RequirementKind.USER_INPUT,
                tool_call=call,
                user_input_fields=("q",),
            ),
        ),
        metrics=RunMetrics(
            input_tokens=11, output_tokens=7, duration=0.3333333333333333, model_calls=2
        ),
        error=None,
        created_at=1.0,
        updated_at=3.0000000000000004,
        version=1,
        metadata={"$weird": {"a.b": [1, 2.5, None, True]}, "nested": {"x": "y"}},
    )


def _append_worker(url: str, session_id: str, worker: int, count: int) -> None:
    from sessionary.resolve import open_db

    store = open_db(url)
    try:
        for index in range(count):
            store.append_run(
                make_run(
                    session_id,
                    user_id="mp-user",
                    text=f"{worker}:{index}",
                    input_tokens=worker + 1,
                    output_tokens=index,
                )
            )
    finally:
        store.close()


def _update_worker(url: str, session_id: str, run_id: str, worker: int, barrier: Any) -> None:
    """Race one ``update_run`` at version 1 against the other workers; exit 0 won, 3 lost."""
    import sys

    import attrs

    from sessionary.errors import ConflictError
    from sessionary.resolve import open_db

    store = open_db(url)
    try:
        run = store.get_run(session_id, run_id)  # connected and warm before the race
        assert run is not None
        barrier.wait()
        try:
            store.update_run(attrs.evolve(run, content=f"w{worker}"), expected_version=1)
        except ConflictError:
            sys.exit(3)
    finally:
        store.close()
