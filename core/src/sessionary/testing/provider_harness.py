"""The provider-neutral harness the model-provider conformance suite talks through.

A :class:`ProviderHarness` scripts a provider's fake server ("answer with this text",
"call these tools", "fail with a rate limit") and reports what the server received as
:class:`SentRequest` objects, so :class:`~sessionary.testing.models.ModelProviderConformance`
can assert on requests and answers without knowing any wire format.

:func:`assert_answers_alike` checks a provider-specific wire case both ways: the same
scripted reply, answered by the sync call and by the async one, must give the caller
the same deltas and response (or the same error), from the same request on the wire::

    @pytest.mark.parametrize("case", list(CASES))
    def test_answers_alike(my_fake, case):
        reply, stream, error = CASES[case]
        assert_answers_alike(my_fake, reply, stream=stream, error=error)
"""

from __future__ import annotations

import abc
import asyncio
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import (
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelError,
    ModelRateLimitError,
    ModelServerError,
)
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse, ToolSpec
from sessionary.testing.fake_http import HTTPReply

__all__ = [
    "ERROR_CLASSES",
    "HELLO",
    "ErrorKind",
    "Outcome",
    "ProviderHarness",
    "ScriptedReply",
    "SentMessage",
    "SentRequest",
    "assert_answers_alike",
    "error_of",
    "sync_and_async",
]


class ErrorKind(str, enum.Enum):
    """HTTP-level failures a harness can script."""

    AUTHENTICATION = "authentication"  # 401
    RATE_LIMIT = "rate_limit"  # 429
    BAD_REQUEST = "bad_request"  # 400
    SERVER = "server"  # 500


#: The sessionary error each scripted failure must become.
ERROR_CLASSES: dict[ErrorKind, type[ModelError]] = {
    ErrorKind.AUTHENTICATION: ModelAuthenticationError,
    ErrorKind.RATE_LIMIT: ModelRateLimitError,
    ErrorKind.BAD_REQUEST: ModelBadRequestError,
    ErrorKind.SERVER: ModelServerError,
}


@attrs.frozen(kw_only=True)
class SentMessage:
    """A non-system message as the provider received it, in neutral form.

    Tool calls of one assistant turn are one message with several ``tool_calls``;
    each tool result is a ``tool`` message with the ``tool_call_id`` it answers.
    """

    role: str
    content: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


@attrs.frozen(kw_only=True)
class SentRequest:
    """One request the fake server received, in neutral form.

    ``raw`` is the decoded request body, for wire-level assertions.
    """

    model: str
    system: str | None
    messages: tuple[SentMessage, ...]
    tools: tuple[ToolSpec, ...]
    stream: bool
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False)


@attrs.frozen
class ScriptedReply:
    """What a scripted answer will carry: the response ID and the tool-call IDs."""

    response_id: str
    call_ids: tuple[str, ...] = ()


