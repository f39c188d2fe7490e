"""The requests a storage operation makes, and the two drivers that send them.

An operation of the Redis adapter (:mod:`sessionary_redis.operations`,
:mod:`sessionary_redis.listing`) is a generator that *yields* a :class:`Request`
instead of doing I/O, and gets the server's reply back (or the
:class:`~sessionary.errors.StorageError` the failure became, thrown in where it asked).
:func:`drive_sync` runs one with a sync ``send``, :func:`drive_async` with an async one;
the stores supply ``send``, which is all that differs between them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs

from sessionary_redis import scripts

__all__ = [
    "SCRIPTS",
    "Action",
    "Command",
    "Op",
    "Pipeline",
    "Request",
    "Script",
    "drive_async",
    "drive_sync",
    "run_whole",
]

T = TypeVar("T")

#: The attribute each Lua script is registered under on a store, and its source.
SCRIPTS: Final[Mapping[str, str]] = {
    "_append": scripts.APPEND,
    "_read": scripts.READ_SESSION,
    "_read_run": scripts.READ_RUN,
    "_update_run_script": scripts.UPDATE_RUN,
    "_update_session_script": scripts.UPDATE_SESSION,
    "_delete": scripts.DELETE,
    "_import": scripts.IMPORT,
    "_forget": scripts.FORGET_INDEX_ENTRY,
    "_trim": scripts.TRIM,
}


@attrs.frozen
class Command:
    """One client method call: ``client.<method>(*args, **kwargs)``."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def of(cls, method: str, /, *args: Any, **kwargs: Any) -> Command:
        """``Command.of("hmget", key, fields)`` reads as the call it stands for."""
        return cls(method, args, kwargs)


@attrs.frozen
class Script:
    """Run the Lua script registered as the store attribute ``name`` (see :data:`SCRIPTS`)."""

    name: str
    keys: Sequence[str]
    args: Sequence[Any]


@attrs.frozen
class Pipeline:
    """Commands sent in one round trip (no transaction); the reply is the list of replies."""

    commands: Sequence[Command]
    raise_on_error: bool = True


Action = Command | Script | Pipeline


@attrs.frozen
class Request:
    """What an operation asks its driver for: ``build(attempt)`` is sent, retried by policy.

    ``what`` completes "could not ..." in error messages; ``session_id`` is named by a
    corrupt-record error; ``write`` says a lost reply leaves the outcome unknown.
    """

    what: str
    build: Callable[[int], Action]
    session_id: str | None = None
    write: bool = False

    @classmethod
    def read(cls, what: str, action: Action, session_id: str | None = None) -> Request:
        """A request whose action is the same on every attempt."""
        return cls(what, lambda _: action, session_id)

    @classmethod
    def write_(cls, what: str, action: Action, session_id: str | None = None) -> Request:
        """A write whose action is the same on every attempt."""
        return cls(what, lambda _: action, session_id, True)


#: An operation: yields requests, receives their replies, returns a ``T``.
Op = Generator[Request, Any, T]


def drive_sync(op: Op[T], send: Callable[[Request], Any]) -> T:
    """Run ``op`` to its end, ``send``-ing each request; errors go back into the operation."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.throw(error) if error is not None else op.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        reply, error = None, None
        try:
            reply = send(request)
        except Exception as exc:  # handed to the operation where it asked
            error = exc


async def drive_async(op: Op[T], send: Callable[[Request], Awaitable[Any]]) -> T:
    """:func:`drive_sync` with an async ``send``."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            request = op.throw(error) if error is not None else op.send(reply)
        except StopIteration as stop:
            result: T = stop.value
            return result
        reply, error = None, None
        try:
            reply = await send(request)
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
