"""Async against sync on Redis: 100 concurrent sessions, each doing 20 runs.

    python benchmarks/bench_async.py            # Redis at SESSIONARY_REDIS_URL
    python benchmarks/bench_async.py --quick    # 20 sessions x 5 runs

Every session is one user's conversation: its runs follow one another (a run needs the
previous one's answer), and the sessions run at the same time. Two ways to serve them:

- ``arun``: one event loop, every session a task (100 in flight), on the Redis store's
  async twin (``RedisDb(...).to_async()``);
- ``run`` in 8 threads: a pool of 8 workers, each taking whole sessions (at most 8 in
  flight), on the sync Redis store, the way a sync web server would serve them.

Both use ``add_history_to_context=True`` (each run reads its last 3 runs, then appends
one). Two models: an instant one (the framework and Redis are all there is to time) and
one that takes 50 ms per call, like a fast hosted model. Throughput is runs per second
over the wall time of the whole batch; each configuration runs ``--repeat`` times,
alternating, and the median is reported. Every key is written under a fresh prefix and
deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from common import OUT, machine, print_table
from sessionary_redis import RedisDb
from sessionary_redis.keys import KeyLayout

from sessionary import Agent
from sessionary.testing import ScriptedModel

URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")


def delete_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()


def check_stored(prefix: str, sessions: int, runs: int) -> None:
    """Every session holds exactly its runs, in order: the batch really ran."""
    with RedisDb(URL, prefix=prefix) as db:
        for index in range(sessions):
            stored = db.get_runs(f"s{index}", user_id=f"u{index}")
            assert [r.input for r in stored] == [f"turn {t}" for t in range(runs)], index


def async_batch(sessions: int, runs: int, delay: float) -> float:
    prefix = f"bench-async-{uuid.uuid4().hex[:8]}"
    db = RedisDb(URL, prefix=prefix)
    agent = Agent(model=ScriptedModel(delay=delay), db=db, add_history_to_context=True)

    async def conversation(index: int) -> None:
        for turn in range(runs):
            await agent.arun(f"turn {turn}", session_id=f"s{index}", user_id=f"u{index}")

    async def batch() -> float:
        await agent.adb.ping()  # connect before the clock starts, as a server would
        started = time.perf_counter()
        await asyncio.gather(*(conversation(i) for i in range(sessions)))
        took = time.perf_counter() - started
        await agent.adb.close()
        return took

    try:
        took = asyncio.run(batch())
        check_stored(prefix, sessions, runs)
        return took
    finally:
        db.close()
        delete_prefix(prefix)


def threaded_batch(sessions: int, runs: int, delay: float, threads: int = 8) -> float:
    prefix = f"bench-sync-{uuid.uuid4().hex[:8]}"
    db = RedisDb(URL, prefix=prefix)
    agent = Agent(model=ScriptedModel(delay=delay), db=db, add_history_to_context=True)
    db.ping()

    def conversation(index: int) -> None:
        for turn in range(runs):
            agent.run(f"turn {turn}", session_id=f"s{index}", user_id=f"u{index}")

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(conversation, range(sessions)))
        took = time.perf_counter() - started
        check_stored(prefix, sessions, runs)
        return took
    finally:
        db.close()
        delete_prefix(prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 sessions x 5 runs")
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    sessions, runs = (20, 5) if options.quick else (100, 20)
    total = sessions * runs
    rows: list[list[Any]] = []
    results: dict[str, Any] = {"sessions": sessions, "runs_per_session": runs}
    for delay in (0.0, 0.05):
        walls: dict[str, list[float]] = {"arun": [], "run, 8 threads": []}
        for _ in range(options.repeat):
            walls["arun"].append(async_batch(sessions, runs, delay))
            walls["run, 8 threads"].append(threaded_batch(sessions, runs, delay))
        medians = {name: statistics.median(values) for name, values in walls.items()}
        base = total / medians["run, 8 threads"]
        for name, wall in medians.items():
            throughput = total / wall
            rows.append(
                [
                    "instant" if delay == 0 else f"{delay * 1000:.0f} ms per call",
                    name,
                    f"{wall:.2f} s",
                    f"{throughput:,.0f} runs/s",
                    f"{throughput / base:.2f}x",
                ]
            )
        results[f"delay_{delay}"] = {name: {"wall_s": w} for name, w in medians.items()}
    print(f"machine: {machine()}; Redis at {URL}")
    print(
        f"{sessions} sessions x {runs} runs = {total} runs, history of 3 runs in context; "
        f"median of {options.repeat} alternating batches"
    )
    print_table(
        f"{sessions} concurrent sessions x {runs} runs on Redis: arun against run in 8 threads",
        ["model", "API", "wall time", "throughput", "vs run in 8 threads"],
        rows,
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "async.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {OUT / 'async.json'}")


if __name__ == "__main__":
    main()
