"""SessionarySession's writes and the caller's cancellation: the write always finishes."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

import pytest
from sessionary_openai_agents import SessionarySession
from sessionary_sqlite import SqliteDb

ITEMS: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_a_write_cancelled_twice_finishes_once_and_a_failed_one_is_not_left_unretrieved(
    tmp_path: Path,
) -> None:
    store = SqliteDb(db_file=tmp_path / "agents.db")
    unhandled: list[dict[str, Any]] = []

    async def scenario(fail: bool) -> None:
        release, started = asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: unhandled.append(context)
        )
        session = SessionarySession("s1", store)
        real_append = session.store.append_run

        async def gated_append(*args: Any, **kwargs: Any) -> Any:
            started.set()
            await release.wait()
            if fail:
                raise RuntimeError("the disk is gone")
            return await real_append(*args, **kwargs)

        session.store.append_run = gated_append  # type: ignore[method-assign]
        task = asyncio.create_task(session.add_items(ITEMS[:1]))
        await started.wait()
        for _ in range(2):  # each cancel lands while the write waits
            task.cancel()
            await asyncio.sleep(0)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario(fail=False))
    assert asyncio.run(SessionarySession("s1", store).get_items()) == ITEMS[:1]
    asyncio.run(scenario(fail=True))
    gc.collect()
    assert asyncio.run(SessionarySession("s1", store).get_items()) == ITEMS[:1]
    assert unhandled == []
    store.close()
