"""The provider-neutral harness the model-provider conformance suite talks through.

A :class:`ProviderHarness` scripts a provider's fake server ("answer with this text",
"call these tools", "fail with a rate limit") and reports what the server received as
:class:`SentRequest` objects, so :class:`~sessionary.testing.models.ModelProviderConformance`
can assert on requests and answers without knowing any wire format.
"""

from __future__ import annotations

import abc
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
from sessionary.models.base import Model, ModelRequest, ToolSpec
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply

__all__ = [
    "ERROR_CLASSES",
    "HELLO",
    "ErrorKind",
    "ProviderHarness",
    "ScriptedReply",
    "SentMessage",
    "SentRequest",
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

    def gate_replies(self, gate: Callable[[], object] | None) -> None:
        """Call ``gate`` in the fake server's thread before each reply is sent (``None``:
        stop). The default works for a harness whose ``server`` is a
        :class:`~sessionary.testing.fake_http.FakeHTTPServer`."""
        server = getattr(self, "server", None)
        if not isinstance(server, FakeHTTPServer):
            raise NotImplementedError(
                f"{type(self).__name__} has no FakeHTTPServer at .server: override gate_replies"
            )
        server.gate = gate

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


# ---------------------------------------------------------------------- a request

#: A system prompt, a user message and one tool: a request the suites send.
HELLO = ModelRequest(
    messages=(
        Message(role=Role.SYSTEM, content="Be brief."),
        Message(role=Role.USER, content="Hello"),
    ),
    tools=(ToolSpec(name="get_weather", description="Get the weather in a city."),),
)
