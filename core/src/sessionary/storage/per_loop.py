"""What an async store keeps for each event loop: its client, and the state that goes with it.

An asyncio client (``redis.asyncio``, pymongo's ``AsyncMongoClient``) belongs to the
event loop it first ran on. So a store that makes its own clients keeps one per running
loop, and can be used from several loops, one after another (``asyncio.run`` twice)
or at once in several threads; a client an application gave the store is used on one
loop only, and a call from another loop is a clear
:class:`~sessionary.errors.StorageError`. :class:`PerLoop` is that bookkeeping;
the store says how a client is made and how one is closed.

Unlike :class:`~sessionary.models.loop_clients.LoopClients` (a model's SDK clients,
made in a worker thread and closed when their loop shuts down), a store's client is
made on the loop without I/O and closed by the store's ``close``, in each loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sessionary.errors import StorageError

__all__ = ["PerLoop"]

B = TypeVar("B")


class PerLoop(Generic[B]):
    """One ``B`` (a client and its state) per running event loop, or one given ``B`` on one loop.

    ``make`` builds the ``B`` of a loop on its first call (it must not await: it runs
    under a lock, without I/O). With ``given`` (an application's client), that one
    serves the first loop that calls, and a call from another loop raises
    :class:`~sessionary.errors.StorageError`: "``given_name`` belongs to the event loop
    it was first used on, ...".

    >>> clients = PerLoop(make=object)
    >>> async def twice():
    ...     return clients.here() is clients.here()
    >>> asyncio.run(twice())
    True
    """

    def __init__(
        self, make: Callable[[], B], *, given: B | None = None, given_name: str = "the client"
    ) -> None:
        self._make = make
        self._given = given
        self._given_name = given_name
        self._given_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, B] = {}

    @property
    def given(self) -> B | None:
        """The application's ``B``, if one was given."""
        return self._given

    def here(self) -> B:
        """The running loop's ``B``, made on the loop's first call."""
        loop = asyncio.get_running_loop()
        given = self._given
        if given is not None:
            with self._lock:
                if self._given_loop is None:
                    self._given_loop = loop
            if self._given_loop is not loop:
                raise StorageError(
                    f"{self._given_name} belongs to the event loop it was first used on, and "
                    "this call runs in another one; give each event loop a store (and client) "
                    "of its own, or pass db_url so that the store makes a client per event loop"
                )
            return given
        with self._lock:
            made = self._by_loop.get(loop)
            if made is None:
                self._forget_closed_loops()
                made = self._by_loop[loop] = self._make()
            return made

    def release_here(self) -> B | None:
        """Forget the running loop's ``B`` and return it for closing (``None`` if none).

        A given ``B`` is never released: the application closes its own client. Those
        of loops already closed are let go too (their connections cannot be closed
        from another loop).
        """
        if self._given is not None:
            return None
        here = asyncio.get_running_loop()
        with self._lock:
            made = self._by_loop.pop(here, None)
            self._forget_closed_loops()
        return made

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._by_loop if loop.is_closed()]:
            del self._by_loop[loop]
