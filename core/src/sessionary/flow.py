"""One implementation of every agent flow, run by a sync driver and by an async one.

The flows of a run (read the history, call the model, run tools, store the run,
continue a paused run, name a session, delegate to a team member) are written once,
as generators that *yield effects* instead of doing I/O: a store call, a model call,
a step of a model's stream, a tool call. A driver performs each effect and sends the
result back (or throws the effect's exception in at the same point):

* :func:`run_sync` / :func:`steps_sync` perform effects with the sync store, the
  model's ``respond``/``stream`` and the tool's function: ``Agent.run``;
* :func:`run_async` / :func:`steps_async` await the :class:`~sessionary.AsyncStore`,
  the model's ``arespond``/``astream`` and async tools (sync tools run in a worker
  thread): ``Agent.arun``.

So the sync and async APIs cannot drift apart: they are the same code, and the sync
test suite covers the async flows' logic. A flow may also yield
:class:`~sessionary.models.ContentDelta` objects, which the drivers pass on to a
streaming caller.

>>> from sessionary.storage.memory import MemoryDb
>>> def count_runs(session_id):
...     runs = yield DbCall.of("get_runs", session_id)
...     return len(runs)
>>> run_sync(count_runs("s1"), MemoryDb())
0
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import AsyncGenerator, Generator, Iterator, Mapping
from typing import Any, Final, Protocol, TypeVar

import attrs

from sessionary.errors import ModelTimeoutError
from sessionary.models.base import ContentDelta, Model, ModelRequest
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store
from sessionary.tools import Tool

__all__ = [
    "END",
    "Abandoned",
    "CloseStream",
    "DbCall",
    "Detach",
    "DetachedRunner",
    "Effect",
    "Flow",
    "InvokeTool",
    "NextEvent",
    "OpenStream",
    "Respond",
    "iter_sync",
    "respond_within",
    "run_async",
    "run_sync",
    "steps_async",
    "steps_sync",
]

T = TypeVar("T")


@attrs.frozen
class DbCall:
    """Call the public store method ``method`` (sync or async twin) with these arguments."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of(cls, method: str, /, *args: Any, **kwargs: Any) -> DbCall:
        """``DbCall.of("get_runs", sid, last_n=3)`` reads as the call it stands for."""
        return cls(method, args, kwargs)


@attrs.frozen
class Respond:
    """One whole answer of ``model`` (``respond`` / ``arespond``), within ``timeout`` if set."""

    model: Model
    request: ModelRequest
    timeout: float | None = None


@attrs.frozen
class OpenStream:
    """Start ``model``'s stream (``stream`` / ``astream``); the result is a stream handle."""

    model: Model
    request: ModelRequest


@attrs.frozen
class NextEvent:
    """The next event of an open stream, or :data:`END`."""

    stream: Any


@attrs.frozen
class CloseStream:
    """Close an open stream (an abandoned one closes the provider's connection)."""

    stream: Any


@attrs.frozen
class InvokeTool:
    """Run ``tool`` with ``arguments``; the result is the tool's text."""

    tool: Tool
    arguments: Mapping[str, Any]


class DetachedRunner(Protocol):
    """Where :class:`Detach` sends a flow: a worker thread for the sync driver, a task of
    the running loop for the async one (see :class:`sessionary.agent.background.Background`)."""

    def start_sync(self, flow: Generator[Any, Any, Any], db: Store | None, what: str) -> None:
        """Run ``flow`` with the sync store, off the caller's thread."""

    def start_async(self, flow: Generator[Any, Any, Any], db: AsyncStore | None, what: str) -> None:
        """Run ``flow`` with the async store in a task of the running loop."""


@attrs.frozen
class Detach:
    """Start ``flow`` off the caller's path (its result is dropped); ``None`` at once.

    ``what`` names the work in the log line of its failure.
    """

    flow: Generator[Any, Any, Any]
    runner: DetachedRunner
    what: str


