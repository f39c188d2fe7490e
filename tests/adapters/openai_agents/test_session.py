"""SessionarySession: the OpenAI Agents SDK's Session on memory, SQLite and Redis stores."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import attrs
import pytest
import redis
from agents import Agent, Runner
from agents.memory import Session as SdkSession
from agents.testing import ScriptedModel, assistant_message, function_call
from sessionary_openai_agents import SessionarySession
from sessionary_openai_agents.items import ItemError, message_of

from sessionary import Message, Run, Store, codec, codec_fast
from sessionary.domain.messages import Role, ToolCall
from sessionary.errors import InvalidIdError, InvalidInputError, SessionNotFoundError
from sessionary.storage.memory import MemoryDb

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each kind; the Redis one under a key prefix of its own."""
    if request.param == "memory":
        yield MemoryDb()
    elif request.param == "sqlite":
        from sessionary_sqlite import SqliteDb

        sqlite_db = SqliteDb(db_file=tmp_path / "agents.db")
        yield sqlite_db
        sqlite_db.close()
    else:
        from sessionary_redis import RedisDb

        prefix = f"sessionary-test-{uuid.uuid4().hex[:12]}"
        db = RedisDb(REDIS_URL, prefix=prefix)
        yield db
        db.close()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


#: Items as the SDK writes them: text, a function call and its output, a reasoning item.
ITEMS: list[Any] = [
    {"role": "user", "content": "What is the weather in Paris?"},
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "look"}]},
    {
        "type": "function_call",
        "call_id": "call_1",
        "name": "weather",
        "arguments": '{"city": "Paris"}',
        "id": "fc_1",
    },
    {"type": "function_call_output", "call_id": "call_1", "output": "Sunny, 21°C"},
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Sunny in Paris.", "annotations": []}],
    },
    {"role": "developer", "content": "Be brief."},
]


def test_it_is_the_sdks_session(store: Store) -> None:
    assert isinstance(SessionarySession("s1", store), SdkSession)


def test_items_come_back_exactly_and_in_order(store: Store) -> None:
    session = SessionarySession("s1", store)

    async def scenario() -> None:
        await session.add_items(ITEMS[:2])
        await session.add_items(ITEMS[2:])
        assert await session.get_items() == ITEMS
        assert await session.get_items(limit=2) == ITEMS[-2:]
        assert await session.get_items(limit=0) == []
        assert await session.get_items(limit=-1) == ITEMS
        assert await session.get_items(limit=100) == ITEMS

    asyncio.run(scenario())


def test_session_settings_limit_applies_when_no_limit_is_given(store: Store) -> None:
    session = SessionarySession("s1", store, session_settings={"limit": 3})
    asyncio.run(session.add_items(ITEMS))
    assert asyncio.run(session.get_items()) == ITEMS[-3:]
    assert asyncio.run(session.get_items(limit=1)) == ITEMS[-1:]


def test_pop_item_removes_the_newest_item_across_runs(store: Store) -> None:
    session = SessionarySession("s1", store)

    async def scenario() -> None:
        await session.add_items(ITEMS[:1])
        await session.add_items(ITEMS[1:3])
        assert await session.pop_item() == ITEMS[2]
        assert await session.pop_item() == ITEMS[1]
        assert await session.get_items() == ITEMS[:1]
        assert await session.pop_item() == ITEMS[0]
        assert await session.pop_item() is None
        assert await session.get_items() == []

    asyncio.run(scenario())


def test_clear_session_deletes_the_session(store: Store) -> None:
    session = SessionarySession("s1", store)
    asyncio.run(session.add_items(ITEMS))
    asyncio.run(session.clear_session())
    assert asyncio.run(session.get_items()) == []
    assert store.get_session("s1") is None


def test_the_items_of_one_runner_run_are_one_sessionary_run(store: Store) -> None:
    session = SessionarySession("s1", store, user_id="alice", agent_id="weather")
    first, second = object(), object()  # the SDK's run context of two Runner.run calls

    async def scenario() -> None:
        await session.add_items(ITEMS[:1], wrapper=first)
        await session.add_items(ITEMS[1:4], wrapper=first)
        await session.add_items(ITEMS[4:], wrapper=second)
        await session.add_items(ITEMS[:1])  # no run context: a run of its own

    class Context:  # weakly referenceable, as the SDK's RunContextWrapper is
        pass

    first, second = Context(), Context()
    asyncio.run(scenario())
    stored = store.get_session("s1", user_id="alice")
    assert stored is not None
    assert [len(run.messages) for run in stored.runs] == [4, 2, 1]
    assert {run.agent_id for run in stored.runs} == {"weather"}
    assert stored.runs[0].input == "What is the weather in Paris?"
    assert stored.runs[1].content == "Sunny in Paris."


