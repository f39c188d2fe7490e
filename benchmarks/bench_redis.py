"""Redis storage: sessionary-redis's RedisDb beside Agno 3.1.10's RedisDb, on one server.

Run from the repository root (Redis at SESSIONARY_REDIS_URL, default
redis://127.0.0.1:6379/0; every key goes under a fresh prefix and is deleted at the end):

    python3 -m uv run --with agno==3.1.10 python benchmarks/bench_redis.py

Without agno installed only our side is measured. ``--quick`` uses smaller sessions.

What it measures, with an instant model (answers at once, so only the framework and
the store are timed):

- the cost of ``Agent.run`` at run N for N = 10, 1,000 and 10,000, for us and for Agno
  (Agno also with ``cache_session=True`` at 1,000). Ours is the median of 200 rounds that
  interleave every kind of sample, so all of them see the same machine load; the median
  CPU time of our process is printed beside the wall time where it matters;
- beside it, one bare pipelined MULTI/EXEC that writes the same payload (the run's JSON
  and the summary fields), the floor any Redis store pays per run, timed in the same
  rounds;
- ``get_chat_history(last_n_runs=20)`` on a 10,000-run session;
- Redis round trips per ``Agent.run`` (client ``send_packed_command`` calls);
- memory used in Redis per run (``MEMORY USAGE`` of every key, divided by the runs);
- runs lost when 4 processes append to one session at once, and whether the session
  summary (run count, tokens) is exact;
- index entries left (listed or stored) once 100 sessions with a 1 s TTL have expired.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from redis.connection import AbstractConnection

sys.path.insert(0, str(Path(__file__).parent))

from common import Stats, machine, measure, ms, print_table, save_results
from redis_agno import agno_agent, agno_available, agno_db, agno_prefill
from sessionary_redis import RedisDb
from sessionary_redis.keys import KeyLayout

from sessionary import Agent
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run

URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")
QUICK = "--quick" in sys.argv
SIZES = (10, 100, 1_000) if QUICK else (10, 1_000, 10_000)
BIG = SIZES[-1]
AGENT_ID = "bench-agent"


@contextmanager
def round_trips() -> Iterator[list[int]]:
    """Count the requests every redis-py connection sends (one per round trip)."""
    count = [0]
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        count[0] += 1
        original(self, command, check_health)  # type: ignore[no-untyped-call]

    AbstractConnection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield count
    finally:
        AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    keys = list(client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    return len(keys)


def memory_of(client: redis.Redis, prefix: str) -> int:
    """Bytes used by every key under a prefix (``MEMORY USAGE ... SAMPLES 0``)."""
    return sum(
        int(client.memory_usage(key, samples=0) or 0)
        for key in client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000)
    )


def runs_under(client: redis.Redis, pattern: str, size: Callable[[bytes], int]) -> int:
    """How many runs are stored under a prefix, summed over its per-session keys."""
    return sum(size(key) for key in client.scan_iter(match=pattern, count=1000))


# --------------------------------------------------------------------------- ours


def ours_prefill(db: RedisDb, session_id: str, runs: int) -> None:
    for index in range(runs):
        db.append_run(
            make_run(session_id, user_id="bench-user", agent_id=AGENT_ID, text=f"message {index}")
        )


def ours_interleaved(
    db: RedisDb, bare: Callable[[], None], repeat: int
) -> tuple[dict[str, Stats], dict[str, float]]:
    """Our costs, sampled round-robin so every kind sees the same machine load.

    Each round times, in a shuffled order: a run at run ``SIZES[0]`` (a fresh prefilled
    session per round), a run into the ``SIZES[1]`` and the ``BIG`` session, the bare
    MULTI/EXEC, and ``get_chat_history(last_n_runs=20)`` on the ``BIG`` session. Returns wall-time
    stats and the median CPU time of this process per kind.
    """
    agent = Agent(model=ScriptedModel(), db=db, id=AGENT_ID, user_id="bench-user")
    for size in SIZES[1:]:
        ours_prefill(db, f"n{size}", size)
    small = [f"n{SIZES[0]}-{index}" for index in range(repeat)]
    for sid in small:
        ours_prefill(db, sid, SIZES[0])
    kinds: dict[str, Callable[[int], Any]] = {
        f"run {SIZES[0]}": lambda i: agent.run("next", session_id=small[i]),
        f"run {SIZES[1]}": lambda i: agent.run("next", session_id=f"n{SIZES[1]}"),
        f"run {BIG}": lambda i: agent.run("next", session_id=f"n{BIG}"),
        "bare": lambda i: bare(),
        "history": lambda i: agent.get_chat_history(session_id=f"n{BIG}", last_n_runs=20),
    }
    agent.run("warm up", session_id="warm")
    wall: dict[str, list[float]] = {kind: [] for kind in kinds}
    cpu: dict[str, list[float]] = {kind: [] for kind in kinds}
    order = list(kinds)
    for index in range(repeat):
        random.Random(index).shuffle(order)  # no kind always goes first in a round
        for kind in order:
            fn = kinds[kind]
            start_cpu, start = time.process_time(), time.perf_counter()
            fn(index)
            wall[kind].append(time.perf_counter() - start)
            cpu[kind].append(time.process_time() - start_cpu)
    return (
        {kind: Stats(samples) for kind, samples in wall.items()},
        {kind: Stats(samples).median for kind, samples in cpu.items()},
    )


def bare_multi_exec(client: redis.Redis, prefix: str) -> Callable[[], None]:
    """The floor: one pipelined MULTI/EXEC writing a run's JSON and the summary fields."""
    agent = Agent(model=ScriptedModel(), db="memory://", session_id="payload")
    from sessionary.codec import dump_run

    payload = dump_run(agent.run("next"))
    keys = KeyLayout(prefix)
    counter = [0]

    def write() -> None:
        counter[0] += 1
        pipe = client.pipeline(transaction=True)
        pipe.rpush(keys.runs("bare"), payload)
        pipe.hset(
            keys.session("bare"),
            mapping={
                f"r:{counter[0]}": counter[0],
                "status": "completed",
                "updated": repr(time.time()),
                "preview": "ok",
            },
        )
        pipe.hincrby(keys.session("bare"), "version", 1)
        pipe.hincrby(keys.session("bare"), "runs", 1)
        pipe.hincrby(keys.session("bare"), "in", 3)
        pipe.hincrby(keys.session("bare"), "out", 5)
        pipe.zadd(keys.user_index("bench-user"), {"bare": time.time()})
        pipe.execute()

    return write


