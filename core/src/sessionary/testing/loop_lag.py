"""A loop-lag probe: how long the event loop was kept from running while some work ran.

A coroutine that calls blocking I/O (a sync database driver, ``time.sleep``, a sync
HTTP client) holds the loop: every other task, every other user of the process, waits.
:func:`measure_loop_lag` runs the work beside a ticker task that wakes every
``interval`` seconds and records how late each wake-up was; the worst delay is the
longest stretch the loop was held.

>>> import asyncio
>>> async def polite():
...     await asyncio.sleep(0.05)
>>> result = asyncio.run(measure_loop_lag(polite()))
>>> result.elapsed >= 0.05 and result.max_lag < 0.05
True
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any, Final

import attrs

__all__ = ["DEFAULT_MAX_LAG", "LoopLag", "assert_loop_not_blocked", "measure_loop_lag"]

#: Longest time an ``a*`` call may hold the loop in the loop-lag tests. A call that does
#: blocking I/O holds the loop for as long as the injected slowness (400 ms in the
#: suites), so the limit sits well below that; and above what a loaded 2-core machine
#: adds on its own (the OS not scheduling the process, other threads holding the GIL):
#: we saw up to 142 ms there with several test suites running at once. The CPU work a
#: call does in the loop (decoding a run) is under a millisecond.
DEFAULT_MAX_LAG: Final = 0.15


@attrs.frozen
class LoopLag:
    """What :func:`measure_loop_lag` saw: the work's result, its wall time, the worst lag."""

    result: Any
    elapsed: float
    max_lag: float
    ticks: int


async def measure_loop_lag(work: Awaitable[Any], *, interval: float = 0.002) -> LoopLag:
    """Await ``work`` while a ticker measures how late the loop wakes it; see the module docs."""
    worst = 0.0
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst, ticks
        loop = asyncio.get_running_loop()
        while not done.is_set():
            before = loop.time()
            await asyncio.sleep(interval)
            worst = max(worst, loop.time() - before - interval)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # let the ticker start before the work does
    started = time.perf_counter()
    try:
        result = await work
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        await task
    return LoopLag(result=result, elapsed=elapsed, max_lag=worst, ticks=ticks)


async def assert_loop_not_blocked(
    work: Awaitable[Any],
    *,
    what: str,
    at_least: float = 0.0,
    max_lag: float = DEFAULT_MAX_LAG,
) -> Any:
    """Await ``work``; fail if it held the loop longer than ``max_lag``. Returns its result.

    ``at_least`` is how long the work must have taken (the slowness the test injected):
    a test whose store or model was not slow after all proves nothing, so that fails too.
    """
    seen = await measure_loop_lag(work)
    if seen.elapsed < at_least:
        raise AssertionError(
            f"{what} took {seen.elapsed * 1000:.1f} ms, less than the {at_least * 1000:.0f} ms "
            f"of slowness the test injected: the probe measured nothing"
        )
    if seen.max_lag > max_lag:
        raise AssertionError(
            f"{what} blocked the event loop for {seen.max_lag * 1000:.1f} ms "
            f"(limit {max_lag * 1000:.0f} ms; the call took {seen.elapsed * 1000:.1f} ms)"
        )
    return seen.result
