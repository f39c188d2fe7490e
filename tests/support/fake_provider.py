"""The scripted fake provider server the OpenAI and Anthropic adapters' tests share.

:class:`FakeProvider` is a :class:`~sessionary.testing.provider_harness.ProviderHarness`
on a :class:`~sessionary.testing.fake_http.FakeHTTPServer`: it keeps the script of
replies (consumed one per request to :attr:`FakeProvider.path`), makes the real provider
class pointed at the server, and answers what the suite scripts. A provider's fake (in
``tests/adapters/<provider>/conftest.py``) supplies only its wire format: how a
scripted turn is rendered (:meth:`FakeProvider.render`), the provider's error reply
(:meth:`FakeProvider.error_reply`) and the neutral view of a request body
(:meth:`FakeProvider.neutral`).
"""

from __future__ import annotations

import abc
import itertools
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import attrs

from sessionary.models.base import Model
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply, RecordedRequest
from sessionary.testing.provider_harness import (
    ErrorKind,
    ProviderHarness,
    ScriptedReply,
    SentRequest,
)

__all__ = ["Broken", "Calls", "FakeProvider", "Text", "Turn", "halves"]

#: The HTTP status each scripted failure is answered with.
STATUS: dict[ErrorKind, int] = {
    ErrorKind.AUTHENTICATION: 401,
    ErrorKind.RATE_LIMIT: 429,
    ErrorKind.BAD_REQUEST: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.SERVER: 500,
}


@attrs.frozen
class Text:
    """A scripted answer in text, streamed as ``chunks``."""

    response_id: str
    text: str
    chunks: tuple[str, ...]
    input_tokens: int
    output_tokens: int


@attrs.frozen
class Calls:
    """A scripted answer that calls tools: ``(call ID, name, arguments)`` each."""

    response_id: str
    calls: tuple[tuple[str, str, dict[str, Any]], ...]
    input_tokens: int
    output_tokens: int


@attrs.frozen
class Broken:
    """A scripted stream of ``chunks`` that breaks before it ends."""

    response_id: str
    chunks: tuple[str, ...]


Turn = Text | Calls | Broken | HTTPReply


def halves(text: str) -> tuple[str, str]:
    """``text`` in two pieces, as a stream sends a tool call's arguments."""
    middle = len(text) // 2
    return text[:middle], text[middle:]


class FakeProvider(ProviderHarness):
    """A provider's fake server with a script of replies; see the module documentation."""

    #: The provider class under test, and the model ID the fake makes it with.
    model_class: Callable[..., Model]
    model_id: str
    api_key: str
    #: The endpoint path the server answers (``/v1/messages``); others get a 404.
    path: ClassVar[str]
    #: Prefixes of the response IDs and tool-call IDs it makes up.
    id_prefix: ClassVar[str]
    call_prefix: ClassVar[str]
    #: Where the SDK's ``base_url`` points, below the server's URL.
    url_suffix: ClassVar[str] = ""
    #: Whether the model takes ``max_retries`` (a provider without retries does not).
    takes_max_retries: bool = True

    def __init__(self) -> None:
        self.script: deque[Turn] = deque()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.server = FakeHTTPServer(self._respond)

    @property
    def base_url(self) -> str:
        """The ``base_url`` that points the provider's SDK at this server."""
        return self.server.url + self.url_suffix

    # ------------------------------------------------------------------ the wire format

    @abc.abstractmethod
    def render(self, turn: Text | Calls | Broken, body: dict[str, Any]) -> HTTPReply:
        """The provider's answer to the request ``body`` for a scripted turn."""

    @abc.abstractmethod
    def error_reply(self, status: int, message: str) -> HTTPReply:
        """The provider's HTTP error reply of that status."""

    @abc.abstractmethod
    def neutral(self, body: dict[str, Any]) -> SentRequest:
        """A request body the server received, in neutral form."""

    # ------------------------------------------------------------------ harness

    def make_model(self, **options: Any) -> Model:
        options = {**self._no_retries(), "timeout": 10.0, **options}
        if not self.takes_max_retries:
            options.pop("max_retries", None)
        return self.model_class(
            id=self.model_id, api_key=self.api_key, base_url=self.base_url, **options
        )

    def make_model_without_credentials(self) -> Model:
        return self.model_class(id=self.model_id, base_url=self.base_url, **self._no_retries())

    def connection_options(self) -> dict[str, Any]:
        return {"api_key": self.api_key, "base_url": self.base_url, **self._no_retries()}

    def _no_retries(self) -> dict[str, Any]:
        return {"max_retries": 0} if self.takes_max_retries else {}

    def reply_text(
        self,
        text: str,
        *,
        chunks: Sequence[str] | None = None,
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> ScriptedReply:
        parts = tuple(chunks) if chunks is not None else (text,)
        assert "".join(parts) == text
        response_id = self._next_id()
        self.script.append(Text(response_id, text, parts, input_tokens, output_tokens))
        return ScriptedReply(response_id)

    def reply_tool_calls(
        self,
        calls: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        input_tokens: int = 13,
        output_tokens: int = 5,
    ) -> ScriptedReply:
        response_id = self._next_id()
        scripted = tuple(
            (f"{self.call_prefix}{response_id[-4:]}_{index}", name, dict(arguments))
            for index, (name, arguments) in enumerate(calls)
        )
        self.script.append(Calls(response_id, scripted, input_tokens, output_tokens))
        return ScriptedReply(response_id, tuple(c[0] for c in scripted))

    def reply_error(self, kind: ErrorKind, message: str) -> None:
        self.script.append(self.error_reply(STATUS[kind], message))

    def reply_slowly(self, seconds: float) -> None:
        self.script.append(HTTPReply(json={"late": True}, delay=seconds))

    def reply_malformed(self) -> None:
        self.script.append(HTTPReply(json={"unexpected": ["shape"]}))

    def reply_broken_stream(self, chunks: Sequence[str]) -> None:
        self.script.append(Broken(self._next_id(), tuple(chunks)))

    def reply_raw(self, reply: HTTPReply) -> None:
        self.script.append(reply)

    def sent(self) -> list[SentRequest]:
        return [self.neutral(r.json()) for r in self.server.requests if r.method == "POST"]

    def client_disconnected(self, timeout: float = 5.0) -> bool:
        return self.server.disconnected(timeout)

    # ------------------------------------------------------------------ serving

    def _next_id(self) -> str:
        return f"{self.id_prefix}{next(self._ids):04d}"

    def _respond(self, request: RecordedRequest) -> HTTPReply:
        if request.path != self.path:
            return self.error_reply(404, f"no route {request.path}")
        with self._lock:
            turn = self.script.popleft() if self.script else None
        if turn is None:
            return self.error_reply(400, "fake server: no scripted reply left")
        if isinstance(turn, HTTPReply):
            return turn
        return self.render(turn, request.json())
