"""The async side of the model-provider contract, as pytest tests.

``Model.arespond`` and ``Model.astream`` answer as ``respond`` and ``stream`` do (the
same request on the wire, the same response, the same errors, message for message)
without holding the event loop; an abandoned async stream closes its connection; a
model serves one ``asyncio.run(...)`` after another and several loops at once.

A provider's tests add this suite beside
:class:`~sessionary.testing.models.ModelProviderConformance`, with the same ``harness``
fixture::

    class TestMyProvider(ModelProviderConformance, AsyncModelProviderConformance):
        @pytest.fixture
        def harness(self, my_fake_server):
            return my_fake_server      # a ProviderHarness

Every clause runs its coroutines with ``asyncio.run``, so no async pytest plugin is
needed. Capabilities are declared as for the sync suite (``capabilities``, a set of
:class:`~sessionary.testing.provider_harness.ProviderCapability`). The abandoned-stream
clauses skip on a harness without
:meth:`~sessionary.testing.provider_harness.ProviderHarness.client_disconnected`; the
clause on native async calls skips on a provider whose ``native_async`` is False (its
async calls are its sync ones in a worker thread, which the rest of the suite checks).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from sessionary.agent.agent import Agent
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import RunStatus
from sessionary.errors import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelResponseError,
    ModelTimeoutError,
)
from sessionary.models.base import ContentDelta, ModelRequest, ModelResponse, ModelUsage
from sessionary.testing.io_gate import IoGate
from sessionary.testing.models import WEATHER as WEATHER_TOOL
from sessionary.testing.provider_harness import (
    ERROR_CLASSES,
    ErrorKind,
    ProviderCapability,
    ProviderHarness,
    ProviderSuiteBase,
    SentMessage,
)

__all__ = ["AsyncModelProviderConformance"]

#: The conformance suite's tool, as the model sees it.
WEATHER = WEATHER_TOOL.spec
PARIS_AND_ROME = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]


def _hello() -> ModelRequest:
    return ModelRequest(
        messages=(
            Message(role=Role.SYSTEM, content="You are terse."),
            Message(role=Role.USER, content="Hello"),
        )
    )


def _paris_and_rome() -> ModelRequest:
    return ModelRequest(
        messages=(Message(role=Role.USER, content="Paris, Rome?"),), tools=[WEATHER]
    )


def _after_a_tool_call() -> ModelRequest:
    call = ToolCall(id="call_1", name="get_weather", arguments={"city": "Oslo"})
    return ModelRequest(
        messages=(
            Message(role=Role.SYSTEM, content="Be kind."),
            Message(role=Role.USER, content="Weather in Oslo, then Paris and Rome?"),
            Message(role=Role.ASSISTANT, tool_calls=(call,)),
            Message(role=Role.TOOL, content="Sunny in Oslo", tool_call_id="call_1"),
        ),
        tools=(WEATHER,),
    )


async def _drain(
    stream: AsyncIterator[ContentDelta | ModelResponse],
) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    final: ModelResponse | None = None
    async for item in stream:
        if isinstance(item, ContentDelta):
            assert final is None, "a delta came after the response"
            deltas.append(item.text)
        else:
            final = item
    assert final is not None, "the stream did not end with the response"
    return deltas, final


def _drain_sync(stream: Iterator[ContentDelta | ModelResponse]) -> tuple[list[str], ModelResponse]:
    deltas: list[str] = []
    final: ModelResponse | None = None
    for item in stream:
        if isinstance(item, ContentDelta):
            deltas.append(item.text)
        else:
            final = item
    assert final is not None, "the stream did not end with the response"
    return deltas, final


def _raised(call: Callable[[], object]) -> ModelError:
    with pytest.raises(ModelError) as caught:
        call()
    return caught.value


def _assert_same_error(sync: ModelError, in_async: ModelError, expected: type[ModelError]) -> None:
    assert isinstance(in_async, expected), f"{type(in_async).__name__} is not {expected.__name__}"
    assert type(in_async) is type(sync)
    assert str(in_async) == str(sync)
    assert in_async.provider_message == sync.provider_message


def _comparable(response: ModelResponse) -> tuple[Any, ...]:
    """A response without what differs between two answers to one request (IDs, time)."""
    message = response.message
    metadata = {k: v for k, v in message.metadata.items() if k != "response_id"}
    calls = [(c.name, c.arguments, c.raw_arguments) for c in message.tool_calls]
    return message.role, message.content, calls, metadata, response.usage


C = ProviderCapability


class AsyncModelProviderConformance(ProviderSuiteBase):
    """Every clause of the async provider contract, against a provider's fake server.

    Subclasses provide the ``harness`` fixture (a :class:`ProviderHarness`) and declare
    their ``capabilities``.
    """

    @pytest.fixture
    def harness(self) -> ProviderHarness:
        """The provider's scripted fake server; every subclass overrides this."""
        raise NotImplementedError("override the `harness` fixture to return a ProviderHarness")

    # ------------------------------------------------------------------ answers

    def test_async_text_answer(self, harness: ProviderHarness) -> None:
        reply = harness.reply_text("Hello! How can I help?", input_tokens=12, output_tokens=7)
        model = harness.make_model()
        response = asyncio.run(model.arespond(_hello()))

        assert response.message.role is Role.ASSISTANT
        assert response.message.content == "Hello! How can I help?"
        assert response.usage == ModelUsage(input_tokens=12, output_tokens=7)
        if self.has(C.RESPONSE_ID):
            assert response.response_id == reply.response_id
            assert response.message.metadata["response_id"] == reply.response_id
        [sent] = harness.sent()
        assert sent.model == model.id
        assert sent.system == "You are terse."
        assert sent.messages == (SentMessage(role="user", content="Hello"),)
        assert not sent.stream

    def test_async_tool_calls_plain_and_streamed(self, harness: ProviderHarness) -> None:
        plain = harness.reply_tool_calls(PARIS_AND_ROME, input_tokens=13, output_tokens=5)
        streamed = harness.reply_tool_calls(PARIS_AND_ROME, input_tokens=13, output_tokens=5)
        model = harness.make_model()

        async def both() -> tuple[ModelResponse, tuple[list[str], ModelResponse]]:
            return await model.arespond(_paris_and_rome()), await _drain(
                model.astream(_paris_and_rome())
            )

        answer, (deltas, streamed_answer) = asyncio.run(both())
        assert deltas == []
        for reply, response in ((plain, answer), (streamed, streamed_answer)):
            calls = [(c.name, c.arguments) for c in response.message.tool_calls]
            assert calls == [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
            assert all(c.id for c in response.message.tool_calls), "a tool call has no ID"
            if self.has(C.TOOL_CALL_IDS):
                assert tuple(c.id for c in response.message.tool_calls) == reply.call_ids
            assert response.usage.output_tokens == 5
        by_plain, by_stream = harness.sent()
        assert (by_plain.stream, by_stream.stream) == (False, True)
        [tool] = by_plain.tools
        assert (tool.name, tool.description) == (WEATHER.name, WEATHER.description)

    def test_async_and_sync_calls_send_and_read_alike(self, harness: ProviderHarness) -> None:
        harness.reply_tool_calls(PARIS_AND_ROME)
        harness.reply_tool_calls(PARIS_AND_ROME)
        model = harness.make_model()
        request = _after_a_tool_call()
        in_sync = model.respond(request)
        in_async = asyncio.run(model.arespond(request))

        by_sync, by_async = harness.sent()
        assert by_async.raw == by_sync.raw
        assert by_async.system == "Be kind."
        call = SentMessage(role="assistant", tool_calls=request.messages[2].tool_calls)
        result = SentMessage(role="tool", content="Sunny in Oslo", tool_call_id="call_1")
        self.same_messages(by_async.messages[1:], (call, result))
        assert _comparable(in_async) == _comparable(in_sync)

    # ------------------------------------------------------------------ streaming

    def test_async_streaming_yields_deltas_then_the_response(
        self, harness: ProviderHarness
    ) -> None:
        chunks = ["Hello", " there,", " friend!"]
        reply = harness.reply_text("".join(chunks), chunks=chunks, input_tokens=9, output_tokens=4)
        harness.reply_text("".join(chunks), chunks=chunks, input_tokens=9, output_tokens=4)
        model = harness.make_model()
        deltas, response = asyncio.run(_drain(model.astream(_hello())))

        if self.has(C.STREAMING):
            assert deltas == chunks, "astream must yield the text as it arrives"
        assert "".join(deltas) == "Hello there, friend!"
        assert response.message.content == "Hello there, friend!"
        assert response.usage == ModelUsage(input_tokens=9, output_tokens=4)
        if self.has(C.RESPONSE_ID):
            assert response.response_id == reply.response_id
        sync_deltas, in_sync = _drain_sync(model.stream(_hello()))
        assert sync_deltas == deltas
        assert _comparable(response) == _comparable(in_sync)
        by_async, by_sync = harness.sent()
        assert by_async.stream
        assert by_async.system == "You are terse."
        assert by_async.raw == by_sync.raw

    # ------------------------------------------------------------------ errors, as sync raises them

    @pytest.mark.parametrize("kind", list(ErrorKind), ids=[k.value for k in ErrorKind])
    def test_async_errors_match_sync(self, harness: ProviderHarness, kind: ErrorKind) -> None:
        said = f"the provider says no ({kind.value})"
        for _ in range(4):
            harness.reply_error(kind, said)
        model = harness.make_model()
        in_sync = _raised(lambda: model.respond(_hello()))
        in_async = _raised(lambda: asyncio.run(model.arespond(_hello())))
        _assert_same_error(in_sync, in_async, ERROR_CLASSES[kind])
        assert said in (in_async.provider_message or "")

        streamed_sync = _raised(lambda: _drain_sync(model.stream(_hello())))
        streamed_async = _raised(lambda: asyncio.run(_drain(model.astream(_hello()))))
        _assert_same_error(streamed_sync, streamed_async, ERROR_CLASSES[kind])
        assert len(harness.sent()) == 4

    def test_async_timeout_matches_sync(self, harness: ProviderHarness) -> None:
        harness.reply_slowly(5.0)
        harness.reply_slowly(5.0)
        model = harness.make_model(timeout=0.3, **self.no_retries())
        in_sync = _raised(lambda: model.respond(_hello()))
        in_async = _raised(lambda: asyncio.run(model.arespond(_hello())))
        _assert_same_error(in_sync, in_async, ModelTimeoutError)

    def test_async_malformed_answer_matches_sync(self, harness: ProviderHarness) -> None:
        for _ in range(4):
            harness.reply_malformed()
        model = harness.make_model()
        in_sync = _raised(lambda: model.respond(_hello()))
        in_async = _raised(lambda: asyncio.run(model.arespond(_hello())))
        _assert_same_error(in_sync, in_async, ModelResponseError)

        streamed_sync = _raised(lambda: _drain_sync(model.stream(_hello())))
        streamed_async = _raised(lambda: asyncio.run(_drain(model.astream(_hello()))))
        _assert_same_error(streamed_sync, streamed_async, ModelError)

    def test_async_missing_api_key_matches_sync(self, harness: ProviderHarness) -> None:
        self.require(C.API_KEY)
        model = harness.make_model_without_credentials()
        in_sync = _raised(lambda: model.respond(_hello()))
        in_async = _raised(lambda: asyncio.run(model.arespond(_hello())))
        _assert_same_error(in_sync, in_async, ModelAuthenticationError)
        assert "api key" in str(in_async).lower()
        streamed = _raised(lambda: asyncio.run(_drain(model.astream(_hello()))))
        _assert_same_error(in_sync, streamed, ModelAuthenticationError)
        assert harness.sent() == []

    def test_async_broken_stream_matches_sync(self, harness: ProviderHarness) -> None:
        self.require(C.STREAMING)
        harness.reply_broken_stream(["Hel", "lo"])
        harness.reply_broken_stream(["Hel", "lo"])
        model = harness.make_model()
        sync_deltas: list[str] = []
        async_deltas: list[str] = []

        def collect_sync() -> None:
            for item in model.stream(_hello()):
                assert isinstance(item, ContentDelta), (
                    "a broken stream must not end with a response"
                )
                sync_deltas.append(item.text)

        async def collect() -> None:
            async for item in model.astream(_hello()):
                assert isinstance(item, ContentDelta), (
                    "a broken stream must not end with a response"
                )
                async_deltas.append(item.text)

        in_sync = _raised(collect_sync)
        in_async = _raised(lambda: asyncio.run(collect()))
        assert async_deltas == sync_deltas == ["Hel", "lo"]
        _assert_same_error(in_sync, in_async, ModelConnectionError)

    def test_async_sdk_retries_are_used(self, harness: ProviderHarness) -> None:
        self.require(C.RETRIES)
        harness.reply_error(ErrorKind.SERVER, "try again")
        harness.reply_text("Second time lucky.")
        model = harness.make_model(max_retries=1)
        assert asyncio.run(model.arespond(_hello())).message.content == "Second time lucky."
        first, second = harness.sent()
        assert first == second

    # ------------------------------------------------------------------ abandoned streams

    def test_abandoned_async_stream_closes_its_connection(self, harness: ProviderHarness) -> None:
        self.require(C.STREAMING)
        harness.reply_text("Hello there, friend!", chunks=["Hello", " there,", " friend!"])
        model = harness.make_model()

        async def abandon() -> tuple[object, bool | None]:
            stream = model.astream(_hello())
            first = await stream.__anext__()
            aclose = getattr(stream, "aclose", None)
            assert aclose is not None, "astream must return an async generator (with aclose)"
            await aclose()
            try:  # asked while the loop (and so the model's client) is still alive
                return first, await asyncio.to_thread(harness.client_disconnected)
            except NotImplementedError:
                return first, None

        first, closed = asyncio.run(abandon())
        if closed is None:
            pytest.skip(f"{type(harness).__name__} cannot tell when a client disconnects")
        assert first == ContentDelta("Hello")
        assert closed, "the abandoned stream left its connection open"

    def test_arun_through_the_provider(self, harness: ProviderHarness) -> None:
        """``Agent.arun`` on this provider: a tool round trip, then an abandoned stream."""
        call = harness.reply_tool_calls([("get_weather", {"city": "Paris"})])
        harness.reply_text("Sunny in Paris.")
        harness.reply_text("Hello there, friend!", chunks=["Hello", " there,", " friend!"])
        agent = Agent(model=harness.make_model(), db="memory://", tools=[WEATHER_TOOL])

        async def scenario() -> tuple[Any, object, bool | None]:
            run = await agent.arun("Weather in Paris?", session_id="s1")
            steps = agent.arun("Now stream", session_id="s1", stream=True)
            first = await steps.__anext__()
            await steps.aclose()  # type: ignore[attr-defined]
            try:
                return run, first, await asyncio.to_thread(harness.client_disconnected)
            except NotImplementedError:
                return run, first, None

        run, first, closed = asyncio.run(scenario())
        assert run.content == "Sunny in Paris."
        assert [m.role for m in run.messages] == [
            Role.USER,
            Role.ASSISTANT,
            Role.TOOL,
            Role.ASSISTANT,
        ]
        paris = self.call_ids(call)[0]
        tool_result = SentMessage(role="tool", content="Sunny in Paris", tool_call_id=paris)
        self.same_messages(harness.sent()[1].messages[2:3], (tool_result,))
        assert isinstance(first, ContentDelta)
        if self.has(C.STREAMING):
            assert first == ContentDelta("Hello")
        stored = agent.get_session(session_id="s1")
        assert stored is not None
        assert [(r.status, r.content) for r in stored.runs] == [
            (RunStatus.COMPLETED, "Sunny in Paris."),
            (RunStatus.CANCELLED, first.text),
        ]
        assert closed in (None, True), "the abandoned stream left its connection open"

    # ------------------------------------------------------------------ the event loop

    def test_async_calls_do_not_block_the_event_loop(self, harness: ProviderHarness) -> None:
        """While the server holds its reply, the loop is free: the reply is let through by a
        task on the loop (:class:`~sessionary.testing.IoGate`), never by a stopwatch.

        One call comes first, ungated: the first call of a process imports the SDK.
        """
        gate = IoGate()
        harness.reply_text("Warm.")
        harness.reply_text("Plain.")
        harness.reply_text("Streamed.")
        harness.gate_replies(gate.wait)
        model = harness.make_model()

        async def check() -> tuple[ModelResponse, tuple[list[str], ModelResponse]]:
            await model.arespond(_hello())
            plain = await gate.check(model.arespond(_hello()), what=f"{model.label} arespond")
            streamed = await gate.check(
                _drain(model.astream(_hello())), what=f"{model.label} astream"
            )
            return plain, streamed

        try:
            plain, (deltas, streamed) = asyncio.run(check())
        finally:
            harness.gate_replies(None)
        assert plain.message.content == "Plain.", f"expected the held answer, got {plain!r}"
        assert "".join(deltas) == streamed.message.content == "Streamed."

    def test_concurrent_async_calls_on_one_loop(self, harness: ProviderHarness) -> None:
        answers = [f"answer {index}" for index in range(5)]
        for answer in answers:
            harness.reply_text(answer)
        model = harness.make_model()

        async def together() -> list[ModelResponse]:
            return list(await asyncio.gather(*(model.arespond(_hello()) for _ in answers)))

        responses = asyncio.run(together())
        assert sorted(r.message.content or "" for r in responses) == answers
        assert len(harness.sent()) == len(answers)

    def test_one_model_serves_several_event_loops(self, harness: ProviderHarness) -> None:
        answers = [f"answer {index}" for index in range(4)]
        for answer in answers:
            harness.reply_text(answer)
        model = harness.make_model()
        got = [asyncio.run(model.arespond(_hello())).message.content for _ in range(2)]
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def in_a_thread() -> None:  # each thread runs a loop of its own, both at once
            try:
                start.wait(timeout=10)
                got.append(asyncio.run(model.arespond(_hello())).message.content)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=in_a_thread) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sorted(a or "" for a in got) == answers

    def test_cancelled_async_call_leaves_the_model_usable(self, harness: ProviderHarness) -> None:
        harness.reply_slowly(5.0)
        harness.reply_text("Still here.")
        model = harness.make_model()

        async def scenario() -> ModelResponse:
            task = asyncio.create_task(model.arespond(_hello()))
            for _ in range(1000):  # until the request reached the server
                if harness.sent() or task.done():
                    break
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return await model.arespond(_hello())

        assert asyncio.run(scenario()).message.content == "Still here."

    def test_native_async_calls_never_use_the_sync_ones(
        self, harness: ProviderHarness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        model = harness.make_model()
        if not type(model).native_async:
            pytest.skip(f"{type(model).__name__} runs its sync calls in a worker thread")

        def refuse(*args: object, **kwargs: object) -> Any:
            raise AssertionError("a native async call went through the sync one")

        monkeypatch.setattr(model, "respond", refuse)
        monkeypatch.setattr(model, "stream", refuse)
        harness.reply_text("Native.")
        harness.reply_text("Native stream.", chunks=["Native", " stream."])

        async def both() -> tuple[ModelResponse, tuple[list[str], ModelResponse]]:
            return await model.arespond(_hello()), await _drain(model.astream(_hello()))

        plain, (deltas, streamed) = asyncio.run(both())
        assert plain.message.content == "Native."
        if self.has(C.STREAMING):
            assert deltas == ["Native", " stream."]
        assert "".join(deltas) == "Native stream."
        assert streamed.message.content == "Native stream."
