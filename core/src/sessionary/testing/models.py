"""The model-provider conformance suite: what every provider must do, as pytest tests.

A provider is tested through its real SDK against a local fake server that speaks the
provider's wire format. The suite is written in provider-neutral terms; a provider's
tests supply a :class:`~sessionary.testing.provider_harness.ProviderHarness` (also
importable from here) that scripts the fake server ("answer with this
text", "call these tools", "fail with a rate limit") and reports what the server
received in neutral form (:class:`SentRequest`). Then a subclass is a few lines::

    class TestMyProvider(ModelProviderConformance):
        @pytest.fixture
        def harness(self, my_fake_server):
            return my_fake_server      # a ProviderHarness

:class:`~sessionary.testing.fake_http.FakeHTTPServer` is a ready local HTTP server to
build the harness on. What the provider has of the optional
:class:`~sessionary.testing.provider_harness.ProviderCapability` set (a response ID,
tool-call IDs, an API key, client retries, streaming) it declares in ``capabilities``,
as a storage adapter declares ``TTL``; the clauses of the others are skipped::

    class TestMyProvider(ModelProviderConformance):
        capabilities = frozenset({ProviderCapability.STREAMING})

A subclass must not delete or weaken a suite test; one that cannot pass is marked
``xfail`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sessionary.agent.agent import Agent
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session
from sessionary.errors import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)
from sessionary.models.base import ContentDelta
from sessionary.resolve import get_model
from sessionary.storage.memory import MemoryDb
from sessionary.testing.provider_harness import (
    ALL_CAPABILITIES,
    ERROR_CLASSES,
    ErrorKind,
    ProviderCapability,
    ProviderHarness,
    ProviderSuiteBase,
    ScriptedReply,
    SentMessage,
    SentRequest,
)
from sessionary.tools import tool

__all__ = [
    "ALL_CAPABILITIES",
    "ERROR_CLASSES",
    "ErrorKind",
    "ModelProviderConformance",
    "ProviderCapability",
    "ProviderHarness",
    "ScriptedReply",
    "SentMessage",
    "SentRequest",
]


def _weather(city: str) -> str:
    """Get the weather in a city.

    Args:
        city: The city's name.
    """
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"Sunny in {city}"


WEATHER = tool(name="get_weather")(_weather)


def _drain(steps: Iterator[ContentDelta | Run]) -> tuple[list[str], Run]:
    deltas: list[str] = []
    run: Run | None = None
    for item in steps:
        if isinstance(item, ContentDelta):
            deltas.append(item.text)
        else:
            run = item
    assert run is not None, "the stream did not end with the run output"
    return deltas, run


def _collect(steps: Iterator[ContentDelta | Run], deltas: list[str]) -> None:
    for item in steps:
        assert isinstance(item, ContentDelta), "a broken stream must not end with a run"
        deltas.append(item.text)


def _user(text: str) -> SentMessage:
    return SentMessage(role="user", content=text)


def _assert_stored_as_error(
    agent: Agent, error: type[BaseException], *, match: str | None = None
) -> None:
    """Running "Hello" raises ``error`` and stores the one run of the session as ``error``."""
    with pytest.raises(error, match=match):
        agent.run("Hello", session_id="s1")
    [run] = agent.get_session(session_id="s1").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.ERROR


def _agent_after_one_run(harness: ProviderHarness, db: MemoryDb) -> tuple[Agent, Session]:
    """An agent on the harness's model whose session ``s1`` holds one answered run."""
    harness.reply_text("Earlier answer.")
    agent = Agent(model=harness.make_model(), db=db)
    agent.run("Earlier", session_id="s1")
    before = db.get_session("s1")
    assert before is not None
    return agent, before


def _weather_turn(call_id: str, city: str) -> tuple[SentMessage, SentMessage]:
    """The model's call of ``get_weather`` for ``city`` and the tool's answer, as sent back."""
    call = ToolCall(id=call_id, name="get_weather", arguments={"city": city})
    return (
        SentMessage(role="assistant", tool_calls=(call,)),
        SentMessage(role="tool", content=f"Sunny in {city}", tool_call_id=call_id),
    )


C = ProviderCapability