def dangling_after_ttl(client: redis.Redis, prefix: str) -> int:
    """Index entries left, listed or not, once 100 sessions with a 1 s TTL have expired."""
    db = RedisDb(URL, prefix=prefix, ttl=1.0)
    for index in range(100):
        db.append_run(make_run(f"t{index}", user_id="bench-user", agent_id=AGENT_ID))
    time.sleep(1.5)
    listed = len(db.list_sessions(user_id="bench-user", limit=1000).items)
    listed += len(db.list_sessions(agent_id=AGENT_ID, limit=1000).items)
    listed += len(db.list_sessions(limit=1000).items)
    entries = sum(
        int(client.zcard(key)) for key in client.scan_iter(match=f"{prefix}:x:*", count=1000)
    )
    return listed + entries


def ours_writer(url: str, prefix: str, worker: int, count: int) -> None:
    db = RedisDb(url, prefix=prefix)
    agent = Agent(
        model=ScriptedModel(), db=db, id=AGENT_ID, session_id="contended", user_id="bench-user"
    )
    for index in range(count):
        agent.run(f"{worker}:{index}")
    db.close()


def agno_writer(url: str, prefix: str, worker: int, count: int) -> None:
    agent = agno_agent(agno_db(url, prefix), session_id="contended")
    for index in range(count):
        agent.run(f"{worker}:{index}")


