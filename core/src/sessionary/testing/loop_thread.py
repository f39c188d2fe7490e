"""Helpers of the async conformance suite: an event loop in a thread, a gated memory store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing.io_gate import IoGate

__all__ = ["GatedMemoryDb", "LoopThread"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="sessionary-test-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and return its result (or raise its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        """Stop the loop and its thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class GatedMemoryDb(MemoryDb):
    """A memory store whose backend calls wait at ``gate``: beside a gated async store, a
    sync call made on the event loop by mistake is caught, however fast it would be."""

    def __init__(self, gate: IoGate) -> None:
        super().__init__()
        self._gate = gate

    def __getattribute__(self, name: str) -> Any:
        value = super().__getattribute__(name)
        if name in Store.__abstractmethods__ and name.startswith("_"):
            gate: IoGate = super().__getattribute__("_gate")

            def gated(*args: Any, **kwargs: Any) -> Any:
                gate.wait()
                return value(*args, **kwargs)

            return gated
        return value