def test_every_sessionary_tool_reads_what_the_sdk_wrote(store: Store) -> None:
    asyncio.run(SessionarySession("s1", store, user_id="alice").add_items(ITEMS))
    stored = store.get_session("s1", user_id="alice")
    assert stored is not None
    roles = [(m.role, m.content) for m in stored.get_messages()]
    assert roles[0] == (Role.USER, "What is the weather in Paris?")
    assert roles[3] == (Role.TOOL, "Sunny, 21°C")
    assert roles[4] == (Role.ASSISTANT, "Sunny in Paris.")
    call = stored.get_messages()[2].tool_calls[0]
    assert (call.id, call.name, call.arguments) == ("call_1", "weather", {"city": "Paris"})
    assert [m.payload for m in stored.get_messages()] == ITEMS
    assert all(not m.metadata for m in stored.get_messages())
    assert stored.get_messages()[5].role is Role.DEVELOPER
    page = store.list_sessions(user_id="alice")
    assert [i.session_id for i in page.items] == ["s1"]
    assert page.items[0].last_message_preview == "Sunny in Paris."
    exported = codec.loads(codec.dumps(stored))
    assert exported == stored


def test_a_session_written_by_sessionarys_agent_continues_in_the_sdk(store: Store) -> None:
    from sessionary import Agent as SessionaryAgent
    from sessionary.testing import ScriptedModel as SessionaryModel

    SessionaryAgent(model=SessionaryModel("Hi Ada."), db=store).run("I am Ada.", session_id="s1")
    items = asyncio.run(SessionarySession("s1", store).get_items())
    assert items == [
        {"role": "user", "content": "I am Ada."},
        {"role": "assistant", "content": "Hi Ada."},
    ]


def test_runner_run_keeps_memory_across_turns(store: Store) -> None:
    model = ScriptedModel(
        [
            [function_call("lookup", {"q": "x"}, call_id="c1")],
            [assistant_message("Found it.")],
            [assistant_message("You asked about x.")],
        ]
    )

    def lookup(q: str) -> str:
        return f"result for {q}"

    from agents import function_tool

    agent = Agent(name="helper", model=model, tools=[function_tool(lookup)])
    session = SessionarySession("s1", store, user_id="alice")
    first = Runner.run_sync(agent, "Look up x.", session=session)
    assert first.final_output == "Found it."
    second = Runner.run_sync(agent, "What did I ask?", session=session)
    assert second.final_output == "You asked about x."
    seen = model.calls[-1].input
    assert isinstance(seen, list)
    assert [item.get("type", "message") for item in seen][:5] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
        "message",
    ]
    stored = store.get_session("s1", user_id="alice")
    assert stored is not None and len(stored.runs) == 2  # one run per Runner.run


def test_another_users_session_reads_empty_and_refuses_writes(store: Store) -> None:
    asyncio.run(SessionarySession("s1", store, user_id="alice").add_items(ITEMS))
    bob = SessionarySession("s1", store, user_id="bob")
    assert asyncio.run(bob.get_items()) == []
    assert asyncio.run(bob.pop_item()) is None
    with pytest.raises(SessionNotFoundError):
        asyncio.run(bob.add_items(ITEMS))
    assert len(asyncio.run(SessionarySession("s1", store, user_id="alice").get_items())) == 6


def test_bad_input_is_refused_before_any_write(store: Store) -> None:
    session = SessionarySession("s1", store)
    with pytest.raises(ItemError, match="not JSON-serialisable") as caught:
        asyncio.run(session.add_items([cast(Any, {"role": "user", "content": object()})]))
    assert isinstance(caught.value, TypeError)  # as the SDK's own sessions raise
    with pytest.raises(ItemError, match="must be a dict"):
        asyncio.run(session.add_items([cast(Any, "hello")]))
    with pytest.raises(InvalidInputError, match="items must be a list"):
        asyncio.run(session.add_items({"role": "user"}))  # type: ignore[arg-type]
    assert store.get_session("s1") is None
    with pytest.raises(InvalidIdError):
        SessionarySession("", store)
    with pytest.raises(InvalidInputError, match="db must be"):
        SessionarySession("s1", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="grouping"):
        SessionarySession("s1", store, grouping="turn")  # type: ignore[arg-type]


