"""A model that answers from a script: for tests, demos and benchmarks, offline."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.errors import InvalidInputError
from sessionary.models.base import Model, ModelRequest, ModelResponse, ModelUsage

__all__ = ["Reply", "ScriptedModel", "ScriptedToolCall", "tool_call"]


@attrs.frozen
class ScriptedToolCall:
    """A scripted reply that calls a tool; made by :func:`tool_call`."""

    name: str
    arguments: dict[str, Any]


def tool_call(name: str, /, **arguments: Any) -> ScriptedToolCall:
    """A scripted reply in which the model calls the tool ``name`` with ``arguments``.

    >>> tool_call("get_weather", city="Paris")
    ScriptedToolCall(name='get_weather', arguments={'city': 'Paris'})
    """
    return ScriptedToolCall(name, dict(arguments))


#: One scripted reply: assistant text, one tool call, several tool calls in one turn,
#: or an exception to raise from the call.
Reply = str | ScriptedToolCall | Sequence[ScriptedToolCall] | BaseException


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


class ScriptedModel(Model):
    """Answers with the scripted replies in order, then echoes.

    A reply is a string (assistant text), ``tool_call(name, **arguments)``, a list
    of tool calls (several in one turn), or an exception instance (raised). Once the
    replies run out it answers ``"echo: " + <text of the last user message>``.
    Every request is recorded in :attr:`requests`. Usage counts words, so token
    metrics are deterministic. ``delay`` sleeps that many seconds per call
    (``asyncio.sleep`` in :meth:`arespond`, so a slow scripted model never blocks the loop).
    ``io``, when given, is called at each call as a real client's I/O would happen: in the
    calling thread by :meth:`respond`, in a worker thread by :meth:`arespond` (pass
    :meth:`sessionary.testing.IoGate.wait` to prove a caller never blocks its loop).

    >>> model = ScriptedModel("Hi there!")
    >>> ask = lambda text: ModelRequest(messages=[Message(role="user", content=text)])
    >>> model.respond(ask("Hello")).message.content
    'Hi there!'
    >>> model.respond(ask("Again")).message.content
    'echo: Again'
    """

    provider: ClassVar[str] = "scripted"
    native_async: ClassVar[bool] = True

    def __init__(
        self,
        *replies: Reply,
        id: str = "scripted",
        delay: float = 0.0,
        io: Callable[[], object] | None = None,
    ) -> None:
        for reply in replies:
            _check_reply(reply)
        self.id = id
        self.delay = delay
        self.io = io
        self.requests: list[ModelRequest] = []
        self._replies: deque[Reply] = deque(replies)
        self._lock = threading.Lock()
        self._call_ids = itertools.count(1)

    def add_replies(self, *replies: Reply) -> None:
        """Append more replies to the script."""
        for reply in replies:
            _check_reply(reply)
        with self._lock:
            self._replies.extend(replies)

    @property
    def remaining(self) -> int:
        """How many scripted replies are left before echoing."""
        return len(self._replies)

    def respond(self, request: ModelRequest) -> ModelResponse:
        """Answer with the next scripted reply (see the class docs)."""
        reply, call_number = self._next(request)
        if self.io is not None:
            self.io()
        if self.delay:
            time.sleep(self.delay)
        return self._answer(request, reply, call_number)

    async def arespond(self, request: ModelRequest) -> ModelResponse:
        """:meth:`respond` for the event loop: the ``delay`` is an ``asyncio.sleep``."""
        reply, call_number = self._next(request)
        if self.io is not None:
            await asyncio.to_thread(self.io)
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._answer(request, reply, call_number)

    def _next(self, request: ModelRequest) -> tuple[Reply | None, int]:
        with self._lock:
            self.requests.append(request)
            reply: Reply | None = self._replies.popleft() if self._replies else None
            return reply, next(self._call_ids)

    def _answer(
        self, request: ModelRequest, reply: Reply | None, call_number: int
    ) -> ModelResponse:
        if isinstance(reply, BaseException):
            raise reply
        content: str | None = None
        calls: tuple[ToolCall, ...] = ()
        if reply is None:
            content = "echo: " + (_last_user_text(request.messages) or "")
        elif isinstance(reply, str):
            content = reply
        else:
            scripted = [reply] if isinstance(reply, ScriptedToolCall) else list(reply)
            calls = tuple(
                ToolCall(id=f"call_{call_number}_{index}", name=c.name, arguments=c.arguments)
                for index, c in enumerate(scripted)
            )
        response_id = f"scripted-{call_number}"
        message = Message(
            role=Role.ASSISTANT,
            content=content,
            tool_calls=calls,
            metadata={"response_id": response_id},
        )
        usage = ModelUsage(
            input_tokens=sum(_words(m.content) for m in request.messages),
            output_tokens=_words(content) + len(calls),
        )
        return ModelResponse(message=message, usage=usage, response_id=response_id)


def _check_reply(reply: object) -> None:
    if isinstance(reply, (str, ScriptedToolCall, BaseException)):
        return
    if isinstance(reply, Iterable) and all(isinstance(r, ScriptedToolCall) for r in reply):
        return
    raise InvalidInputError(
        f"a scripted reply is a str, tool_call(...), a list of tool calls or an exception; "
        f"got {type(reply).__name__}"
    )


def _last_user_text(messages: Sequence[Message]) -> str | None:
    for message in reversed(messages):
        if message.role is Role.USER:
            return message.content
    return None