Effect = DbCall | Respond | OpenStream | NextEvent | CloseStream | InvokeTool | Detach
#: A flow: yields effects (and text deltas for a streaming caller), returns a ``T``.
Flow = Generator[Effect | ContentDelta, Any, T]

#: What :class:`NextEvent` returns once the stream is over.
END: Final = object()


class Abandoned(BaseException):
    """Thrown into a flow where it stands when the streaming caller abandons it.

    A ``BaseException`` (like ``GeneratorExit``, which it stands for) so that no
    ``except Exception`` in a flow mistakes it for a failure; the flow may still do
    effects (store the cancelled run) before it lets it propagate. Python's own
    ``GeneratorExit`` cannot be used for this: ``yield from`` turns it into ``close()``
    of every nested flow, and a closed generator can do no more effects.
    Under ``arun`` a cancelled task (a client that went away) is reported the same way,
    and the ``CancelledError`` is raised again once the flow has stored what it had.
    """

    def __init__(self, reason: str = "the caller abandoned the stream") -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------- sync driver


def steps_sync(flow: Flow[T], db: Store | None) -> Generator[ContentDelta, None, T]:
    """Drive ``flow`` with sync I/O, yielding its text deltas; returns the flow's result.

    If the caller closes this generator, the flow gets :class:`Abandoned` where it
    stands, so it can store what it has (a cancelled run) before it ends.
    """
    value: Any = None
    error: BaseException | None = None
    closing: GeneratorExit | None = None
    while True:
        try:
            item = flow.throw(error) if error is not None else flow.send(value)
        except (StopIteration, Abandoned) as stop:
            if closing is not None:
                raise closing from None
            if isinstance(stop, Abandoned):
                raise
            result: T = stop.value
            return result
        value, error = None, None
        if isinstance(item, ContentDelta):
            if closing is None:
                try:
                    yield item
                except GeneratorExit as exc:
                    closing, error = exc, Abandoned()
            continue
        try:
            value = _perform_sync(item, db)
        except BaseException as exc:  # handed to the flow at the point of the effect
            error = exc


def run_sync(flow: Flow[T], db: Store | None = None) -> T:
    """Drive ``flow`` to its end with sync I/O, dropping text deltas; its result."""
    steps = steps_sync(flow, db)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result


def _perform_sync(effect: Effect, db: Store | None) -> Any:
    if isinstance(effect, DbCall):
        if db is None:
            raise TypeError(f"{effect!r} needs a store, and the flow was run without one")
        return getattr(db, effect.method)(*effect.args, **effect.kwargs)
    if isinstance(effect, Respond):
        if effect.timeout is None:
            return effect.model.respond(effect.request)
        return respond_within(effect.model, effect.request, effect.timeout)
    if isinstance(effect, OpenStream):
        return iter(effect.model.stream(effect.request))
    if isinstance(effect, NextEvent):
        return next(effect.stream, END)
    if isinstance(effect, CloseStream):
        close = getattr(effect.stream, "close", None)
        if close is not None:
            close()
        return None
    if isinstance(effect, InvokeTool):
        if inspect.iscoroutinefunction(effect.tool.function):
            return _run_coroutine_tool(effect.tool, effect.arguments)
        return effect.tool.invoke(effect.arguments)
    if isinstance(effect, Detach):
        return effect.runner.start_sync(effect.flow, db, effect.what)
    raise TypeError(f"a flow yielded {effect!r}, which is not an effect")


