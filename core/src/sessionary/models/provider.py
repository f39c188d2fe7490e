"""The base of model providers on a client library (an SDK, or httpx): :class:`SDKModel`.

``sessionary-openai`` and ``sessionary-anthropic`` are both built on it; a third-party
provider may be too. The base

- checks the options every such provider takes (``id``, ``api_key``, ``base_url``,
  ``timeout``, ``max_retries``, ``request_params``, ``client_params``) when the model is
  constructed, which does no I/O and imports nothing;
- makes the sync client on first use, once, under a lock, and an async client per
  running event loop (:class:`~sessionary.models.loop_clients.LoopClients`), made in a
  worker thread;
- answers the four ways (``respond``, ``stream``, ``arespond``, ``astream``), passing
  ``request_params`` to the library's call: named parameters by name, the others in
  ``extra_body``, so a parameter the installed library does not know still reaches the
  server;
- turns whatever the library raises into a :class:`~sessionary.errors.ModelError`
  through the subclass's :meth:`SDKModel._translate`.

A subclass imports its library inside the methods it supplies (the client classes,
the endpoint, the request body, how to read an answer and how to fold a stream's events),
never at module level, so importing it stays cheap. The core imports no SDK.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import importlib
import inspect
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sessionary.errors import InvalidInputError, ModelError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.models.loop_clients import AsyncClientPerLoop, LoopClients

__all__ = ["SDKModel", "StreamFold", "preview"]

ClientT = TypeVar("ClientT")
AsyncClientT = TypeVar("AsyncClientT")
_T = TypeVar("_T")


class StreamFold(Protocol):
    """What the events of one streamed answer add up to."""

    def add(self, event: Any) -> str:
        """Fold one event in; returns the text it carries ("" for none). May raise."""

    def finish(self) -> ModelResponse:
        """The complete response, once the events ran out. Raises if it never completed."""


class SDKModel(AsyncClientPerLoop[AsyncClientT], Model, Generic[ClientT, AsyncClientT]):
    """A model provider on a client library: options, lazy clients, calls and error mapping.

    See the module documentation. ``api_key`` and ``base_url`` left out are the
    library's to find (its environment variables); ``timeout`` (seconds) and
    ``max_retries`` go to the client, whose retries are the ones used.
    ``request_params`` are added to every request; ``client_params`` go to the client's
    constructor.
    """

    native_async: ClassVar[bool] = True
    #: Request fields the provider sets itself; ``request_params`` may not set them.
    reserved_params: ClassVar[frozenset[str]] = frozenset()
    #: Why, in the error that refuses them.
    reserved_reason: ClassVar[str] = "the agent sets them"

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
        owner = type(self).__name__
        if not isinstance(id, str) or not id.strip():
            raise InvalidInputError(f"{owner}: id must be a non-empty model name")
        for option, text in (("api_key", api_key), ("base_url", base_url)):
            if text is not None and not isinstance(text, str):
                raise InvalidInputError(f"{owner}: {option} must be a str")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise InvalidInputError(f"{owner}: timeout must be a positive number")
        if max_retries is not None and (
            isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
        ):
            raise InvalidInputError(f"{owner}: max_retries must be an int >= 0")
        for option, given in (("request_params", request_params), ("client_params", client_params)):
            if given is not None and not isinstance(given, Mapping):
                raise InvalidInputError(
                    f"{owner}: {option} must be a mapping, got {type(given).__name__}"
                )
        params = dict(request_params or {})
        clash = sorted(self.reserved_params & params.keys())
        if clash:
            raise InvalidInputError(
                f"{owner}: request_params may not set {', '.join(clash)} ({self.reserved_reason})"
            )
        self.id = id
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.request_params = params
        self.client_params = dict(client_params or {})
        self._client: ClientT | None = None
        self._lock = threading.Lock()
        self._async_clients: LoopClients[AsyncClientT] = LoopClients(self._make_async_client)

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"{type(self).__name__}(id={self.id!r}{where})"

    # ------------------------------------------------------------------ what a provider supplies

    @abc.abstractmethod
    def _sync_client_class(self) -> Callable[..., ClientT]:
        """The library's sync client class (imported here, not at module level)."""

    @abc.abstractmethod
    def _async_client_class(self) -> Callable[..., AsyncClientT]:
        """The library's async client class (imported here, not at module level)."""

    @abc.abstractmethod
    def _endpoint(self, client: ClientT | AsyncClientT) -> Callable[..., Any]:
        """The library's method that creates an answer, on the sync or the async client."""

    @abc.abstractmethod
    def _body(self, request: ModelRequest) -> dict[str, Any]:
        """The request body of a plain call (without ``request_params``)."""

    @abc.abstractmethod
    def _parse(self, answer: Any) -> ModelResponse:
        """The response for the library's answer to a plain call."""

    @abc.abstractmethod
    def _fold(self) -> StreamFold:
        """A fresh fold for the events of one streamed answer."""

    @abc.abstractmethod
    def _translate(self, exc: BaseException) -> ModelError:
        """The model error for an exception the library raised (see :mod:`.failures`)."""

    def _stream_body(self, request: ModelRequest) -> dict[str, Any]:
        """The request body of a streamed call."""
        return {**self._body(request), "stream": True}

    def _answer_type(self) -> Any:
        """The library's (pydantic) type of an answer, built ahead in :meth:`_warm_up`."""
        return None

    def _check_client(self, client: ClientT | AsyncClientT) -> None:
        """Refuse a client just made (no credentials found, say); the default accepts it."""

    def _client_error(self, exc: Exception) -> Exception:
        """The error for an exception the client's constructor raised."""
        if isinstance(exc, (TypeError, ValueError)):
            return InvalidInputError(f"{self.label}: bad client_params: {exc}")
        return self._translate(exc)

    def _request_params(self, *, streaming: bool) -> Iterable[tuple[str, Any]]:
        """The ``request_params`` that go with one call."""
        return self.request_params.items()

    # ------------------------------------------------------------------ clients

    @property
    def client(self) -> ClientT:
        """The sync client, made (and the library imported) on first use."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
                client = self._client
        return client

    def _make_client(self) -> ClientT:
        client = self._construct(self._sync_client_class())
        self._check_client(client)
        return client

    def _make_async_client(self) -> AsyncClientT:
        client = self._construct(self._async_client_class())
        self._check_client(client)
        self._warm_up(client)
        return client

    def _client_options(self) -> dict[str, Any]:
        """The client constructor's arguments: ``client_params`` and the options given."""
        options: dict[str, Any] = dict(self.client_params)
        if self.api_key is not None:
            options["api_key"] = self.api_key
        if self.base_url is not None:
            options["base_url"] = self.base_url
        if self.timeout is not None:
            options["timeout"] = float(self.timeout)
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        return options

    def _construct(self, factory: Callable[..., _T]) -> _T:
        options = self._client_options()
        try:
            client = factory(**options)
        except Exception as exc:
            raise self._client_error(exc) from exc
        return client

    def _warm_up(self, client: AsyncClientT) -> None:
        """Do in the worker thread what the library would do on the loop at the first call.

        That is: import the endpoint's modules, read its signature, build the answer's
        pydantic model and import anyio's asyncio backend (httpx's, loaded at the first
        request). Best effort: a miss only costs time.
        """
        try:
            _parameters(self._endpoint(client))
            rebuild = getattr(self._answer_type(), "model_rebuild", None)
            if rebuild is not None:
                rebuild()
            importlib.import_module("anyio._backends._asyncio")
        except Exception:
            pass

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
        """A library error raised inside becomes a model error (a ``ModelError`` passes)."""
        try:
            yield
        except ModelError:
            raise
        except Exception as exc:
            raise self._translate(exc) from exc

    def _call(self, method: Callable[..., Any], body: dict[str, Any]) -> Any:
        """Call a library method with the request ``body`` plus ``request_params``."""
        with self._translating():
            return method(**self._arguments(method, body))

    async def _acall(self, method: Callable[..., Any], body: dict[str, Any]) -> Any:
        """:meth:`_call` on an async library method."""
        with self._translating():
            return await method(**self._arguments(method, body))

    def _arguments(self, method: Callable[..., Any], body: dict[str, Any]) -> dict[str, Any]:
        """Named parameters go by name; the rest of ``request_params`` into ``extra_body``.

        ``tools`` are added to the request's own; an ``extra_body`` is merged.
        """
        accepted = _parameters(method)
        arguments = dict(body)
        extra: dict[str, Any] = {}
        for key, value in self._request_params(streaming=bool(body.get("stream"))):
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


def _parameters(method: Callable[..., Any]) -> frozenset[str]:
    return _names(getattr(method, "__func__", method))


@functools.lru_cache(maxsize=16)
def _names(function: Callable[..., Any]) -> frozenset[str]:
    return frozenset(inspect.signature(function).parameters)


def preview(value: Any) -> str:
    """At most 200 characters of an answer, for an error that says what arrived."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:200] + "..."