def test_a_cancelled_write_finishes_then_raises_cancelled(store: Store) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def scenario() -> None:
        session = SessionarySession("s1", store)
        real_append = session.store.append_run

        async def gated_append(*args: Any, **kwargs: Any) -> Any:
            started.set()
            await release.wait()
            return await real_append(*args, **kwargs)

        session.store.append_run = gated_append  # type: ignore[method-assign]
        task = asyncio.create_task(session.add_items(ITEMS[:1]))
        await started.wait()
        task.cancel()
        await asyncio.sleep(0)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await SessionarySession("s1", store).get_items() == ITEMS[:1]

    asyncio.run(scenario())


def test_a_closed_session_refuses_calls(store: Store) -> None:
    session = SessionarySession("s1", store)
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(session.get_items())


def test_a_url_opens_a_store_the_session_owns(tmp_path: Path) -> None:
    session = SessionarySession("s1", f"sqlite:///{tmp_path / 'a.db'}")
    asyncio.run(session.add_items(ITEMS))
    asyncio.run(session.aclose())
    again = SessionarySession("s1", f"sqlite:///{tmp_path / 'a.db'}")
    assert asyncio.run(again.get_items()) == ITEMS
    asyncio.run(again.aclose())


def test_a_session_written_with_the_item_in_metadata_still_reads(store: Store) -> None:
    """The first version kept each item in ``metadata["openai_agents_item"]``."""
    messages = tuple(
        attrs.evolve(message_of(item, 1.0), payload=None, metadata={"openai_agents_item": item})
        for item in ITEMS
    )
    store.append_run(
        Run(run_id="old", session_id="s1", messages=messages, created_at=1.0, updated_at=1.0)
    )
    session = SessionarySession("s1", store)
    assert asyncio.run(session.get_items()) == ITEMS
    assert asyncio.run(session.get_items(limit=2)) == ITEMS[-2:]
    assert asyncio.run(session.pop_item()) == ITEMS[-1]
    assert asyncio.run(session.get_items()) == ITEMS[:-1]


def test_get_items_with_a_limit_decodes_only_the_last_messages(store: Store) -> None:
    session = SessionarySession("s1", store)
    # One run of 2,000 items: far longer than codec_fast.WHOLE_RUN, so it is split.
    asyncio.run(session.add_items([{"role": "user", "content": str(i)} for i in range(2000)]))
    decoded: list[int] = []
    real, real_fast = codec.decode_message, codec_fast.fast_messages

    def counting(data: Any) -> Any:
        decoded.append(1)
        return real(data)

    def counting_fast(texts: Any) -> Any:
        messages = real_fast(texts)
        decoded.extend([1] * len(messages or ()))
        return messages

    with pytest.MonkeyPatch.context() as patch:
        for module in _decoding_modules():
            patch.setattr(module, "decode_message", counting, raising=False)
        patch.setattr(codec_fast, "fast_messages", counting_fast)
        items: list[Any] = asyncio.run(session.get_items(limit=20))
    assert [item["content"] for item in items] == [str(i) for i in range(1980, 2000)]
    assert len(decoded) == 20


def _decoding_modules() -> list[Any]:
    """The modules whose ``decode_message`` a message-level tail read calls."""
    import sys

    return [codec, *(m for n, m in sys.modules.items() if n.startswith("sessionary_") and m)]


def test_pop_item_leaves_no_empty_run_and_an_exact_summary(store: Store) -> None:
    session = SessionarySession("s1", store, user_id="alice")

    async def scenario() -> None:
        await session.add_items(ITEMS[:1])
        await session.add_items(ITEMS[4:5])  # "Sunny in Paris."
        assert await session.pop_item() == ITEMS[4]

    asyncio.run(scenario())
    stored = store.get_session("s1", user_id="alice")
    assert stored is not None
    assert [len(run.messages) for run in stored.runs] == [1]
    info = store.get_session_info("s1", user_id="alice")
    assert info is not None and info.run_count == 1
    assert info.last_message_preview == "What is the weather in Paris?"


def test_pop_item_is_version_checked_and_never_removes_a_newer_item(store: Store) -> None:
    """A pop that read the tail before another writer appended removes nothing stale: it
    reads again and pops the newest item."""
    session = SessionarySession("s1", store)
    other = SessionarySession("s1", store)
    asyncio.run(session.add_items(ITEMS[:2]))
    real_get = session.store.get_session
    raced: list[bool] = []

    async def get_then_race(*args: Any, **kwargs: Any) -> Any:
        read = await real_get(*args, **kwargs)
        if not raced:
            raced.append(True)
            await other.add_items(ITEMS[2:3])
        return read

    session.store.get_session = get_then_race  # type: ignore[method-assign]
    assert asyncio.run(session.pop_item()) == ITEMS[2]
    assert asyncio.run(other.get_items()) == ITEMS[:2]