def respond_within(model: Model, request: ModelRequest, timeout: float) -> Any:
    """``model.respond`` in a daemon thread, abandoned after ``timeout`` seconds."""
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            box["response"] = model.respond(request)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=call, name="sessionary-model-call", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ModelTimeoutError(f"the model {model.label} did not answer within {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["response"]


def _run_coroutine_tool(tool: Tool, arguments: Mapping[str, Any]) -> str:
    """An ``async def`` tool called from the sync API: it runs on a loop of its own."""
    box: dict[str, Any] = {}

    async def call() -> None:
        box["result"] = await tool.ainvoke(arguments)

    def in_thread() -> None:
        try:
            asyncio.run(call())
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    # A thread, so this works even when the sync API is called from inside a loop.
    worker = threading.Thread(target=in_thread, name="sessionary-async-tool", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    result: str = box["result"]
    return result


# ---------------------------------------------------------------------- async driver


async def steps_async(
    flow: Flow[Any], db: AsyncStore | None
) -> AsyncGenerator[ContentDelta | _Done, None]:
    """Drive ``flow`` with async I/O, yielding its text deltas, then :class:`_Done`.

    If the caller closes this generator (``aclose``, or abandons it), the flow gets
    :class:`Abandoned` where it stands and may still store what it has.
    """
    value: Any = None
    error: BaseException | None = None
    closing: GeneratorExit | None = None
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            item = flow.throw(error) if error is not None else flow.send(value)
        except (StopIteration, Abandoned) as stop:
            if closing is not None:
                raise closing from None
            if cancelled is not None:
                raise cancelled from None
            if isinstance(stop, Abandoned):
                raise
            yield _Done(stop.value)
            return
        value, error = None, None
        if isinstance(item, ContentDelta):
            if closing is None:
                try:
                    yield item
                except GeneratorExit as exc:
                    closing, error = exc, Abandoned()
            continue
        try:
            value = await _perform_async(item, db)
        except asyncio.CancelledError as exc:
            if cancelled is not None or closing is not None:
                raise  # cancelled again while storing what it had: give up now
            cancelled, error = exc, Abandoned("the run's task was cancelled")
        except BaseException as exc:  # handed to the flow at the point of the effect
            error = exc


@attrs.frozen
class _Done:
    """The last item :func:`steps_async` yields: the flow's result."""

    result: Any


async def run_async(flow: Flow[T], db: AsyncStore | None = None) -> T:
    """Drive ``flow`` to its end with async I/O, dropping text deltas; its result."""
    steps = steps_async(flow, db)
    try:
        async for item in steps:
            if isinstance(item, _Done):
                result: T = item.result
                return result
    finally:
        await steps.aclose()
    raise RuntimeError("the flow ended without a result")  # pragma: no cover


async def _perform_async(effect: Effect, db: AsyncStore | None) -> Any:
    if isinstance(effect, DbCall):
        if db is None:
            raise TypeError(f"{effect!r} needs a store, and the flow was run without one")
        return await getattr(db, effect.method)(*effect.args, **effect.kwargs)
    if isinstance(effect, Respond):
        if effect.timeout is None:
            return await effect.model.arespond(effect.request)
        try:
            return await asyncio.wait_for(effect.model.arespond(effect.request), effect.timeout)
        except asyncio.TimeoutError:
            raise ModelTimeoutError(
                f"the model {effect.model.label} did not answer within {effect.timeout:g} s"
            ) from None
    if isinstance(effect, OpenStream):
        return effect.model.astream(effect.request).__aiter__()
    if isinstance(effect, NextEvent):
        try:
            return await effect.stream.__anext__()
        except StopAsyncIteration:
            return END
    if isinstance(effect, CloseStream):
        close = getattr(effect.stream, "aclose", None)
        if close is not None:
            await close()
        return None
    if isinstance(effect, InvokeTool):
        return await effect.tool.ainvoke(effect.arguments)
    if isinstance(effect, Detach):
        return effect.runner.start_async(effect.flow, db, effect.what)
    raise TypeError(f"a flow yielded {effect!r}, which is not an effect")


def iter_sync(steps: Generator[ContentDelta, None, T]) -> Iterator[ContentDelta | T]:
    """A streaming caller's iterator: the deltas, then the flow's result last."""
    result = yield from steps
    yield result
