"""Work an agent or team does after a run is stored, off the caller's path.

Automatic naming (``auto_name_after_runs``) asks a model, which takes as long as a
model takes; the caller's run must not wait for it. A flow yields
:class:`~sessionary.flow.Detach` with a :class:`Background`, and the driver starts it:
the sync driver in a worker thread (with the sync store), the async driver as a task of
the running loop (with the async store). The work is bounded (at most ``limit`` jobs
pending; more are dropped, logged and counted, and automatic naming tries again after
the next N runs), its failures are logged and counted, never raised to anyone, and
:meth:`Background.wait` / :meth:`Background.await_idle` wait for what is pending (in
tests, and at shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs

from sessionary.flow import run_async, run_sync
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store

__all__ = ["Background", "BackgroundStats"]

log = logging.getLogger("sessionary.background")


@attrs.frozen
class BackgroundStats:
    """What an owner's background work did so far (automatic naming).

    ``started`` jobs either ``succeeded`` or ``failed`` (logged), or are still
    ``pending``; ``dropped`` ones were never started because ``limit`` were pending.
    """

    started: int = 0
    succeeded: int = 0
    failed: int = 0
    dropped: int = 0
    pending: int = 0


class Background:
    """Runs detached flows in at most ``workers`` threads or as loop tasks, ``limit`` at most."""

    def __init__(self, *, limit: int = 100, workers: int = 2) -> None:
        self.limit = limit
        self.workers = workers
        self._cond = threading.Condition()
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stats = BackgroundStats()

    @property
    def stats(self) -> BackgroundStats:
        """The counts so far."""
        with self._cond:
            return self._stats

    # ------------------------------------------------------------------ starting

    def _reserve(self, flow: Generator[Any, Any, Any], what: str) -> bool:
        with self._cond:
            if self._stats.pending >= self.limit:
                self._stats = attrs.evolve(self._stats, dropped=self._stats.dropped + 1)
                dropped = True
            else:
                self._stats = attrs.evolve(
                    self._stats, started=self._stats.started + 1, pending=self._stats.pending + 1
                )
                dropped = False
        if dropped:
            flow.close()
            log.warning("%s dropped: %d jobs already pending (the limit)", what, self.limit)
        return not dropped

    def _finish(self, what: str, error: BaseException | None) -> None:
        if error is not None:  # logged before it stops being pending: a waiter sees the log
            log.warning("%s failed; the run is stored", what, exc_info=error)
        with self._cond:
            if error is None:
                self._stats = attrs.evolve(self._stats, succeeded=self._stats.succeeded + 1)
            else:
                self._stats = attrs.evolve(self._stats, failed=self._stats.failed + 1)
            self._stats = attrs.evolve(self._stats, pending=self._stats.pending - 1)
            self._cond.notify_all()

    def start_sync(self, flow: Generator[Any, Any, Any], db: Store | None, what: str) -> None:
        """Run ``flow`` with the sync store in a worker thread."""
        if not self._reserve(flow, what):
            return
        with self._cond:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, "sessionary-background")
            executor = self._executor

        def work() -> None:
            try:
                run_sync(flow, db)
            except BaseException as exc:  # logged and counted, never lost silently
                self._finish(what, exc)
            else:
                self._finish(what, None)

        executor.submit(work)

    def start_async(self, flow: Generator[Any, Any, Any], db: AsyncStore | None, what: str) -> None:
        """Run ``flow`` with the async store in a task of the running loop."""
        if not self._reserve(flow, what):
            return

        async def work() -> None:
            try:
                await run_async(flow, db)
            except BaseException as exc:  # a cancelled task too: the loop is closing
                self._finish(what, exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                self._finish(what, None)

        task = asyncio.get_running_loop().create_task(work())
        self._tasks.add(task)  # a task nobody references may be collected mid-way
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ waiting

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending (or ``timeout`` seconds); whether it is so.

        Do not call it on the thread of a loop that runs the pending tasks (use
        :meth:`await_idle` there): that loop could not run them while it waits.
        """
        with self._cond:
            return self._cond.wait_for(lambda: self._stats.pending == 0, timeout)

    async def await_idle(self, timeout: float | None = None) -> bool:
        """:meth:`wait` for the event loop: the loop keeps running the pending tasks."""
        return await asyncio.to_thread(self.wait, timeout)
