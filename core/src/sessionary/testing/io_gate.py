"""Prove that an async call never blocks its event loop, without a stopwatch.

A coroutine that calls blocking I/O (a sync database driver, ``time.sleep``, a sync HTTP
client) holds the loop: every other task of the process waits. Measuring how late a
ticker wakes up detects that only when the I/O is slow and the machine is not, so the
verdict depends on load. An :class:`IoGate` decides it by construction instead:

* The test's store, model or proxy calls :meth:`IoGate.wait` at each I/O, in whatever
  thread does that I/O. Called on a thread that is running an event loop, that call *is*
  blocking I/O on the loop: it is recorded, and returns at once.
* Called anywhere else, it waits until the event loop lets it through. Only
  :meth:`IoGate.check` lets waiters through, from a task on the loop. If the loop is held
  (say a sync client waits in ``recv`` on the loop's thread, for a reply that a gated
  proxy is holding), that task never runs and the waiter is let through by the
  ``fallback`` timeout instead, which is recorded too.

So a call passes when every one of its I/O waits was released by the loop, and fails
when one ran on the loop's thread or had to be released by the fallback. No verdict
depends on how long anything took; a passing check takes as long as the I/O itself.

>>> import asyncio, threading
>>> gate = IoGate()
>>> async def polite():  # I/O in a worker thread: the loop stays free
...     await asyncio.to_thread(gate.wait)
>>> async def rude():  # the same I/O on the loop's own thread
...     gate.wait()
>>> asyncio.run(gate.check(polite(), what="polite"))
>>> asyncio.run(gate.check(rude(), what="rude"))
Traceback (most recent call last):
AssertionError: rude did blocking I/O on the event loop's thread (1 call)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TypeVar

__all__ = ["IoGate"]

T = TypeVar("T")


def _loop_running_here() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class IoGate:
    """Where a test double's I/O waits until the event loop lets it through; see the module."""

    def __init__(self, *, fallback: float = 30.0) -> None:
        #: Seconds a waiter waits for the loop before it is let through anyway (a failure).
        self.fallback = fallback
        self._cond = threading.Condition()
        self._checking = False
        self._waiting = 0
        self._tickets = 0
        self._reset()

    def _reset(self) -> None:
        self.on_loop_thread = 0
        self.released_by_fallback = 0
        self.passed = 0

    def wait(self) -> None:
        """Call at each I/O of the test double, in the thread that does the I/O."""
        if _loop_running_here():
            with self._cond:
                self.on_loop_thread += 1
                self.passed += 1
            return
        with self._cond:
            if not self._checking:  # outside a check, I/O passes freely
                self.passed += 1
                return
            self._waiting += 1
            released = self._cond.wait_for(lambda: self._tickets > 0, timeout=self.fallback)
            self._waiting -= 1
            if released:
                self._tickets -= 1
            else:
                self.released_by_fallback += 1
                self._checking = False  # the verdict is in: stop holding the rest
            self.passed += 1

    async def check(self, work: Awaitable[T], *, what: str) -> T:
        """Await ``work`` while holding its I/O for the loop to release; fail if it blocked.

        Raises :class:`AssertionError` naming ``what`` when the work did I/O on the loop's
        thread, held the loop while its I/O waited, or did no gated I/O at all (then the
        check would prove nothing). Returns the work's result.
        """
        with self._cond:
            self._reset()
            self._tickets = 0
            self._checking = True
        task = asyncio.ensure_future(work)
        try:
            while not task.done():
                with self._cond:
                    if self._waiting > self._tickets:
                        self._tickets += 1
                        self._cond.notify_all()
                await asyncio.wait({task}, timeout=0.001)
            result: T = task.result()
        finally:
            with self._cond:
                self._checking = False
                self._tickets = self._waiting
                self._cond.notify_all()
            if not task.done():
                task.cancel()
        self._verdict(what)
        return result

    def _verdict(self, what: str) -> None:
        if self.on_loop_thread:
            plural = "" if self.on_loop_thread == 1 else "s"
            raise AssertionError(
                f"{what} did blocking I/O on the event loop's thread "
                f"({self.on_loop_thread} call{plural})"
            )
        if self.released_by_fallback:
            raise AssertionError(
                f"{what} held the event loop while its I/O waited: the loop did not run "
                f"for {self.fallback:g} s, until the gate gave up"
            )
        if not self.passed:
            raise AssertionError(f"{what} did no I/O through the gate: the check proved nothing")

    def __repr__(self) -> str:
        state = "checking" if self._checking else "open"
        return f"<IoGate {state} passed={self.passed}>"
