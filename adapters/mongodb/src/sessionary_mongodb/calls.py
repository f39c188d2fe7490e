"""The calls a storage operation makes on MongoDB, and the drivers that perform them.

Every operation of the adapter (:mod:`sessionary_mongodb.writes`,
:mod:`sessionary_mongodb.reads`) is a generator that *yields* a :class:`Call` (one
collection method with its arguments) instead of doing I/O, and is sent its result back,
or has pymongo's exception thrown in where it asked, so its own ``try``/``except`` and
its error translation work as in plain code::

    doc = yield SESSIONS.find_one({"_id": session_id})
    docs = yield RUNS.find({"session_key": key}, sort=[("seq", 1)])  # a list

:func:`drive_sync` performs the calls with a ``pymongo.MongoClient`` (``MongoDb``),
:func:`drive_async` awaits them on an ``AsyncMongoClient`` (``AsyncMongoStore``): one
implementation of the storage logic, two drivers. :data:`SETUP` asks the driver to make
sure the indexes and the schema record exist (once per store).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any, Final, TypeVar

import attrs

__all__ = [
    "ADMIN",
    "META",
    "RUNS",
    "SESSIONS",
    "SETUP",
    "Call",
    "Op",
    "Request",
    "drive_async",
    "drive_sync",
    "run_whole",
]

T = TypeVar("T")


@attrs.frozen
class Call:
    """``<target>.<method>(*args, **kwargs)``; ``find`` gives the list of documents."""

    target: str
    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)


class _Target:
    """Builds :class:`Call` objects that read like the collection calls they stand for."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, method: str) -> Callable[..., Call]:
        if method.startswith("__"):
            raise AttributeError(method)

        def call(*args: Any, **kwargs: Any) -> Call:
            return Call(self.name, method, args, kwargs)

        return call


#: The sessions collection.
SESSIONS: Final = _Target("sessions")
#: The runs collection.
RUNS: Final = _Target("runs")
#: The ``sessionary_meta`` collection (the schema version).
META: Final = _Target("meta")
#: The ``admin`` database (``ADMIN.command("ping")``).
ADMIN: Final = _Target("admin")


class _Setup:
    def __repr__(self) -> str:
        return "SETUP"


#: "Create the indexes and check the schema, if this store has not yet."
SETUP: Final = _Setup()

Request = Call | _Setup
#: An operation: yields requests, receives their results, returns a ``T``.
Op = Generator[Request, Any, T]


def drive_sync(op: Op[T], perform: Callable[[Request], Any]) -> T:
    """Run ``op`` to its end, ``perform``-ing each request; errors go back into ``op``."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.throw(error) if error is not None else op.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, error = None, None
        try:
            result = perform(request)
        except Exception as exc:  # handed to the operation where it asked
            error = exc


async def drive_async(op: Op[T], perform: Callable[[Request], Awaitable[Any]]) -> T:
    """:func:`drive_sync` with an async ``perform``."""
    result: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.throw(error) if error is not None else op.send(result)
        except StopIteration as stop:
            value: T = stop.value
            return value
        result, error = None, None
        try:
            result = await perform(request)
        except Exception as exc:  # handed to the operation where it asked
            error = exc


async def run_whole(op: Op[T], drive: Callable[[Op[T]], Awaitable[T]], log: logging.Logger) -> T:
    """``await drive(op)`` to its end even if the caller is cancelled; return its result.

    A write of several steps must not stop half-way because the task awaiting it was
    cancelled (a client went away, a timeout fired). The caller gets its
    ``CancelledError`` at once; if ``op`` had not yet asked for anything, it never runs,
    else it goes on in the background, whole. A failure it meets then has no caller left
    to raise to, so it is logged on ``log``.
    """
    task = asyncio.ensure_future(drive(op))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if inspect.getgeneratorstate(op) == inspect.GEN_CREATED:
            task.cancel()  # nothing was sent yet: nothing to finish
            raise
        _BACKGROUND.add(task)  # a strong reference until it ends

        def finished(done: asyncio.Future[T]) -> None:
            _BACKGROUND.discard(done)
            if not done.cancelled() and done.exception() is not None:
                log.warning(
                    "a write whose caller was cancelled failed in the background: %s",
                    done.exception(),
                )

        task.add_done_callback(finished)
        raise


_BACKGROUND: set[asyncio.Future[Any]] = set()
