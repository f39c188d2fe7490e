"""SessionarySession beside the OpenAI Agents SDK's own SQLiteSession and RedisSession.

    uv run python benchmarks/bench_openai_agents.py [--quick]

At 1,000 items (500 turns of a user and an assistant item, one Sessionary run each):
``get_items(limit=20)``, ``add_items`` of one item, and reading all items; on SQLite
files at the same durability (WAL, ``synchronous=FULL``: both defaults) and on the Redis
server at ``SESSIONARY_REDIS_URL``. Then ``get_session`` of a 10,000-run session on
SQLite (issue 21's targets). Samples of the two sides are interleaved, so both see the
same load; the table shows medians, and the machine's load average before and after.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis
from agents import SQLiteSession
from agents.extensions.memory import RedisSession
from common import machine, print_table, save_results
from sessionary_openai_agents import SessionarySession
from sessionary_redis import RedisDb
from sessionary_sqlite import SqliteDb

from sessionary import Message, Run, Store
from sessionary.domain.sessions import Session

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")
QUICK = "--quick" in sys.argv
ITEMS = 100 if QUICK else 1000
REPEAT = 20 if QUICK else 200
RUNS = 1000 if QUICK else 10_000


def turn(index: int) -> list[Any]:
    """One turn's items, as the SDK stores them."""
    return [
        {"role": "user", "content": f"Question {index}: what about the weather tomorrow?"},
        {
            "id": f"msg_{index}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "output_text", "text": f"Answer {index}: sunny. " * 4, "annotations": []}
            ],
        },
    ]


async def timed(call: Callable[[], Awaitable[Any]]) -> float:
    gc_was = gc.isenabled()
    gc.disable()
    start = time.perf_counter()
    await call()
    elapsed = time.perf_counter() - start
    if gc_was:
        gc.enable()
    return elapsed


async def side_by_side(ours: Any, theirs: Any) -> dict[str, tuple[float, float]]:
    """Medians (ours, theirs) per operation, the samples interleaved."""
    for session in (ours, theirs):
        for index in range(ITEMS // 2):
            await session.add_items(turn(index))
    operations: dict[str, Callable[[Any], Callable[[], Awaitable[Any]]]] = {
        "get_items(limit=20)": lambda s: lambda: s.get_items(limit=20),
        "add_items of one item": lambda s: lambda: s.add_items(turn(0)[:1]),
        f"get_items() of all {ITEMS} items": lambda s: lambda: s.get_items(),
    }
    results: dict[str, tuple[float, float]] = {}
    for name, make in operations.items():
        samples: tuple[list[float], list[float]] = ([], [])
        for _ in range(3):  # warm-up
            await make(ours)()
            await make(theirs)()
        for _ in range(REPEAT):
            samples[0].append(await timed(make(ours)))
            samples[1].append(await timed(make(theirs)))
        results[name] = (statistics.median(samples[0]), statistics.median(samples[1]))
    return results


def big_session(store: Store, *, read_messages: bool = False) -> tuple[float, float]:
    """Medians of ``get_session`` of a session of ``RUNS`` two-message runs: wall time, and
    the CPU time of this thread (which a loaded machine stretches less). Runs are built
    when first read, so with ``read_messages`` every run's messages are read too: the
    whole cost of a session used in full."""
    if store.get_session_info("big") is None:
        now = time.time()
        runs = [
            Run(
                run_id=f"r{i}",
                session_id="big",
                agent_id="bench",
                input=f"Question {i}",
                messages=(
                    Message(role="user", content=f"Question {i}", created_at=now),
                    Message(role="assistant", content=f"Answer {i}: sunny. " * 4, created_at=now),
                ),
                content=f"Answer {i}",
                created_at=now,
                updated_at=now,
            )
            for i in range(RUNS)
        ]
        store.import_session(Session(session_id="big", agent_id="bench", runs=tuple(runs)))
    for _ in range(3):
        store.get_session("big")
    wall, cpu = [], []
    for _ in range(5 if QUICK else 15):
        gc.disable()
        start, started = time.perf_counter(), time.thread_time()
        session = store.get_session("big")
        if read_messages:
            assert session is not None
            for run in session.runs:
                run.messages  # noqa: B018
        del session  # (freeing it is timed too, as when the result is dropped at once)
        cpu.append(time.thread_time() - started)
        wall.append(time.perf_counter() - start)
        gc.enable()
    return statistics.median(wall), statistics.median(cpu)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def load() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


async def main() -> None:
    rows: list[list[Any]] = []
    data: dict[str, Any] = {"items": ITEMS, "load before": load()}
    with tempfile.TemporaryDirectory() as folder:
        ours = SessionarySession("bench", SqliteDb(db_file=Path(folder) / "ours.db"))
        theirs = SQLiteSession("bench", Path(folder) / "theirs.db")
        for name, (a, b) in (await side_by_side(ours, theirs)).items():
            rows.append(["SQLite", name, ms(a), ms(b), f"{a / b:.2f}"])
            data[f"sqlite {name}"] = {"ours": a, "theirs": b}
        theirs.close()

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        ours = SessionarySession("bench", RedisDb(REDIS_URL, prefix=prefix))
        theirs_redis = RedisSession("bench", redis_client=client, key_prefix=f"{prefix}-sdk")
        for name, (a, b) in (await side_by_side(ours, theirs_redis)).items():
            rows.append(["Redis", name, ms(a), ms(b), f"{a / b:.2f}"])
            data[f"redis {name}"] = {"ours": a, "theirs": b}
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()

    with tempfile.TemporaryDirectory() as folder:
        store = SqliteDb(db_file=Path(folder) / "big.db")
        seconds, cpu = big_session(store)
        full, full_cpu = big_session(store, read_messages=True)
        store.close()
    rows.append(["SQLite", f"get_session of {RUNS:,} runs (Store), wall", ms(seconds), "", ""])
    rows.append(["SQLite", f"get_session of {RUNS:,} runs (Store), CPU", ms(cpu), "", ""])
    rows.append(["SQLite", "the same, every run's messages read, wall", ms(full), "", ""])
    rows.append(["SQLite", "the same, every run's messages read, CPU", ms(full_cpu), "", ""])
    data["get_session big"] = seconds
    data["get_session big cpu"] = cpu
    data["get_session big, messages read"] = full
    data["get_session big, messages read, cpu"] = full_cpu

    data["load after"] = load()
    print(
        f"\n{machine()}; load average (1/5/15 min) {data['load before']} before, "
        f"{data['load after']} after"
    )
    header = ["store", "operation", "SessionarySession ms", "SDK's session ms", "ratio"]
    print_table("OpenAI Agents SDK sessions (medians)", header, rows)
    save_results("bench_openai_agents", data)


if __name__ == "__main__":
    asyncio.run(main())