def test_a_refused_validated_pop_leaves_the_item(store: Store) -> None:
    session = SessionarySession("s1", store)
    asyncio.run(session.add_items(ITEMS[:2]))

    def refuse(item: dict[str, Any]) -> None:
        raise ValueError("not this one")

    with pytest.raises(ValueError, match="not this one"):
        asyncio.run(session._pop_item_with_validation(refuse))
    assert asyncio.run(session.get_items()) == ITEMS[:2]
    version = store.get_session_info("s1")
    assert version is not None and version.version == 1


def test_a_foreign_message_of_several_items_pops_one_item_at_a_time(store: Store) -> None:
    calls = (ToolCall(id="c1", name="a"), ToolCall(id="c2", name="b"))
    message = Message(role="assistant", content="Both.", tool_calls=calls, created_at=1.0)
    store.append_run(Run(run_id="r1", session_id="s1", messages=(message,)))
    session = SessionarySession("s1", store)
    before = asyncio.run(session.get_items())
    assert [item.get("call_id") for item in before] == [None, "c1", "c2"]
    assert asyncio.run(session.pop_item()) == before[2]
    assert asyncio.run(session.get_items()) == before[:2]


def test_the_compaction_snapshot_replaces_a_suffix_across_runs_atomically(store: Store) -> None:
    session = SessionarySession("s1", store, user_id="alice")

    async def scenario() -> None:
        for item in ITEMS[:4]:
            await session.add_items([item])  # four runs of one item
        snapshot = await session._get_compaction_snapshot(3)
        assert snapshot is not None and not snapshot.complete
        assert snapshot.items == ITEMS[1:4]
        summary: Any = {"role": "assistant", "content": "Sunny in Paris."}
        assert await snapshot.replace_suffix(1, [summary])
        assert await session.get_items() == [ITEMS[0], ITEMS[1], summary]
        assert not await snapshot.replace_suffix(1, [summary])  # the session moved on

    asyncio.run(scenario())
    info = store.get_session_info("s1", user_id="alice")
    assert info is not None and info.run_count == 3
    assert info.last_message_preview == "Sunny in Paris."


def test_a_snapshot_replacement_after_another_write_changes_nothing(store: Store) -> None:
    session = SessionarySession("s1", store)

    async def scenario() -> None:
        await session.add_items(ITEMS[:2])
        snapshot = await session._get_compaction_snapshot(10)
        assert snapshot is not None and snapshot.complete and snapshot.items == ITEMS[:2]
        await SessionarySession("s1", store).add_items(ITEMS[2:3])
        assert not await snapshot.replace_suffix(0, [])
        assert await session.get_items() == ITEMS[:3]

    asyncio.run(scenario())


def test_atomic_replace_items_replaces_the_whole_history(store: Store) -> None:
    session = SessionarySession("s1", store)

    async def scenario() -> None:
        assert await session._atomic_replace_items(ITEMS[:1])  # no session yet
        await session.add_items(ITEMS[1:3])
        assert await session._atomic_replace_items(ITEMS[4:5])
        assert await session.get_items() == ITEMS[4:5]
        assert await session._atomic_replace_items([])
        assert await session.get_items() == []

    asyncio.run(scenario())
    info = store.get_session_info("s1")
    assert info is not None and info.run_count == 0


def test_the_snapshot_prunes_expired_items_at_the_head_in_the_same_write(store: Store) -> None:
    """``prune_prefix`` (the encrypted session's expiry) drops the leading expired items,
    in the replacement's one write, and stops at the first item that has not expired."""
    session = SessionarySession("s1", store)
    old: list[Any] = [{"role": "user", "content": f"old {i}"} for i in range(3)]

    async def scenario() -> None:
        await session.add_items(old[:2])
        await session.add_items([old[2], *ITEMS[:1]])
        await session.add_items(ITEMS[1:3])
        snapshot = await session._get_compaction_snapshot(
            2, prune_prefix=lambda item: str(item.get("content", "")).startswith("old")
        )
        assert snapshot is not None and snapshot.items == ITEMS[1:3]
        assert await snapshot.replace_suffix(0, ITEMS[4:5])
        assert await session.get_items() == [ITEMS[0], ITEMS[4]]

    asyncio.run(scenario())
    info = store.get_session_info("s1")
    assert info is not None and info.run_count == 2  # the first run held only expired items
