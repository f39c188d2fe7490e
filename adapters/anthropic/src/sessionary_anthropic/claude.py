"""``Claude``: Anthropic models on the Messages API (``POST /v1/messages``)."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sessionary.domain.messages import Message, Role
from sessionary.errors import (
    InvalidInputError,
    ModelAuthenticationError,
    ModelError,
    ModelResponseError,
)
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.models.loop_clients import AsyncClientPerLoop, LoopClients
from sessionary_anthropic.convert import (
    THINKING_KEY,
    StreamState,
    parse_blocks,
    request_body,
    usage_of,
)
from sessionary_anthropic.errors import translate

if TYPE_CHECKING:
    import anthropic

__all__ = ["Claude"]

_RESERVED = frozenset({"model", "messages", "system", "stream", "max_tokens"})

_ClientT = TypeVar("_ClientT", "anthropic.Anthropic", "anthropic.AsyncAnthropic")


class Claude(AsyncClientPerLoop["anthropic.AsyncAnthropic"], Model):
    """An Anthropic model on the Messages API, through the official ``anthropic`` SDK.

    ``api_key`` and ``base_url`` default to the SDK's ``ANTHROPIC_API_KEY`` and
    ``ANTHROPIC_BASE_URL`` (and its other credential sources); ``timeout`` (seconds)
    and ``max_retries`` go to the SDK client, whose retries are the ones used.
    ``max_tokens`` bounds each answer (the API requires it). ``request_params`` are
    added to every request (``{"temperature": 0.2}``); names the SDK does not know
    travel in ``extra_body``. ``client_params`` go to ``anthropic.Anthropic``.

    The async calls (``arespond``, ``astream``) run on ``anthropic.AsyncAnthropic`` with
    the same options, one client per running event loop (see :meth:`async_client`).

    >>> Claude(id="claude-sonnet-4-5").label
    'anthropic:claude-sonnet-4-5'
    """

    provider: ClassVar[str] = "anthropic"
    native_async: ClassVar[bool] = True

    def __init__(
        self,
        id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_tokens: int = 8192,
        request_params: Mapping[str, Any] | None = None,
        client_params: Mapping[str, Any] | None = None,
    ) -> None:
        name = type(self).__name__
        if not isinstance(id, str) or not id.strip():
            raise InvalidInputError(f"{name}: id must be a non-empty model name")
        for option, value in (("api_key", api_key), ("base_url", base_url)):
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(f"{name}: {option} must be a str")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise InvalidInputError(f"{name}: timeout must be a positive number")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise InvalidInputError(f"{name}: max_retries must be an int >= 0")
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInputError(f"{name}: max_tokens must be a positive int")
        for params_name, given in (
            ("request_params", request_params),
            ("client_params", client_params),
        ):
            if given is not None and not isinstance(given, Mapping):
                raise InvalidInputError(
                    f"{name}: {params_name} must be a mapping, got {type(given).__name__}"
                )
        params = dict(request_params or {})
        clash = sorted(_RESERVED & params.keys())
        if clash:
            raise InvalidInputError(
                f"{name}: request_params may not set {', '.join(clash)} "
                f"(the agent sets them; max_tokens is an argument of its own)"
            )
        self.id = id
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_tokens = max_tokens
        self.request_params = params
        self.client_params = dict(client_params or {})
        self._client: anthropic.Anthropic | None = None
        self._lock = threading.Lock()
        self._async_clients: LoopClients[anthropic.AsyncAnthropic] = LoopClients(
            self._make_async_client
        )

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"Claude(id={self.id!r}{where})"

    # ------------------------------------------------------------------ client

    @property
    def client(self) -> anthropic.Anthropic:
        """The SDK client, made (and the SDK imported) on first use."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
                client = self._client
        return client

    def _make_client(self) -> anthropic.Anthropic:
        import anthropic

        return self._construct(anthropic.Anthropic)

    def _make_async_client(self) -> anthropic.AsyncAnthropic:
        import anthropic

        client = self._construct(anthropic.AsyncAnthropic)
        # What the SDK does lazily on its first call (importing the endpoint's modules
        # and the async backend, building the answer's pydantic model) is done here, in
        # the worker thread, not on the event loop. Best effort: a miss only costs time.
        try:
            _ = client.messages
            anthropic.types.Message.model_rebuild()
            importlib.import_module("anyio._backends._asyncio")
            _create_parameters()
        except Exception:
            pass
        return client

    def _construct(self, factory: Callable[..., _ClientT]) -> _ClientT:
        import anthropic

        options: dict[str, Any] = dict(self.client_params)
        if self.api_key is not None:
            options["api_key"] = self.api_key
        if self.base_url is not None:
            options["base_url"] = self.base_url  # else the SDK reads ANTHROPIC_BASE_URL
        if self.timeout is not None:
            options["timeout"] = float(self.timeout)
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        try:
            client = factory(**options)
        except anthropic.AnthropicError as exc:
            raise translate(exc, self.label) from exc
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{self.label}: bad client options: {exc}") from exc
        if not (client.api_key or client.auth_token or client.credentials):
            raise ModelAuthenticationError(
                f"{self.label}: no Anthropic API key; pass api_key=... or set ANTHROPIC_API_KEY"
            )
        return client

    # ------------------------------------------------------------------ calling

    def respond(self, request: ModelRequest) -> ModelResponse:
        """Ask the model once and wait for the whole answer."""
        body = self._body(request)
        return self._parse(self._call(self.client, body))

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        """Ask the model once on the async client; the event loop runs on meanwhile."""
        client = await self.async_client()
        return self._parse(await self._acall(client, self._body(request)))

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        """Yield text deltas as the server sends them, then the complete response.

        Closing the iterator early closes the HTTP response (and its connection).
        """
        body = self._stream_body(request)
        events = self._call(self.client, body)
        state = StreamState()
        with events, self._translating():
            for event in events:
                text = state.add(event)
                if text:
                    yield ContentDelta(text)
        yield self._finish(state)

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        """Yield text deltas as the server sends them, then the complete response (async).

        Closing the iterator early (``aclose()``, or leaving an ``async for``
        wrapped in ``contextlib.aclosing``) closes the HTTP response and its connection.
        """
        client = await self.async_client()
        events = await self._acall(client, self._stream_body(request))
        state = StreamState()
        async with events:
            with self._translating():
                async for event in events:
                    text = state.add(event)
                    if text:
                        yield ContentDelta(text)
        yield self._finish(state)

    def _parse(self, message: Any) -> ModelResponse:
        try:
            blocks = message.content
            message_id = message.id
            if not isinstance(message_id, str) or not isinstance(blocks, list):
                raise TypeError("no id or no content list")
            content, calls, thinking = parse_blocks(blocks)
        except Exception as exc:
            raise ModelResponseError(
                f"{self.label}: the server's answer is not a Messages API message "
                f"({type(exc).__name__}: {exc}): {_preview(message)}"
            ) from exc
        return self._build(
            message_id,
            getattr(message, "model", None),
            (content, calls, thinking),
            usage=getattr(message, "usage", None),
            stop_reason=getattr(message, "stop_reason", None),
        )

    def _finish(self, state: StreamState) -> ModelResponse:
        if not state.stopped or state.message_id is None:
            raise ModelResponseError(f"{self.label}: the stream ended before the message stopped")
        return self._build(
            state.message_id,
            state.model,
            parse_blocks(state.content_blocks()),
            usage=state.usage,
            stop_reason=state.stop_reason,
        )

    def _stream_body(self, request: ModelRequest) -> dict[str, Any]:
        return {**self._body(request), "stream": True}

    def _body(self, request: ModelRequest) -> dict[str, Any]:
        body = request_body(self.id, self.max_tokens, request)
        extra: dict[str, Any] = {}
        for key, value in self.request_params.items():
            if key == "tools":
                body["tools"] = [*body.get("tools", []), *value]
            elif key == "extra_body":
                extra.update(value)
            elif key in _create_parameters():
                body[key] = value
            else:
                extra[key] = value
        if extra:
            body["extra_body"] = extra
        return body

    @contextlib.contextmanager
    def _translating(self) -> Iterator[None]:
        """An SDK error raised inside becomes a sessionary model error (a ``ModelError`` passes)."""
        try:
            yield
        except ModelError:
            raise
        except Exception as exc:
            raise translate(exc, self.label) from exc

    def _call(self, client: anthropic.Anthropic, body: dict[str, Any]) -> Any:
        with self._translating():
            return client.messages.create(**body)

    async def _acall(self, client: anthropic.AsyncAnthropic, body: dict[str, Any]) -> Any:
        """:meth:`_call` on the async client."""
        with self._translating():
            return await client.messages.create(**body)

    def _build(
        self,
        message_id: str,
        model: Any,
        parsed: tuple[str | None, tuple[Any, ...], list[dict[str, Any]]],
        *,
        usage: Any,
        stop_reason: Any,
    ) -> ModelResponse:
        content, calls, thinking = parsed
        metadata: dict[str, Any] = {"response_id": message_id}
        if isinstance(model, str):
            metadata["model"] = model
        if isinstance(stop_reason, str):
            metadata["stop_reason"] = stop_reason
        if thinking:
            metadata[THINKING_KEY] = thinking
        message = Message(role=Role.ASSISTANT, content=content, tool_calls=calls, metadata=metadata)
        return ModelResponse(message=message, usage=usage_of(usage), response_id=message_id)


_PARAMETERS: frozenset[str] | None = None


def _create_parameters() -> frozenset[str]:
    """The named parameters of ``Messages.create`` in the installed SDK."""
    global _PARAMETERS
    if _PARAMETERS is None:
        import inspect

        from anthropic.resources.messages import Messages

        _PARAMETERS = frozenset(inspect.signature(Messages.create).parameters)
    return _PARAMETERS


def _preview(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
