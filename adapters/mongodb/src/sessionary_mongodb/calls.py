"""The calls a storage operation makes on MongoDB.

Every operation of the adapter (:mod:`sessionary_mongodb.writes`,
:mod:`sessionary_mongodb.reads`) is a generator that *yields* a :class:`Call` (one
collection method with its arguments) instead of doing I/O, and is sent its result back,
or has pymongo's exception thrown in where it asked, so its own ``try``/``except`` and
its error translation work as in plain code::

    doc = yield SESSIONS.find_one({"_id": session_id})
    docs = yield RUNS.find({"session_key": key}, sort=[("seq", 1)])  # a list

Core's drivers (:mod:`sessionary.storage.driving`) run them: ``MongoDb`` performs the
calls with a ``pymongo.MongoClient``, ``AsyncMongoStore`` awaits them on an
``AsyncMongoClient``: one implementation of the storage logic, two ways to perform a
call. :data:`SETUP` asks the store to make sure the indexes and the schema record exist
(once per store).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import attrs

from sessionary.storage.driving import Operation

__all__ = [
    "ADMIN",
    "META",
    "RUNS",
    "SESSIONS",
    "SETUP",
    "Call",
    "Op",
    "Request",
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
Op = Operation[Request, T]