def concurrent_writers(target: Callable[..., None], prefix: str, per_process: int) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=target, args=(URL, prefix, w, per_process)) for w in range(4)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    if any(p.exitcode != 0 for p in processes):
        raise RuntimeError(f"a writer process failed: {[p.exitcode for p in processes]}")


# --------------------------------------------------------------------------- main


def main() -> None:
    client = redis.Redis.from_url(URL)
    client.ping()
    ours_prefix = f"bench-ours-{uuid.uuid4().hex[:8]}"
    agno_prefix = f"bench-agno-{uuid.uuid4().hex[:8]}"
    bare_prefix = f"bench-bare-{uuid.uuid4().hex[:8]}"
    ttl_prefix = f"bench-ttl-{uuid.uuid4().hex[:8]}"
    with_agno = agno_available()
    results: dict[str, Any] = {"url": URL, "sizes": SIZES, "agno": with_agno}
    rows: list[list[Any]] = []
    try:
        db = RedisDb(URL, prefix=ours_prefix)
        stats, cpu = ours_interleaved(db, bare_multi_exec(client, bare_prefix), repeat=200)
        bare, history = stats["bare"], stats["history"]
        ours_costs = {size: stats[f"run {size}"] for size in SIZES}
        results["bare_multi_exec_ms"] = bare.median * 1000
        results["ours_cpu_ms"] = {kind: value * 1000 for kind, value in cpu.items()}

        # round trips per Agent.run, at the biggest size
        agent = Agent(
            model=ScriptedModel(), db=db, id=AGENT_ID, session_id=f"n{BIG}", user_id="bench-user"
        )
        agent.run("warm up")
        with round_trips() as count:
            agent.run("counted")
        results["ours_round_trips_per_run"] = count[0]
        results["ours_history_ms"] = history.median * 1000

        results["ours_dangling_after_ttl"] = dangling_after_ttl(client, ttl_prefix)

        per_process = 250
        concurrent_writers(ours_writer, ours_prefix, per_process)
        runs = db.get_runs("contended")
        contended = db.get_session_info("contended")
        assert contended is not None
        exact = (
            contended.run_count == len(runs)
            and contended.input_tokens == sum(r.metrics.input_tokens for r in runs)
            and contended.output_tokens == sum(r.metrics.output_tokens for r in runs)
        )
        results["ours_lost"] = 4 * per_process - len(runs)
        stored_runs = runs_under(client, f"{ours_prefix}:r:*", lambda k: int(client.llen(k)))
        results["ours_bytes_per_run"] = memory_of(client, ours_prefix) / stored_runs
        results["ours_summary_exact"] = exact

        agno_costs: dict[int, Stats] = {}
        agno_cached: Stats | None = None
        if with_agno:
            adb = agno_db(URL, agno_prefix)
            for size in SIZES:
                repeat = 10 if size <= 1_000 else 3
                if size <= 100:
                    samples = []
                    a = agno_agent(adb, session_id=f"warm-{size}")
                    a.run("warm up")
                    for index in range(repeat):
                        sid = f"n{size}-{index}"
                        agno_prefill(adb, sid, size)
                        start = time.perf_counter()
                        a.run("next", session_id=sid)
                        samples.append(time.perf_counter() - start)
                    agno_costs[size] = Stats(samples)
                else:
                    agno_prefill(adb, f"n{size}", size)
                    a = agno_agent(adb, session_id=f"n{size}")
                    agno_costs[size] = measure(
                        functools.partial(a.run, "next"), repeat=repeat, warmup=0
                    )
                    if size == SIZES[1]:
                        cached = agno_agent(adb, session_id=f"n{size}", cache_session=True)
                        agno_cached = measure(
                            functools.partial(cached.run, "next"), repeat=repeat, warmup=1
                        )
            a = agno_agent(adb, session_id=f"n{BIG}")
            with round_trips() as count:
                a.run("counted")
            results["agno_round_trips_per_run"] = count[0]
            agno_history = measure(
                lambda: a.get_chat_history(session_id=f"n{BIG}", last_n_runs=20), repeat=3, warmup=0
            )
            results["agno_history_ms"] = agno_history.median * 1000
            agno_runs = runs_under(
                client, f"{agno_prefix}:runs:by_session:*", lambda k: int(client.zcard(k))
            )
            results["agno_bytes_per_run"] = memory_of(client, agno_prefix) / agno_runs
            agno_per_process = 50
            concurrent_writers(agno_writer, agno_prefix + "-mp", agno_per_process)
            session_type = __import__("agno.db.base", fromlist=["SessionType"]).SessionType
            session = agno_db(URL, agno_prefix + "-mp").get_session(
                session_id="contended", session_type=session_type.AGENT
            )
            stored = len(session.runs) if session is not None else 0
            results["agno_lost"] = 4 * agno_per_process - stored
            results["agno_writers_total"] = 4 * agno_per_process

        for size in SIZES:
            row = [f"`Agent.run` at run {size:,}", ms(ours_costs[size].median)]
            if with_agno:
                ratio = agno_costs[size].median / ours_costs[size].median
                row += [ms(agno_costs[size].median), f"{ratio:,.0f}x"]
            rows.append(row)
            results[f"ours_run_{size}_ms"] = ours_costs[size].median * 1000
            if with_agno:
                results[f"agno_run_{size}_ms"] = agno_costs[size].median * 1000
        if agno_cached is not None:
            rows.append(
                [f"Agno `cache_session=True` at run {SIZES[1]:,}", "", ms(agno_cached.median), ""]
            )
            results["agno_cached_ms"] = agno_cached.median * 1000
        flat = ours_costs[BIG].median / ours_costs[SIZES[0]].median
        rows.append([f"run {BIG:,} / run {SIZES[0]:,}", f"{flat:.2f}", "", ""])
        rows.append(["bare pipelined MULTI/EXEC, same payload", ms(bare.median), "", ""])
        rows.append(
            [
                "`Agent.run` / bare MULTI/EXEC",
                f"{ours_costs[SIZES[1]].median / bare.median:.2f} (CPU of our process per run: "
                f"{ms(cpu[f'run {SIZES[1]}'])})",
                "",
                "",
            ]
        )
        rows.append(
            [
                f"`get_chat_history(last_n_runs=20)` at {BIG:,} runs",
                f"{ms(history.median)} (CPU {ms(cpu['history'])})",
                ms(results["agno_history_ms"] / 1000) if with_agno else "",
                "",
            ]
        )
        rows.append(
            [
                "Redis round trips per `Agent.run`",
                results["ours_round_trips_per_run"],
                results.get("agno_round_trips_per_run", ""),
                "",
            ]
        )
        rows.append(
            [
                "Redis memory per run",
                f"{results['ours_bytes_per_run']:,.0f} B",
                f"{results['agno_bytes_per_run']:,.0f} B" if with_agno else "",
                "",
            ]
        )
        rows.append(
            [
                "runs lost, 4 writer processes",
                f"{results['ours_lost']} of {4 * per_process} (summary exact: {exact})",
                f"{results['agno_lost']} of {results['agno_writers_total']}" if with_agno else "",
                "",
            ]
        )
        rows.append(
            [
                "dangling index entries after TTL expiry (100 sessions)",
                results["ours_dangling_after_ttl"],
                "",
                "",
            ]
        )
        header = ["measure", "sessionary-redis", "Agno 3.1.10 RedisDb", "Agno / ours"]
        if not with_agno:
            header = header[:2]
        rows = [(row + [""] * len(header))[: len(header)] for row in rows]
        print_table(f"Redis storage ({machine()}, server {URL})", header, rows)
        print(f"\nsaved to {save_results('bench_redis', results)}")
    finally:
        delete_prefix(client, ours_prefix)
        delete_prefix(client, bare_prefix)
        delete_prefix(client, ttl_prefix)
        for prefix in (agno_prefix, agno_prefix + "-mp"):
            for key in client.scan_iter(match=prefix + "*", count=1000):
                client.delete(key)
        client.close()


if __name__ == "__main__":
    main()