class ModelProviderConformance(ProviderSuiteBase):
    """Every clause of the model-provider contract, against a provider's fake server.

    Subclasses provide the ``harness`` fixture (a :class:`ProviderHarness`) and declare
    their ``capabilities``.
    """

    @pytest.fixture
    def harness(self) -> ProviderHarness:
        """The provider's scripted fake server; every subclass overrides this."""
        raise NotImplementedError("override the `harness` fixture to return a ProviderHarness")

    @pytest.fixture
    def db(self) -> MemoryDb:
        """The store the suite's agents write to."""
        return MemoryDb()

    # ------------------------------------------------------------------ plain answers

    def test_text_answer_maps_instructions_input_usage_and_response_id(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        reply = harness.reply_text("Hello! How can I help?", input_tokens=12, output_tokens=7)
        model = harness.make_model()
        agent = Agent(model=model, db=db, instructions="You are terse.")
        run = agent.run("Hello", session_id="s1", user_id="u1")

        assert run.status is RunStatus.COMPLETED
        assert run.content == "Hello! How can I help?"
        assert (run.metrics.input_tokens, run.metrics.output_tokens) == (12, 7)
        assert run.metrics.model_calls == 1
        answer = run.last_assistant_message
        assert answer is not None
        if self.has(C.RESPONSE_ID):
            assert answer.metadata["response_id"] == reply.response_id, (
                "the answer's metadata must carry the provider's response ID"
            )
        assert isinstance(answer.metadata["latency"], float)
        assert 0 <= answer.metadata["latency"] <= run.metrics.duration
        [sent] = harness.sent()
        assert sent.model == model.id
        assert sent.system == "You are terse."
        assert sent.messages == (_user("Hello"),)
        assert not sent.stream
        stored = agent.get_session(session_id="s1", user_id="u1")
        assert stored is not None
        assert [m.content for m in stored.get_messages()] == [
            "You are terse.",
            "Hello",
            "Hello! How can I help?",
        ]

    def test_no_instructions_sends_no_system_prompt(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        harness.reply_text("Hi.")
        Agent(model=harness.make_model(), db=db).run("Hello", session_id="s1")
        [sent] = harness.sent()
        assert not sent.system
        assert sent.messages == (_user("Hello"),)

    def test_constructing_a_model_does_no_io(self, harness: ProviderHarness) -> None:
        harness.make_model()
        if self.has(C.API_KEY):
            harness.make_model_without_credentials()
        assert harness.sent() == [], "constructing a model sent a request"

    def test_get_model_builds_the_same_provider(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        model = get_model(harness.model_name, **harness.connection_options())
        expected = harness.make_model()
        assert type(model) is type(expected)
        assert model.label == harness.model_name
        harness.reply_text("Built by name.")
        run = Agent(model=model, db=db).run("Hello", session_id="s1")
        assert run.content == "Built by name."
        assert harness.sent()[0].model == harness.model_name.partition(":")[2]

    # ------------------------------------------------------------------ tools

    def test_tool_call_round_trip(self, harness: ProviderHarness, db: MemoryDb) -> None:
        call = harness.reply_tool_calls([("get_weather", {"city": "Paris"})])
        harness.reply_text("It is sunny in Paris.")
        agent = Agent(model=harness.make_model(), db=db, tools=[WEATHER])
        run = agent.run("Weather in Paris?", session_id="s1")

        assert run.content == "It is sunny in Paris."
        assert run.metrics.model_calls == 2
        first, second = harness.sent()
        [spec] = first.tools
        assert spec.name == "get_weather"
        assert spec.description == WEATHER.description
        assert spec.parameters["properties"] == WEATHER.parameters["properties"]
        assert spec.parameters.get("required") == ["city"]
        call_id = self.call_ids(call)[0]
        self.same_messages(
            second.messages, (_user("Weather in Paris?"), *_weather_turn(call_id, "Paris"))
        )
        roles = [m.role for m in run.messages]
        assert roles == [Role.USER, Role.ASSISTANT, Role.TOOL, Role.ASSISTANT]
        made = run.messages[1].tool_calls[0].id
        assert made, "every tool call needs an ID (make one up if the provider gives none)"
        assert run.messages[2].tool_call_id == made
        if self.has(C.TOOL_CALL_IDS):
            assert made == call_id

    def test_several_tool_calls_in_one_turn(self, harness: ProviderHarness, db: MemoryDb) -> None:
        call = harness.reply_tool_calls(
            [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Tokyo"})]
        )
        harness.reply_text("Sunny in both.")
        agent = Agent(model=harness.make_model(), db=db, tools=[WEATHER])
        run = agent.run("Paris and Tokyo?", session_id="s1")

        assert run.content == "Sunny in both."
        paris, tokyo = self.call_ids(call)[:2]
        second = harness.sent()[1]
        self.same_messages(
            second.messages[1:],
            (
                SentMessage(
                    role="assistant",
                    tool_calls=(
                        ToolCall(id=paris, name="get_weather", arguments={"city": "Paris"}),
                        ToolCall(id=tokyo, name="get_weather", arguments={"city": "Tokyo"}),
                    ),
                ),
                SentMessage(role="tool", content="Sunny in Paris", tool_call_id=paris),
                SentMessage(role="tool", content="Sunny in Tokyo", tool_call_id=tokyo),
            ),
        )

    def test_failing_tool_result_is_sent_back(self, harness: ProviderHarness, db: MemoryDb) -> None:
        call = harness.reply_tool_calls([("get_weather", {"city": "Atlantis"})])
        harness.reply_text("I could not find Atlantis.")
        run = Agent(model=harness.make_model(), db=db, tools=[WEATHER]).run("Atlantis?")
        assert run.status is RunStatus.COMPLETED
        result = harness.sent()[1].messages[2]
        if self.has(C.TOOL_CALL_IDS):
            assert result.tool_call_id == call.call_ids[0]
        assert result.content is not None, "the tool's error was not sent back"
        assert "no such city" in result.content

    # ------------------------------------------------------------------ history

    def test_history_runs_are_sent_before_the_new_input(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        call = harness.reply_tool_calls([("get_weather", {"city": "Oslo"})])
        harness.reply_text("Sunny in Oslo, Ada.")
        harness.reply_text("Your name is Ada.")
        agent = Agent(
            model=harness.make_model(),
            db=db,
            tools=[WEATHER],
            instructions="Be kind.",
            add_history_to_context=True,
        )
        agent.run("I am Ada. Weather in Oslo?", session_id="s1")
        run = agent.run("What is my name?", session_id="s1")

        assert run.content == "Your name is Ada."
        last = harness.sent()[-1]
        assert last.system == "Be kind."
        call_id = self.call_ids(call)[0]
        self.same_messages(
            last.messages,
            (
                _user("I am Ada. Weather in Oslo?"),
                *_weather_turn(call_id, "Oslo"),
                SentMessage(role="assistant", content="Sunny in Oslo, Ada."),
                _user("What is my name?"),
            ),
        )

    def test_history_is_not_sent_without_add_history_to_context(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        harness.reply_text("One.")
        harness.reply_text("Two.")
        agent = Agent(model=harness.make_model(), db=db)
        agent.run("First", session_id="s1")
        agent.run("Second", session_id="s1")
        assert harness.sent()[-1].messages == (_user("Second"),)

    # ------------------------------------------------------------------ errors

    @pytest.mark.parametrize("kind", list(ErrorKind), ids=[k.value for k in ErrorKind])
    def test_provider_errors_become_distinct_model_errors(
        self, harness: ProviderHarness, db: MemoryDb, kind: ErrorKind
    ) -> None:
        agent, before = _agent_after_one_run(harness, db)

        harness.reply_error(kind, f"the provider says no ({kind.value})")
        with pytest.raises(ERROR_CLASSES[kind]) as caught:
            agent.run("Now", session_id="s1")
        assert caught.value.provider_message is not None
        assert f"the provider says no ({kind.value})" in caught.value.provider_message
        self._assert_failed_run_stored(db, before, RunStatus.ERROR, "Now")

    def test_timeout_is_a_model_timeout_error(self, harness: ProviderHarness, db: MemoryDb) -> None:
        harness.reply_slowly(5.0)
        agent = Agent(model=harness.make_model(timeout=0.3, **self.no_retries()), db=db)
        _assert_stored_as_error(agent, ModelTimeoutError)

    def test_malformed_response_is_a_model_response_error(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        harness.reply_malformed()
        agent = Agent(model=harness.make_model(), db=db)
        _assert_stored_as_error(agent, ModelResponseError)

    def test_missing_api_key_fails_at_the_first_call(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        self.require(C.API_KEY)
        model = harness.make_model_without_credentials()  # no error here
        agent = Agent(model=model, db=db)
        _assert_stored_as_error(agent, ModelAuthenticationError, match=r"(?i)api key")
        assert harness.sent() == []

    def test_sdk_retries_are_used(self, harness: ProviderHarness, db: MemoryDb) -> None:
        self.require(C.RETRIES)
        harness.reply_error(ErrorKind.SERVER, "try again")
        harness.reply_text("Second time lucky.")
        run = Agent(model=harness.make_model(max_retries=1), db=db).run("Hello")
        assert run.content == "Second time lucky."
        assert len(harness.sent()) == 2
        assert harness.sent()[0] == harness.sent()[1]

    def test_no_sdk_retries_when_disabled(self, harness: ProviderHarness, db: MemoryDb) -> None:
        harness.reply_error(ErrorKind.SERVER, "down")
        with pytest.raises(ModelServerError):
            Agent(model=harness.make_model(**self.no_retries()), db=db).run("Hello")
        assert len(harness.sent()) == 1, "a failed call was retried"

    # ------------------------------------------------------------------ streaming

    def test_streaming_yields_deltas_then_the_run(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        self.require(C.STREAMING)
        chunks = ["Hello", " there,", " friend!"]
        reply = harness.reply_text("".join(chunks), chunks=chunks, input_tokens=9, output_tokens=4)
        agent = Agent(model=harness.make_model(), db=db, instructions="Stream it.")
        steps = agent.run("Hi", session_id="s1", stream=True)
        first = next(steps)
        assert first == ContentDelta(chunks[0])
        assert db.get_session("s1") is None, "the run was stored before the stream ended"
        rest, run = _drain(steps)
        deltas = [chunks[0], *rest]

        assert deltas == chunks
        assert run.status is RunStatus.COMPLETED
        assert run.content == "Hello there, friend!"
        assert (run.metrics.input_tokens, run.metrics.output_tokens) == (9, 4)
        answer = run.last_assistant_message
        assert answer is not None
        if self.has(C.RESPONSE_ID):
            assert answer.metadata["response_id"] == reply.response_id
        [sent] = harness.sent()
        assert sent.stream, "a streamed run must send a streaming request"
        assert sent.system == "Stream it."
        stored = agent.get_session(session_id="s1")
        assert stored is not None
        assert stored.runs == (run,)

    def test_streaming_tool_calls(self, harness: ProviderHarness, db: MemoryDb) -> None:
        self.require(C.STREAMING)
        call = harness.reply_tool_calls(
            [("get_weather", {"city": "Lima"}), ("get_weather", {"city": "Rome"})]
        )
        harness.reply_text("Sunny in Lima and Rome.", chunks=["Sunny in Lima", " and Rome."])
        agent = Agent(model=harness.make_model(), db=db, tools=[WEATHER])
        deltas, run = _drain(agent.run("Lima and Rome?", session_id="s1", stream=True))

        assert deltas == ["Sunny in Lima", " and Rome."]
        assert run.content == "Sunny in Lima and Rome."
        lima, rome = self.call_ids(call)[:2]
        tool_messages = [m for m in run.messages if m.role is Role.TOOL]
        assert [m.content for m in tool_messages] == ["Sunny in Lima", "Sunny in Rome"]
        if self.has(C.TOOL_CALL_IDS):
            assert [m.tool_call_id for m in tool_messages] == [lima, rome]
        second = harness.sent()[1]
        assert second.stream
        self.same_messages(
            second.messages[2:],
            (
                SentMessage(role="tool", content="Sunny in Lima", tool_call_id=lima),
                SentMessage(role="tool", content="Sunny in Rome", tool_call_id=rome),
            ),
        )

    def test_broken_stream_is_stored_as_error_with_what_arrived(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        self.require(C.STREAMING)
        agent, before = _agent_after_one_run(harness, db)

        harness.reply_broken_stream(["Hel", "lo"])
        deltas: list[str] = []
        with pytest.raises(ModelConnectionError):
            _collect(agent.run("Now", session_id="s1", stream=True), deltas)
        assert deltas == ["Hel", "lo"]
        run = self._assert_failed_run_stored(db, before, RunStatus.ERROR, "Now")
        assert run.content == "Hello"

    def test_abandoned_stream_is_stored_as_cancelled_with_what_arrived(
        self, harness: ProviderHarness, db: MemoryDb
    ) -> None:
        agent, before = _agent_after_one_run(harness, db)

        harness.reply_text("Hello there, friend!", chunks=["Hello", " there,", " friend!"])
        steps = agent.run("Now", session_id="s1", stream=True)
        first = next(steps)
        assert isinstance(first, ContentDelta)
        if self.has(C.STREAMING):
            assert first == ContentDelta("Hello"), "the first chunk did not come first"
        steps.close()  # type: ignore[attr-defined]
        run = self._assert_failed_run_stored(db, before, RunStatus.CANCELLED, "Now")
        assert run.content == first.text, "the cancelled run must keep the text that arrived"

    def test_stream_error_is_stored_as_error(self, harness: ProviderHarness, db: MemoryDb) -> None:
        harness.reply_error(ErrorKind.RATE_LIMIT, "slow down")
        agent = Agent(model=harness.make_model(), db=db)
        with pytest.raises(ModelRateLimitError) as caught:
            _drain(agent.run("Hello", session_id="s1", stream=True))
        assert "slow down" in (caught.value.provider_message or "")
        [run] = agent.get_session(session_id="s1").runs  # type: ignore[union-attr]
        assert run.status is RunStatus.ERROR

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _assert_failed_run_stored(db: MemoryDb, before: Any, status: RunStatus, text: str) -> Run:
        after = db.get_session(before.session_id)
        assert after is not None
        assert after.runs[: len(before.runs)] == before.runs, "earlier runs were touched"
        [failed] = after.runs[len(before.runs) :]
        assert failed.status is status
        assert failed.input == text
        assert failed.error
        assert [m.role for m in failed.messages][:1] == [Role.USER]
        assert all(isinstance(m, Message) for m in failed.messages)
        return failed
