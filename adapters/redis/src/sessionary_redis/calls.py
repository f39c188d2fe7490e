"""The requests a storage operation of the Redis adapter makes.

An operation (:mod:`sessionary_redis.operations`, :mod:`sessionary_redis.listing`) is a
generator that *yields* a :class:`Request` instead of doing I/O, and gets the server's
reply back (or the :class:`~sessionary.errors.StorageError` the failure became, thrown
in where it asked). Core's drivers run it (:mod:`sessionary.storage.driving`): the
stores supply the ``send`` that performs a request, which is all that differs between
them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

import attrs

from sessionary.storage.driving import Operation
from sessionary_redis import index_scripts, scripts

__all__ = [
    "SCRIPTS",
    "Action",
    "Command",
    "Op",
    "Pipeline",
    "Request",
    "Script",
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
    "_forget": index_scripts.FORGET_INDEX_ENTRY,
    "_trim": scripts.TRIM,
    "_read_messages": index_scripts.READ_MESSAGES,
    "_replace": scripts.REPLACE,
    "_migrate_script": index_scripts.MIGRATE,
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
Op = Operation[Request, T]
