"""One async SDK client per running event loop, made off the loop and closed with it.

An httpx ``AsyncClient`` belongs to the event loop it first ran on: its pooled
connections are that loop's transports, and using them from another loop fails ("Event
loop is closed"). So a model keeps one async client per running loop:

- made on the loop's first call, in a worker thread (importing the SDK and loading TLS
  certificates takes long enough to stall the loop), once even when many tasks ask at
  the same moment;
- closed when its loop shuts down its async generators (``asyncio.run`` and
  ``asyncio.Runner`` do so on exit), when the model is garbage-collected while the loop
  runs, or by :meth:`LoopClients.aclose`;
- forgotten once its loop is closed, so a model serves one ``asyncio.run(...)`` after
  another, and threads that each run their own loop.

Provider adapters built on an SDK with an async client (``sessionary-openai``,
``sessionary-anthropic``) share this, through :class:`AsyncClientPerLoop` (which
:class:`~sessionary.models.provider.SDKModel` is); a third-party provider may use it too,
and check it with :class:`~sessionary.testing.loop_clients.LoopClientsConformance`. A
client is closed by its ``aclose()`` (``httpx.AsyncClient``) or, without one, its async
``close()`` (the OpenAI and Anthropic SDKs' clients).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Callable
from typing import Any, Generic, TypeVar

__all__ = ["AsyncClientPerLoop", "LoopClients", "aclose_client", "is_client_closed"]

ClientT = TypeVar("ClientT")


async def aclose_client(client: Any) -> None:
    """Close an async client: its ``aclose()`` if it has one (httpx), else its ``close()``."""
    closer = getattr(client, "aclose", None) or client.close
    await closer()


def is_client_closed(client: Any) -> bool:
    """Whether an async client is closed: ``is_closed`` as a property (httpx) or a method (SDKs)."""
    closed = client.is_closed
    return bool(closed() if callable(closed) else closed)


class _Opened(Generic[ClientT]):
    """A loop's client and the suspended generator whose ``finally`` closes it."""

    def __init__(self, client: ClientT, keeper: AsyncGenerator[None, None]) -> None:
        self.client = client
        self.keeper = keeper


class LoopClients(Generic[ClientT]):
    """The async clients of one model, one per running event loop.

    ``make`` builds a client (it runs in a worker thread and may raise; nothing is kept
    then, so the next call tries again).
    """

    def __init__(self, make: Callable[[], ClientT]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._by_loop: dict[asyncio.AbstractEventLoop, asyncio.Task[_Opened[ClientT]]] = {}

    async def get(self) -> ClientT:
        """The running loop's client, made on the loop's first call."""
        loop = asyncio.get_running_loop()
        with self._lock:
            opening = self._by_loop.get(loop)
            if opening is None or opening.cancelled():
                self._forget_closed_loops()
                opening = loop.create_task(self._open(loop))
                self._by_loop[loop] = opening
        # A caller cancelled while the client is being made must not cancel it for the
        # other callers waiting on the same task.
        opened = await asyncio.shield(opening)
        return opened.client

    async def aclose(self) -> None:
        """Close the running loop's client, if one was made; the next call makes another."""
        loop = asyncio.get_running_loop()
        with self._lock:
            opening = self._by_loop.pop(loop, None)
        if opening is None:
            return
        try:
            opened = await opening
        except Exception:
            return  # it was never made
        await opened.keeper.aclose()

    def __len__(self) -> int:
        """How many loops have a client (or one being made)."""
        with self._lock:
            return len(self._by_loop)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Opened[ClientT]:
        this = asyncio.current_task()
        try:
            client = await asyncio.to_thread(self._make)
        except BaseException:
            self._discard(loop, this)
            raise
        keeper = self._keep(client, loop, this)
        # First iterated here, the generator is one the loop closes when it shuts down.
        await keeper.__anext__()
        return _Opened(client, keeper)

    async def _keep(
        self, client: ClientT, loop: asyncio.AbstractEventLoop, task: object
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            self._discard(loop, task)
            await aclose_client(client)

    def _discard(self, loop: asyncio.AbstractEventLoop, task: object) -> None:
        with self._lock:
            if self._by_loop.get(loop) is task:
                del self._by_loop[loop]

    def _forget_closed_loops(self) -> None:
        # Only a loop closed without shutting down its async generators leaves an entry
        # behind; its client's connections went with the loop.
        for loop in [loop for loop in self._by_loop if loop.is_closed()]:
            del self._by_loop[loop]


class AsyncClientPerLoop(Generic[ClientT]):
    """A model whose async SDK client is one per event loop: :meth:`async_client`, :meth:`aclose`.

    A mixin for a :class:`~sessionary.models.Model`; its ``__init__`` sets
    ``self._async_clients = LoopClients(make)``, ``make`` building the async client
    with the options of the sync one.
    """

    _async_clients: LoopClients[ClientT]

    async def async_client(self) -> ClientT:
        """The async SDK client of the running event loop, made on the loop's first call.

        It has the options of the sync client. It is made in a worker thread (importing
        the SDK takes long enough to stall the loop) and closed when the loop shuts
        down (``asyncio.run`` returning), so a model serves any number of event loops,
        one after another or in several threads at once.
        """
        return await self._async_clients.get()

    async def aclose(self) -> None:
        """Close the running event loop's async client now (the next call makes another)."""
        await self._async_clients.aclose()
