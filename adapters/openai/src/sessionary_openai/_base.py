"""What both OpenAI providers share: options, the lazily made clients, calling the SDK.

Both providers answer the same four ways (``respond``, ``stream``, ``arespond``,
``astream``) through the methods here; a provider class supplies only its endpoint, its
request body, how to parse an answer and how to fold a stream's events into one.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import importlib
import inspect
import json
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from sessionary.domain.messages import ToolCall
from sessionary.errors import InvalidInputError, ModelAuthenticationError, ModelError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.models.loop_clients import AsyncClientPerLoop, LoopClients
from sessionary_openai.errors import translate

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIBase", "StreamFold", "decode_arguments"]

#: Client options that supply credentials other than an API key.
_OTHER_CREDENTIALS = frozenset({"workload_identity", "admin_api_key", "provider"})

_ClientT = TypeVar("_ClientT")


class StreamFold(Protocol):
    """What the events of one streamed answer add up to."""

    def add(self, event: Any) -> str:
        """Fold one event in; returns the text it carries ("" for none). May raise."""

    def finish(self) -> ModelResponse:
        """The complete response, once the events ran out. Raises if it never completed."""


class OpenAIBase(AsyncClientPerLoop["openai.AsyncOpenAI"], Model):
    """Options, SDK clients and calls common to :class:`OpenAIResponses` and :class:`OpenAIChat`.

    Nothing here does I/O or imports the SDK until the first call. The sync calls use
    one ``openai.OpenAI`` client; the async ones an ``openai.AsyncOpenAI`` with the same
    options, one per running event loop (see :meth:`async_client`).
    """

    native_async: ClassVar[bool] = True
    provider: ClassVar[str]
    #: Request fields the provider sets itself; ``request_params`` may not override them.
    _reserved: ClassVar[frozenset[str]]

    def __init__(
        self,
        id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        request_params: Mapping[str, Any] | None = None,
        client_params: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(id, str) or not id.strip():
            raise InvalidInputError(f"{type(self).__name__}: id must be a non-empty model name")
        if api_key is not None and not isinstance(api_key, str):
            raise InvalidInputError(f"{type(self).__name__}: api_key must be a str")
        if base_url is not None and not isinstance(base_url, str):
            raise InvalidInputError(f"{type(self).__name__}: base_url must be a str")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise InvalidInputError(f"{type(self).__name__}: timeout must be a positive number")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise InvalidInputError(f"{type(self).__name__}: max_retries must be an int >= 0")
        for option, value in (("request_params", request_params), ("client_params", client_params)):
            if value is not None and not isinstance(value, Mapping):
                raise InvalidInputError(
                    f"{type(self).__name__}: {option} must be a mapping, got {type(value).__name__}"
                )
        params = dict(request_params or {})
        clash = sorted(self._reserved & params.keys())
        if clash:
            raise InvalidInputError(
                f"{type(self).__name__}: request_params may not set {', '.join(clash)} "
                f"(the agent sets them)"
            )
        self.id = id
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.request_params = params
        self.client_params = dict(client_params or {})
        self._client: openai.OpenAI | None = None
        self._lock = threading.Lock()
        self._async_clients: LoopClients[openai.AsyncOpenAI] = LoopClients(self._make_async_client)

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"{type(self).__name__}(id={self.id!r}{where})"

    # ------------------------------------------------------------------ client

    @property
    def client(self) -> openai.OpenAI:
        """The SDK client, made (and the SDK imported) on first use."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
                client = self._client
        return client

    def _make_client(self) -> openai.OpenAI:
        options = self._client_options()
        import openai

        return self._construct(openai.OpenAI, options)

    def _make_async_client(self) -> openai.AsyncOpenAI:
        options = self._client_options()
        import openai

        client = self._construct(openai.AsyncOpenAI, options)
        # What the SDK does lazily on its first call (importing the endpoint's modules
        # and the async backend, building the answer's pydantic model) is done here, in
        # the worker thread, not on the event loop. Best effort: a miss only costs time.
        try:
            self._endpoint(client)
            self._answer_type().model_rebuild()
            importlib.import_module("anyio._backends._asyncio")
        except Exception:
            pass
        return client

    def _client_options(self) -> dict[str, Any]:
        has_other_credentials = bool(_OTHER_CREDENTIALS & self.client_params.keys())
        if not (self.api_key or os.environ.get("OPENAI_API_KEY") or has_other_credentials):
            raise ModelAuthenticationError(
                f"{self.label}: no OpenAI API key; pass api_key=... or set OPENAI_API_KEY "
                f"(an OpenAI-compatible server that needs no key takes any placeholder)"
            )
        options: dict[str, Any] = dict(self.client_params)
        if self.api_key is not None:
            options["api_key"] = self.api_key
        if self.base_url is not None:
            options["base_url"] = self.base_url  # else the SDK reads OPENAI_BASE_URL
        if self.timeout is not None:
            options["timeout"] = float(self.timeout)
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        return options

    def _construct(self, factory: Callable[..., _ClientT], options: dict[str, Any]) -> _ClientT:
        import openai

        try:
            return factory(**options)
        except openai.OpenAIError as exc:
            cls = ModelAuthenticationError if "credential" in str(exc).lower() else ModelError
            raise cls(f"{self.label}: cannot make the OpenAI client: {exc}") from exc
        except TypeError as exc:
            raise InvalidInputError(f"{self.label}: bad client_params: {exc}") from exc

    # ------------------------------------------------------------------ what a provider supplies

    @abc.abstractmethod
    def _endpoint(self, client: openai.OpenAI | openai.AsyncOpenAI) -> Callable[..., Any]:
        """The SDK method that creates an answer, on the sync or the async client."""

    @abc.abstractmethod
    def _answer_type(self) -> type[Any]:
        """The SDK's (pydantic) type of a plain call's answer."""

    @abc.abstractmethod
    def _body(self, request: ModelRequest) -> dict[str, Any]:
        """The request body of a plain call (without ``request_params``)."""

    def _stream_body(self, request: ModelRequest) -> dict[str, Any]:
        """The request body of a streamed call."""
        return {**self._body(request), "stream": True}

    @abc.abstractmethod
    def _parse(self, answer: Any) -> ModelResponse:
        """The response for the SDK's answer to a plain call."""

    @abc.abstractmethod
    def _fold(self) -> StreamFold:
        """A fresh fold for the events of one streamed answer."""

    # ------------------------------------------------------------------ answering

    def respond(self, request: ModelRequest) -> ModelResponse:
        """Ask the model once and wait for the whole answer."""
        client = self.client
        return self._parse(self._call(self._endpoint(client), self._body(request)))

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        """Ask the model once on the async client; the event loop runs on meanwhile."""
        client = await self.async_client()
        return self._parse(await self._acall(self._endpoint(client), self._body(request)))

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        """Yield text deltas as the server sends them, then the complete response.

        Closing the iterator early closes the HTTP response (and its connection).
        """
        client = self.client
        fold = self._fold()
        events = self._call(self._endpoint(client), self._stream_body(request))
        with events, self._translating():
            for event in events:
                text = fold.add(event)
                if text:
                    yield ContentDelta(text)
        yield fold.finish()

    async def astream(self, request: ModelRequest) -> AsyncIterator[ContentDelta | ModelResponse]:
        """Yield text deltas as the server sends them, then the complete response (async).

        Closing the iterator early (``aclose()``, or leaving an ``async for``
        wrapped in ``contextlib.aclosing``) closes the HTTP response and its connection.
        """
        client = await self.async_client()
        fold = self._fold()
        events = await self._acall(self._endpoint(client), self._stream_body(request))
        async with events:
            with self._translating():
                async for event in events:
                    text = fold.add(event)
                    if text:
                        yield ContentDelta(text)
        yield fold.finish()

    # ------------------------------------------------------------------ calling

    @contextlib.contextmanager
    def _translating(self) -> Iterator[None]:
        """An SDK error raised inside becomes a sessionary model error (a ``ModelError`` passes)."""
        try:
            yield
        except ModelError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    def _call(self, method: Callable[..., Any], body: dict[str, Any]) -> Any:
        """Call an SDK method with the request ``body`` plus ``request_params``."""
        with self._translating():
            return method(**self._arguments(method, body))

    async def _acall(self, method: Callable[..., Any], body: dict[str, Any]) -> Any:
        """:meth:`_call` on an async SDK method."""
        with self._translating():
            return await method(**self._arguments(method, body))

    def _arguments(self, method: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
        """Named SDK parameters go by name; the rest of ``request_params`` into ``extra_body``.

        So a parameter this SDK version does not know (or one only an OpenAI-compatible
        server understands) still reaches the server.
        """
        accepted = _parameters(method)
        arguments = dict(body)
        extra: dict[str, Any] = {}
        streaming = bool(body.get("stream"))
        for key, value in self.request_params.items():
            if key == "stream_options" and not streaming:
                continue  # the API refuses stream_options on a plain request
            if key == "tools":
                arguments["tools"] = [*arguments.get("tools", []), *value]
            elif key == "extra_body":
                extra.update(value)
            elif key in accepted:
                arguments[key] = value
            else:
                extra[key] = value
        if extra:
            arguments["extra_body"] = extra
        return arguments

    def _translate(self, exc: BaseException) -> ModelError:
        return translate(exc, self.label)


def _parameters(method: Callable[..., Any]) -> frozenset[str]:
    return _names(getattr(method, "__func__", method))


@functools.lru_cache(maxsize=16)
def _names(function: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(function).parameters)


def decode_arguments(call_id: str, name: str, raw: str | None) -> ToolCall:
    """A tool call from the model's JSON argument text; bad JSON is kept raw for the agent."""
    text = raw or ""
    try:
        decoded = json.loads(text) if text.strip() else {}
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        return ToolCall(id=call_id, name=name, arguments=decoded)
    return ToolCall(id=call_id, name=name, arguments={}, raw_arguments=text)
