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
from typing import Any, ClassVar

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import (
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelError,
    ModelNotFoundError,
    ModelRateLimitError,
    ModelServerError,
)
from sessionary.models.base import Model, ModelRequest, ToolSpec
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply

__all__ = [
    "ERROR_CLASSES",
    "HELLO",
    "ErrorKind",
    "ProviderCapability",
    "ProviderHarness",
    "ProviderSuiteBase",
    "ScriptedReply",
    "SentMessage",
    "SentRequest",
    "without_ids",
]


class ErrorKind(str, enum.Enum):
    """HTTP-level failures a harness can script."""

    AUTHENTICATION = "authentication"  # 401
    RATE_LIMIT = "rate_limit"  # 429
    BAD_REQUEST = "bad_request"  # 400
    NOT_FOUND = "not_found"  # 404: no such model
    SERVER = "server"  # 500


#: The sessionary error each scripted failure must become.
ERROR_CLASSES: dict[ErrorKind, type[ModelError]] = {
    ErrorKind.AUTHENTICATION: ModelAuthenticationError,
    ErrorKind.RATE_LIMIT: ModelRateLimitError,
    ErrorKind.BAD_REQUEST: ModelBadRequestError,
    ErrorKind.NOT_FOUND: ModelNotFoundError,
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


class ProviderCapability(str, enum.Enum):
    """What a provider may or may not have; the suites check what a test class declares.

    Declare them in the test class's ``capabilities``, as a storage adapter declares
    ``TTL``: the clauses of a capability you do not declare are skipped (and the
    assertions about it left out of the clauses that run), so a provider without it
    writes no ``xfail``.
    """

    #: Answers carry the provider's response ID (kept in ``message.metadata``).
    RESPONSE_ID = "response_id"
    #: Tool calls carry the provider's IDs, and tool results are sent back by them.
    #: Without it the provider makes up IDs; calls and results are matched by order.
    TOOL_CALL_IDS = "tool_call_ids"
    #: The provider needs an API key: a missing one is a ``ModelAuthenticationError``
    #: at the first call, before any request.
    API_KEY = "api_key"
    #: The client retries failed calls itself, ``max_retries`` times (a model option).
    RETRIES = "retries"
    #: ``stream`` yields text as it arrives, piece by piece (not one delta at the end).
    STREAMING = "streaming"


#: Every capability: what a hosted, OpenAI-shaped provider on an SDK declares.
ALL_CAPABILITIES: frozenset[ProviderCapability] = frozenset(ProviderCapability)


class ProviderSuiteBase:
    """What the provider suites ask of a provider's test class: a ``harness`` fixture
    and the :class:`ProviderCapability` set it declares in ``capabilities``."""

    #: The optional capabilities the provider under test has (none by default).
    capabilities: ClassVar[frozenset[ProviderCapability]] = frozenset()

    def has(self, capability: ProviderCapability) -> bool:
        """Whether the test class declares ``capability``."""
        return capability in self.capabilities

    def require(self, capability: ProviderCapability) -> None:
        """Skip the calling clause unless the test class declares ``capability``."""
        if capability not in self.capabilities:
            import pytest  # the suites need pytest; this module alone does not

            pytest.skip(
                f"{type(self).__name__} does not declare the capability {capability.value!r}"
            )

    def call_ids(self, reply: ScriptedReply) -> tuple[str, ...]:
        """The reply's tool-call IDs; blanks for a provider without ``TOOL_CALL_IDS``."""
        if self.has(ProviderCapability.TOOL_CALL_IDS):
            assert reply.call_ids, "the harness gave no call_ids for a provider that has them"
            return reply.call_ids
        return ("", "", "")

    def same_messages(
        self, sent: tuple[SentMessage, ...], expected: tuple[SentMessage, ...]
    ) -> None:
        """Assert the messages are alike; tool-call IDs count only if the provider has them."""
        if not self.has(ProviderCapability.TOOL_CALL_IDS):
            sent, expected = without_ids(sent), without_ids(expected)
        assert sent == expected, f"the provider sent {sent!r}, expected {expected!r}"

    def no_retries(self) -> dict[str, Any]:
        """``max_retries=0`` for a provider that retries, nothing for one that does not."""
        return {"max_retries": 0} if self.has(ProviderCapability.RETRIES) else {}


def without_ids(messages: tuple[SentMessage, ...]) -> tuple[SentMessage, ...]:
    """``messages`` with every tool-call ID blanked, to compare where a provider has none."""
    return tuple(
        SentMessage(
            role=m.role,
            content=m.content,
            tool_calls=tuple(
                ToolCall(id="", name=c.name, arguments=c.arguments) for c in m.tool_calls
            ),
            tool_call_id=None,
        )
        for m in messages
    )


@attrs.frozen
class ScriptedReply:
    """What a scripted answer will carry: the response ID and the tool-call IDs.

    A provider without :attr:`ProviderCapability.RESPONSE_ID` gives ``response_id=None``;
    one without :attr:`ProviderCapability.TOOL_CALL_IDS` gives no ``call_ids``.
    """

    response_id: str | None = None
    call_ids: tuple[str, ...] = ()


class ProviderHarness(abc.ABC):
    """A provider's fake server, scripted in provider-neutral terms.

    Scripted replies are consumed in order, one per HTTP request. A reply answers
    a streaming request as the provider streams (server-sent events, JSON lines, ...),
    and a plain request with one JSON body.

    Implement the abstract methods; :meth:`make_model_without_credentials` only for a
    provider that declares :attr:`ProviderCapability.API_KEY`, and :meth:`gate_replies`
    and :meth:`client_disconnected` only when the harness keeps no
    :class:`~sessionary.testing.fake_http.FakeHTTPServer` at ``.server``.
    """

    #: ``provider:model-id`` as :func:`sessionary.get_model` takes it.
    model_name: str

    @abc.abstractmethod
    def make_model(self, **options: Any) -> Model:
        """A model pointed at the fake server with valid credentials and no SDK retries.

        ``options`` (``timeout``; ``max_retries`` for a provider that declares
        :attr:`ProviderCapability.RETRIES`) override the harness's defaults.
        """

    def make_model_without_credentials(self) -> Model:
        """A model pointed at the fake server with no API key anywhere (argument or env).

        Only for a provider that declares :attr:`ProviderCapability.API_KEY`.
        """
        raise NotImplementedError(f"{type(self).__name__} makes no model without credentials")

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
        """Answer the next request with assistant text (streamed as ``chunks``).

        The scripted ``input_tokens`` and ``output_tokens`` are the usage the answer
        reports; return the :class:`ScriptedReply` saying which response ID it carries.
        """

    @abc.abstractmethod
    def reply_tool_calls(
        self,
        calls: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        input_tokens: int = 13,
        output_tokens: int = 5,
    ) -> ScriptedReply:
        """Answer the next request with tool calls, all in one assistant turn.

        ``calls`` are ``(tool name, arguments)`` pairs; the reply's ``call_ids`` are the
        IDs the provider gives them, in order (none without ``TOOL_CALL_IDS``).
        """

    @abc.abstractmethod
    def reply_error(self, kind: ErrorKind, message: str) -> None:
        """Answer the next request with the provider's HTTP error of that kind.

        ``message`` goes where the provider puts its own words, which the model error
        must carry in ``provider_message``.
        """

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
        """Every model request the fake server received, oldest first, in neutral form.

        On a :class:`~sessionary.testing.fake_http.FakeHTTPServer`, build them from
        ``server.requests`` (each a ``RecordedRequest`` with ``.json()``).
        """

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