class ProviderHarness(abc.ABC):
    """A provider's fake server, scripted in provider-neutral terms.

    Scripted replies are consumed in order, one per HTTP request. A reply answers
    a streaming request as the provider streams (server-sent events), and a plain
    request with one JSON body.
    """

    #: ``provider:model-id`` as :func:`sessionary.get_model` takes it.
    model_name: str

    @abc.abstractmethod
    def make_model(self, **options: Any) -> Model:
        """A model pointed at the fake server with valid credentials and no SDK retries.

        ``options`` (``timeout``, ``max_retries``, ...) override the harness's defaults.
        """

    @abc.abstractmethod
    def make_model_without_credentials(self) -> Model:
        """A model pointed at the fake server with no API key anywhere (argument or env)."""

    @abc.abstractmethod
    def connection_options(self) -> dict[str, Any]:
        """The options ``get_model(model_name, **options)`` needs to reach the fake server."""

    @abc.abstractmethod
    def reply_text(
        self,
        text: str,
        *,
        chunks: Sequence[str] | None = None,
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> ScriptedReply:
        """Answer the next request with assistant text (streamed as ``chunks``)."""

    @abc.abstractmethod
    def reply_tool_calls(
        self,
        calls: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        input_tokens: int = 13,
        output_tokens: int = 5,
    ) -> ScriptedReply:
        """Answer the next request with tool calls, all in one assistant turn."""

    @abc.abstractmethod
    def reply_error(self, kind: ErrorKind, message: str) -> None:
        """Answer the next request with the provider's HTTP error of that kind."""

    @abc.abstractmethod
    def reply_slowly(self, seconds: float) -> None:
        """Answer the next request only after ``seconds`` (past the client's timeout)."""

    @abc.abstractmethod
    def reply_malformed(self) -> None:
        """Answer the next request with HTTP 200 and a body that is not a usable response."""

    @abc.abstractmethod
    def reply_broken_stream(self, chunks: Sequence[str]) -> None:
        """Stream ``chunks`` of text, then drop the connection before the stream ends."""

    @abc.abstractmethod
    def sent(self) -> list[SentRequest]:
        """Every model request the fake server received, oldest first."""

    def reply_raw(self, reply: HTTPReply) -> None:
        """Answer the next request with exactly ``reply`` (for provider-specific tests)."""
        raise NotImplementedError(f"{type(self).__name__} does not script raw replies")

    def client_disconnected(self, timeout: float = 5.0) -> bool:
        """Whether the client closed the connection that carried the latest request.

        Waits up to ``timeout`` seconds for it to. The abandoned-stream clauses of
        :class:`~sessionary.testing.async_models.AsyncModelProviderConformance` use it;
        a harness that cannot tell raises :class:`NotImplementedError` and they skip.
        (On :class:`~sessionary.testing.fake_http.FakeHTTPServer`: return
        ``server.disconnected(timeout)``.)
        """
        raise NotImplementedError(f"{type(self).__name__} cannot tell when a client disconnects")


# ---------------------------------------------------------------------- sync against async

#: A system prompt, a user message and one tool: the request :func:`assert_answers_alike`
#: sends unless told otherwise.
HELLO = ModelRequest(
    messages=(
        Message(role=Role.SYSTEM, content="Be brief."),
        Message(role=Role.USER, content="Hello"),
    ),
    tools=(ToolSpec(name="get_weather", description="Get the weather in a city."),),
)

#: What a caller saw of one call: ``(deltas, (content, tool calls, metadata, usage,
#: response ID))``, or ``(deltas, error class, error text, provider message)``.
Outcome = tuple[Any, ...]


def _outcome_of(response: ModelResponse) -> tuple[Any, ...]:
    message = response.message
    return (
        message.content,
        message.tool_calls,
        message.metadata,
        response.usage,
        response.response_id,
    )


def _settle(call: Callable[[list[str]], ModelResponse]) -> Outcome:
    deltas: list[str] = []
    try:
        response = call(deltas)
    except ModelError as exc:
        return deltas, type(exc), str(exc), exc.provider_message
    return deltas, _outcome_of(response)


def sync_and_async(model: Model, request: ModelRequest, *, stream: bool) -> tuple[Outcome, Outcome]:
    """One call each way (``respond``/``arespond``, or ``stream``/``astream``), as seen by
    the caller: the sync call's :data:`Outcome`, then the async one's."""

    def in_sync(deltas: list[str]) -> ModelResponse:
        if not stream:
            return model.respond(request)
        last = None
        for item in model.stream(request):
            if isinstance(item, ContentDelta):
                deltas.append(item.text)
            else:
                last = item
        assert last is not None, "the stream did not end with the response"
        return last

    async def in_async(deltas: list[str]) -> ModelResponse:
        if not stream:
            return await model.arespond(request)
        last = None
        async for item in model.astream(request):
            if isinstance(item, ContentDelta):
                deltas.append(item.text)
            else:
                last = item
        assert last is not None, "the stream did not end with the response"
        return last

    return _settle(in_sync), _settle(lambda deltas: asyncio.run(in_async(deltas)))


def error_of(outcome: Outcome) -> type[ModelError] | None:
    """The error class an :data:`Outcome` records, or ``None`` for an answer."""
    error: type[ModelError] | None = outcome[1] if len(outcome) == 4 else None
    return error


def assert_answers_alike(
    harness: ProviderHarness,
    reply: HTTPReply,
    *,
    stream: bool,
    error: type[ModelError] | None,
    request: ModelRequest = HELLO,
    model: Model | None = None,
) -> tuple[Outcome, Outcome]:
    """Script ``reply`` twice; the sync and async calls must answer it alike.

    Alike: the same deltas and response, or the same error (class, text, provider
    message), which must be an ``error`` (``None``: an answer), from the same request
    body on the wire. ``model`` defaults to ``harness.make_model()``. Returns both
    outcomes, for assertions of the caller's own.
    """
    harness.reply_raw(reply)
    harness.reply_raw(reply)
    before = len(harness.sent())
    in_sync, in_async = sync_and_async(model or harness.make_model(), request, stream=stream)
    assert in_async == in_sync
    raised = error_of(in_async)
    if error is None:
        assert raised is None, in_async
    else:
        assert raised is not None and issubclass(raised, error), in_async
    by_sync, by_async = harness.sent()[before:]
    assert by_async.raw == by_sync.raw
    return in_sync, in_async
