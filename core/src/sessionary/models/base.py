"""The model-provider contract: what the agent sends a model and what it gets back."""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, ClassVar

import attrs

from sessionary.domain.messages import Message

__all__ = ["ContentDelta", "Model", "ModelRequest", "ModelResponse", "ModelUsage", "ToolSpec"]


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return value if type(value) is tuple else tuple(value)


def _specs(value: Iterable[ToolSpec]) -> tuple[ToolSpec, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(kw_only=True)
class ToolSpec:
    """A tool as a model sees it: name, description and JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = attrs.field(
        factory=lambda: {"type": "object", "properties": {}, "required": []}
    )


@attrs.frozen(kw_only=True)
class ModelRequest:
    """One call to a model: the conversation so far (system messages first) and the tools."""

    messages: tuple[Message, ...] = attrs.field(converter=_messages)
    tools: tuple[ToolSpec, ...] = attrs.field(default=(), converter=_specs)


@attrs.frozen(kw_only=True)
class ModelUsage:
    """Tokens a model call used, as the provider reported them."""

    input_tokens: int = 0
    output_tokens: int = 0


@attrs.frozen(kw_only=True)
class ModelResponse:
    """A model's answer: one assistant message (text and/or tool calls) and its usage."""

    message: Message
    usage: ModelUsage = attrs.field(factory=ModelUsage)
    #: The provider's ID of the response, also kept in ``message.metadata``.
    response_id: str | None = None


@attrs.frozen
class ContentDelta:
    """A piece of assistant text, as a streaming model produces it."""

    text: str

    @property
    def content(self) -> str:
        """The text (Agno's name for a streamed chunk's text)."""
        return self.text


class Model(abc.ABC):
    """Base class of model providers.

    A provider class sets :attr:`provider` (the name ``get_model("NAME:model-id")``
    uses) and takes the model ID as its ``id`` keyword. Constructing a model does no
    I/O and imports no SDK; the first call does.

    The async side (:meth:`arespond`, :meth:`astream`) is what ``Agent.arun`` and async
    naming call. A provider with an async client overrides both and sets
    :attr:`native_async`; otherwise the defaults run the sync call in a worker thread
    (a sync :meth:`stream` chunk by chunk), so a sync-only provider never blocks the
    event loop and still streams.
    """

    #: Whether :meth:`arespond` and :meth:`astream` are the provider's own async calls
    #: (``False``: the sync call runs in a worker thread).
    native_async: ClassVar[bool] = False

    #: Registry name of the provider (``"openai"``, ``"anthropic"``, ...).
    provider: ClassVar[str]
    #: The model ID at the provider (``"gpt-5.2"``).
    id: str

    @abc.abstractmethod
    def respond(self, request: ModelRequest) -> ModelResponse:
        """Answer a request. Errors are raised as :class:`~sessionary.errors.ModelError`."""

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        """Yield text deltas as they arrive, then the complete response last.

        The default answers in one piece; streaming providers override it.
        """
        response = self.respond(request)
        if response.message.content:
            yield ContentDelta(response.message.content)
        yield response

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        """Answer a request without blocking the event loop.

        The default runs :meth:`respond` in a worker thread; providers with an async
        client override it. Errors are raised as :class:`~sessionary.errors.ModelError`.
        """
        return await asyncio.to_thread(self.respond, request)

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        """Yield text deltas as they arrive, then the complete response last (async).

        Streaming providers with an async client override it. Otherwise, a provider that
        overrides :meth:`stream` (streams in its sync code only) has that stream bridged:
        it runs in a worker thread, each chunk handed to the event loop as it arrives,
        and closed there when the caller abandons the async stream. A provider that
        does not stream answers in one piece through :meth:`arespond`.
        """
        if type(self).stream is Model.stream:
            response = await self.arespond(request)
            if response.message.content:
                yield ContentDelta(response.message.content)
            yield response
            return
        steps = self.stream(request)
        done = object()
        try:
            while True:
                item = await asyncio.to_thread(next, steps, done)
                if item is done:
                    return
                yield item  # type: ignore[misc]
        finally:
            # Closing runs the sync stream's cleanup (its connection) off the loop. If a
            # chunk is still being read (the caller was cancelled), the stream is
            # closed by the garbage collector once that read returns.
            close = getattr(steps, "close", None)
            if close is not None:
                with contextlib.suppress(ValueError):
                    await asyncio.to_thread(close)

    @property
    def label(self) -> str:
        """``provider:id``, as ``get_model`` takes it."""
        return f"{self.provider}:{self.id}"
