"""Agent: runs, sessions, history, tools, errors and streaming on the memory store."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from sessionary import Agent, Role, RunStatus, tool
from sessionary.errors import (
    InvalidIdError,
    InvalidInputError,
    ModelError,
    ModelRateLimitError,
    SessionNotFoundError,
)
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call


def test_a_run_returns_its_output_and_is_stored() -> None:
    agent = Agent(model=ScriptedModel("Hi! How can I help?"), db="memory://")
    output = agent.run("Hello", session_id="user_123_session_456", user_id="user_123")
    assert output.content == "Hi! How can I help?"
    assert output.status is RunStatus.COMPLETED
    assert output.session_id == "user_123_session_456"
    assert [m.role for m in output.messages] == [Role.USER, Role.ASSISTANT]
    session = agent.get_session(session_id="user_123_session_456")
    assert session is not None
    assert session.user_id == "user_123"
    assert session.runs == (output,)


def test_without_a_session_id_the_agent_makes_one_and_keeps_it() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://")
    first = agent.run("one")
    second = agent.run("two")
    assert uuid.UUID(first.session_id).version == 4
    assert second.session_id == first.session_id == agent.current_session_id()
    assert agent.session_id is None  # the default stays unset: it is remembered per user
    assert [m.content for m in agent.get_chat_history()] == ["one", "echo: one", "two", "echo: two"]


def test_without_a_db_sessions_live_in_memory_for_the_agents_lifetime() -> None:
    agent = Agent(model=ScriptedModel(), session_id="my_session")
    agent.run("First message")
    agent.run("Second message")
    session = agent.get_session()
    assert session is not None
    assert session.run_count == 2
    assert isinstance(agent.db, MemoryDb)
    assert Agent(model=ScriptedModel()).get_session("my_session") is None


def test_get_messages_has_every_message_and_chat_history_only_the_conversation() -> None:
    @tool
    def lookup(city: str) -> str:
        """Look a city up."""
        return f"{city}: sunny"

    model = ScriptedModel(tool_call("lookup", city="Paris"), "It is sunny in Paris.")
    agent = Agent(model=model, db="memory://", instructions="Be brief.", tools=[lookup])
    agent.run("Weather in Paris?", session_id="session_123")
    session = agent.get_session(session_id="session_123")
    assert session is not None
    messages = session.get_messages()
    assert [m.role for m in messages] == [
        Role.SYSTEM,
        Role.USER,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
    ]
    assert messages[2].tool_calls[0].name == "lookup"
    assert messages[3].content == "Paris: sunny"
    assert messages[3].tool_call_id == messages[2].tool_calls[0].id
    history = agent.get_chat_history(session_id="session_123")
    assert [(m.role, m.content) for m in history] == [
        (Role.USER, "Weather in Paris?"),
        (Role.ASSISTANT, "It is sunny in Paris."),
    ]


def test_history_window_is_the_last_n_completed_runs() -> None:
    model = ScriptedModel()
    agent = Agent(model=model, db="memory://", add_history_to_context=True, num_history_runs=2)
    for text in ("one", "two", "three"):
        agent.run(text, session_id="s")
    assert [m.content for m in model.requests[-1].messages] == [
        "one",
        "echo: one",
        "two",
        "echo: two",
        "three",
    ]
    agent.run("four", session_id="s")
    assert [m.content for m in model.requests[-1].messages] == [
        "two",
        "echo: two",
        "three",
        "echo: three",
        "four",
    ]


def test_no_history_is_sent_by_default() -> None:
    model = ScriptedModel()
    agent = Agent(model=model, db="memory://")
    agent.run("one", session_id="s")
    agent.run("two", session_id="s")
    assert [m.content for m in model.requests[-1].messages] == ["two"]


def test_tool_schema_comes_from_the_signature_and_docstring() -> None:
    def search(query: str, limit: int = 5, exact: bool | None = None) -> list[str]:
        """Search the knowledge base.

        Args:
            query: What to look for.
            limit: At most this many results.
        """
        return [query] * limit

    model = ScriptedModel("done")
    Agent(model=model, db="memory://", tools=[search]).run("x")
    spec = model.requests[0].tools[0]
    assert spec.name == "search"
    assert spec.description == "Search the knowledge base."
    assert spec.parameters == {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to look for."},
            "limit": {"type": "integer", "description": "At most this many results.", "default": 5},
            "exact": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None},
        },
        "required": ["query"],
    }


def test_a_tool_that_raises_becomes_an_error_message_not_a_crash() -> None:
    def explode() -> str:
        """Always fails."""
        raise RuntimeError("disk on fire")

    model = ScriptedModel(tool_call("explode"), tool_call("missing_tool"), "Sorry about that.")
    agent = Agent(model=model, db="memory://", tools=[explode])
    output = agent.run("go")
    tool_messages = [m for m in output.messages if m.role is Role.TOOL]
    assert tool_messages[0].content == "Error: RuntimeError: disk on fire"
    assert tool_messages[0].metadata == {"is_error": True}
    assert "no tool named 'missing_tool'" in (tool_messages[1].content or "")
    assert output.status is RunStatus.COMPLETED
    assert output.content == "Sorry about that."


def test_bad_tool_arguments_are_reported_to_the_model() -> None:
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    model = ScriptedModel(tool_call("add", a=1), tool_call("add", a=1, b=2, c=3), "ok")
    output = Agent(model=model, db="memory://", tools=[add]).run("go")
    results = [m.content for m in output.messages if m.role is Role.TOOL]
    assert results == [
        "Error: missing required argument(s): b",
        "Error: unknown argument(s): c",
    ]


def test_several_tool_calls_in_one_turn_all_run_in_order() -> None:
    calls: list[str] = []

    def note(text: str) -> str:
        """Note something."""
        calls.append(text)
        return "noted"

    model = ScriptedModel([tool_call("note", text="a"), tool_call("note", text="b")], "done")
    output = Agent(model=model, db="memory://", tools=[note]).run("go")
    assert calls == ["a", "b"]
    assert [m.tool_call_id for m in output.messages if m.role is Role.TOOL] == [
        "call_1_0",
        "call_1_1",
    ]


def test_the_loop_is_bounded() -> None:
    def ping() -> str:
        """Ping."""
        return "pong"

    model = ScriptedModel(*[tool_call("ping") for _ in range(5)])
    agent = Agent(model=model, db="memory://", tools=[ping], max_steps=3)
    with pytest.raises(Exception, match="after 3 model calls"):
        agent.run("go", session_id="s")
    session = agent.get_session("s")
    assert session is not None
    assert session.runs[0].status is RunStatus.ERROR
    assert len(model.requests) == 3


def test_a_failing_model_stores_the_run_as_error_and_keeps_earlier_runs() -> None:
    model = ScriptedModel("fine", ModelRateLimitError("slow down", provider_message="429"))
    agent = Agent(model=model, db="memory://")
    first = agent.run("one", session_id="s")
    with pytest.raises(ModelRateLimitError, match="slow down"):
        agent.run("two", session_id="s")
    session = agent.get_session("s")
    assert session is not None
    assert session.runs[0] == first
    failed = session.runs[1]
    assert failed.status is RunStatus.ERROR
    assert failed.error == "ModelRateLimitError: slow down"
    assert failed.input == "two"
    assert session.last_run_status is RunStatus.ERROR


def test_an_unexpected_model_exception_becomes_a_model_error() -> None:
    agent = Agent(model=ScriptedModel(ValueError("garbage")), db="memory://")
    with pytest.raises(ModelError, match="scripted:scripted failed: ValueError: garbage"):
        agent.run("x", session_id="s")
    session = agent.get_session("s")
    assert session is not None
    assert session.runs[0].status is RunStatus.ERROR


class _GarbageModel(Model):
    provider = "garbage"

    def __init__(self, answer: Any) -> None:
        self.id = "g"
        self.answer = answer

    def respond(self, request: ModelRequest) -> ModelResponse:
        return self.answer  # type: ignore[no-any-return]


@pytest.mark.parametrize("answer", [None, "just a string", {"content": "dict"}])
def test_a_model_returning_garbage_is_a_clear_error(answer: Any) -> None:
    agent = Agent(model=_GarbageModel(answer), db="memory://")
    with pytest.raises(ModelError, match="not a ModelResponse"):
        agent.run("x", session_id="s")
    session = agent.get_session("s")
    assert session is not None
    assert session.runs[0].status is RunStatus.ERROR


def test_a_run_into_another_users_session_is_refused() -> None:
    db = MemoryDb()
    Agent(model=ScriptedModel(), db=db).run("mine", session_id="s", user_id="alice")
    intruder = Agent(model=ScriptedModel(), db=db)
    with pytest.raises(SessionNotFoundError):
        intruder.run("theirs", session_id="s", user_id="mallory")
    info = db.get_session_info("s")
    assert info is not None
    assert (info.run_count, info.user_id) == (1, "alice")
    assert intruder.get_session("s", user_id="mallory") is None
    assert intruder.get_chat_history("s", user_id="mallory") == []
    assert intruder.delete_session("s", user_id="mallory") is False


@pytest.mark.parametrize("bad", ["", "x" * 257, 42, "a\nb"])
def test_bad_session_ids_fail_before_the_model_is_called(bad: Any) -> None:
    model = ScriptedModel()
    agent = Agent(model=model, db="memory://")
    with pytest.raises(InvalidIdError):
        agent.run("x", session_id=bad)
    assert model.requests == []


def test_bad_input_is_rejected() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://")
    with pytest.raises(InvalidInputError, match="input must be a str"):
        agent.run(42)  # type: ignore[call-overload]
    with pytest.raises(InvalidInputError, match="no model"):
        Agent(db="memory://").run("x")
    with pytest.raises(InvalidInputError, match="two tools"):
        Agent(tools=[tool(name="t")(lambda: 1), tool(name="t")(lambda: 2)])
    with pytest.raises(InvalidInputError, match="db must be"):
        Agent(db=42)  # type: ignore[arg-type]


def test_streaming_yields_deltas_then_the_stored_run() -> None:
    agent = Agent(model=ScriptedModel("streamed answer"), db="memory://")
    items = list(agent.run("hi", session_id="s", stream=True))
    assert items[0] == ContentDelta("streamed answer")
    run = items[-1]
    assert not isinstance(run, ContentDelta)
    assert run.content == "streamed answer"
    session = agent.get_session("s")
    assert session is not None
    assert session.runs == (run,)


class _SlowStream(Model):
    provider = "slowstream"

    def __init__(self, fail_after: int | None = None) -> None:
        self.id = "s"
        self.fail_after = fail_after

    def respond(self, request: ModelRequest) -> ModelResponse:
        raise NotImplementedError

    def stream(self, request: ModelRequest) -> Any:
        for index, word in enumerate(["one ", "two ", "three "]):
            if self.fail_after is not None and index == self.fail_after:
                raise ConnectionError("stream broke")
            yield ContentDelta(word)


def test_an_abandoned_stream_is_stored_as_cancelled() -> None:
    agent = Agent(model=_SlowStream(), db="memory://")
    stream = agent.run("hi", session_id="s", stream=True)
    assert next(stream) == ContentDelta("one ")
    stream.close()  # type: ignore[attr-defined]
    session = agent.get_session("s")
    assert session is not None
    assert session.runs[0].status is RunStatus.CANCELLED
    assert session.runs[0].error == "the caller abandoned the stream"


def test_a_broken_stream_is_stored_as_error() -> None:
    agent = Agent(model=_SlowStream(fail_after=1), db="memory://")
    stream = agent.run("hi", session_id="s", stream=True)
    assert next(stream) == ContentDelta("one ")
    with pytest.raises(ModelError, match="stream broke"):
        next(stream)
    session = agent.get_session("s")
    assert session is not None
    assert session.runs[0].status is RunStatus.ERROR


def test_metrics_record_tokens_duration_and_model_calls() -> None:
    model = ScriptedModel(tool_call("t"), "two words")
    output = Agent(model=model, db="memory://", tools=[tool(name="t")(lambda: "x")]).run(
        "count these words", session_id="s"
    )
    assert output.metrics.model_calls == 2
    assert output.metrics.input_tokens > 0
    assert output.metrics.output_tokens == 1 + 2
    assert output.metrics.duration > 0
    assistant = output.messages[-1]
    assert assistant.metadata["response_id"] == "scripted-2"
    assert assistant.metadata["latency"] >= 0


def test_a_string_model_and_db_are_resolved_by_name() -> None:
    agent = Agent(model="scripted:demo", db="memory://")
    assert isinstance(agent.model, ScriptedModel)
    assert agent.model.id == "demo"
    assert agent.run("hi").content == "echo: hi"


def test_list_sessions_shows_only_this_agents_sessions() -> None:
    db = MemoryDb()
    a = Agent(model=ScriptedModel(), db=db, id="a")
    b = Agent(model=ScriptedModel(), db=db, id="b")
    a.run("x", session_id="s1", user_id="u")
    b.run("x", session_id="s2", user_id="u")
    assert [i.session_id for i in a.list_sessions().items] == ["s1"]
    assert [i.session_id for i in b.list_sessions(user_id="u").items] == ["s2"]


def test_history_does_not_replay_stored_instructions_as_current() -> None:
    """A stored ``developer`` (or ``system``) message was the instructions of the run
    that wrote it, an OpenAI Agents SDK session's say: history leaves it out."""
    from sessionary import Message, Run
    from sessionary.storage.memory import MemoryDb

    db = MemoryDb()
    written = (
        Message(role="developer", content="Old rules: answer in French.", created_at=1.0),
        Message(role="system", content="Old system prompt.", created_at=1.0),
        Message(role="user", content="one", created_at=1.0),
        Message(role="assistant", content="un", created_at=1.0),
    )
    db.append_run(Run(run_id="r0", session_id="s", messages=written))
    model = ScriptedModel()
    agent = Agent(model=model, db=db, instructions="Current rules.", add_history_to_context=True)
    agent.run("two", session_id="s")
    sent = [(m.role.value, m.content) for m in model.requests[-1].messages]
    assert sent == [
        ("system", "Current rules."),
        ("user", "one"),
        ("assistant", "un"),
        ("user", "two"),
    ]
