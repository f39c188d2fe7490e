"""Session caching: 1,000 sequential runs in one session, caching off and on, next to Agno.

Run from the repository root (the Redis server at ``SESSIONARY_REDIS_URL``, by default
``redis://127.0.0.1:6379/0``, must be up; the benchmark writes under prefixes of its own
and deletes exactly those keys afterwards):

    python3 -m uv run --with agno==3.1.10 --with sqlalchemy --with greenlet \\
        python benchmarks/bench_caching.py

(``greenlet`` is what Agno's SQLite support needs from SQLAlchemy to import.) Pass
``--runs N`` for a shorter session and ``--no-agno`` to leave Agno out.

What it measures, for each store (a SQLite file in a temporary folder; the Redis server):

- ``Agent.run`` of an instant model (``ScriptedModel``; Agno: a model class that answers
  at once) with ``add_history_to_context=True`` and ``num_history_runs=3``, 1,000 times in
  one session. The cost "at a 1,000-run session" is the median of runs 901-1,000; the
  mean over all runs is shown too.
- Sessionary with caching off; on (the in-process LRU, every read checked against the
  store's version with one cheap read); on with ``cache_trust_seconds=1`` (no check
  within a second of the last one); and off and on with ``add_history_to_context=False``
  (the run reads nothing, so the cache must cost nothing).
- Agno 3.1.10 with ``cache_session`` off and on, same settings.
- A chat-app turn: ``run`` then ``get_chat_history`` (the UI redraws the conversation),
  Sessionary only, caching off and on: what a hydrated session saves when whole
  sessions are read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from common import Stats, machine, ms, print_table, save_results, us
from sessionary_redis import RedisDb
from sessionary_sqlite import SqliteDb

from sessionary import Agent
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")
HISTORY = 3


@dataclass
class Result:
    label: str
    store: str
    samples: list[float]

    @property
    def late(self) -> Stats:
        """Runs 901-1,000 (the last tenth) of the session."""
        return Stats(self.samples[-max(1, len(self.samples) // 10) :])

    @property
    def overall(self) -> Stats:
        return Stats(self.samples)


def lockstep(turns: dict[str, Callable[[int], Any]], runs: int) -> dict[str, list[float]]:
    """Time each variant's run ``index`` one after the other, for every index in turn.

    Variants that are compared advance together, in a rotating order, so a busy moment
    of the machine (other processes, the disk, the Redis server) falls on all of them
    alike instead of on whichever happened to run then.
    """
    labels = list(turns)
    samples: dict[str, list[float]] = {label: [] for label in labels}
    for index in range(runs):
        shift = index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            start = time.perf_counter()
            turns[label](index)
            samples[label].append(time.perf_counter() - start)
    return samples


# --------------------------------------------------------------------------- sessionary


def sessionary_store(kind: str, folder: str, prefix: str, label: str) -> Any:
    slug = "".join(ch if ch.isalnum() else "-" for ch in label)
    if kind == "memory":
        return MemoryDb()
    if kind == "sqlite":
        return SqliteDb(db_file=os.path.join(folder, f"{slug}.db"))
    return RedisDb(REDIS_URL, prefix=f"{prefix}-{slug}")


def sessionary_agent(kind: str, folder: str, prefix: str, label: str, **cache: Any) -> Agent:
    store = sessionary_store(kind, folder, prefix, label)
    history = cache.pop("history", True)
    return Agent(
        model=ScriptedModel(),
        db=store,
        session_id="bench",
        user_id="user-1",
        add_history_to_context=history,
        num_history_runs=HISTORY,
        **cache,
    )


def sessionary_results(
    kind: str, agents: dict[str, Agent], runs: int, chat: bool = False
) -> list[Result]:
    def turn(agent: Agent) -> Callable[[int], None]:
        def one(index: int) -> None:
            agent.run(f"message {index}")
            if chat:
                agent.get_chat_history()

        return one

    samples = lockstep({label: turn(agent) for label, agent in agents.items()}, runs)
    for agent in agents.values():
        session = agent.get_session()
        assert session is not None and session.run_count == runs, "runs went missing"
    return [Result(label, kind, samples[label]) for label in agents]


def read_results(kind: str, agents: dict[str, Agent], repeat: int) -> list[Result]:
    """The read a run makes before it calls the model, alone: the last runs of history."""

    def read(agent: Agent) -> Callable[[int], Any]:
        return lambda _: agent.db.get_runs("bench", user_id="user-1", last_n=HISTORY)

    samples = lockstep({label: read(agent) for label, agent in agents.items()}, repeat)
    return [Result(label, kind, samples[label]) for label in agents]


# --------------------------------------------------------------------------- agno


def agno_results(kind: str, folder: str, prefix: str, runs: int) -> list[Result]:
    from agno.agent import Agent as AgnoAgent

    agents: dict[str, Any] = {}
    for cache in (False, True):
        label = f"agno-{'on' if cache else 'off'}"
        db: Any
        if kind == "sqlite":
            from agno.db.sqlite import SqliteDb as AgnoSqliteDb

            db = AgnoSqliteDb(db_file=os.path.join(folder, f"{label}.db"))
        else:
            from agno.db.redis import RedisDb as AgnoRedisDb

            db = AgnoRedisDb(db_url=REDIS_URL, db_prefix=f"{prefix}-{label}")
        agents[label] = AgnoAgent(
            model=_agno_instant_model(),
            db=db,
            session_id="bench",
            user_id="user-1",
            add_history_to_context=True,
            num_history_runs=HISTORY,
            cache_session=cache,
            telemetry=False,
        )

    def turn(agent: Any) -> Callable[[int], None]:
        return lambda index: agent.run(f"message {index}")

    samples = lockstep({label: turn(agent) for label, agent in agents.items()}, runs)
    for agent in agents.values():
        session = agent.get_session(session_id="bench")
        assert session is not None and len(session.runs or []) == runs, "Agno lost runs"
    return [Result(label, kind, samples[label]) for label in agents]


def _agno_instant_model() -> Any:
    from agno.models.base import Model as AgnoModel
    from agno.models.response import ModelResponse as AgnoResponse

    @dataclass
    class Instant(AgnoModel):  # type: ignore[misc]
        """Answers at once with an echo of the last user message, like ScriptedModel."""

        id: str = "instant"
        name: str = "Instant"
        provider: str = "bench"

        def invoke(self, *args: Any, **kwargs: Any) -> Any:
            messages = kwargs.get("messages") or []
            last = next((m for m in reversed(messages) if m.role == "user"), None)
            text = "" if last is None else str(last.content)
            return AgnoResponse(role="assistant", content="echo: " + text)

        async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
            return self.invoke(*args, **kwargs)

        def invoke_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield self.invoke(*args, **kwargs)

        async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield self.invoke(*args, **kwargs)

        def _parse_provider_response(self, response: Any, **kwargs: Any) -> Any:
            return response

        def _parse_provider_response_delta(self, response: Any) -> Any:
            return response

    return Instant()


# --------------------------------------------------------------------------- main


def delete_prefix(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--no-agno", action="store_true")
    args = parser.parse_args()
    runs: int = args.runs
    prefix = f"bench-caching-{uuid.uuid4().hex[:10]}"
    folder = tempfile.mkdtemp(prefix="bench-caching-")
    results: list[Result] = []
    chat: list[Result] = []
    reads: list[Result] = []
    try:
        for kind in ("memory", "sqlite", "redis"):
            print(f"{kind}: sessionary...", flush=True)
            variants: dict[str, dict[str, Any]] = {
                "off": {},
                "on": {"cache_session": True},
                "on, trust 1 s": {"cache_session": True, "cache_trust_seconds": 1.0},
                "off, no history": {"history": False},
                "on, no history": {"cache_session": True, "history": False},
            }
            agents = {
                label: sessionary_agent(kind, folder, prefix, label, **options)
                for label, options in variants.items()
            }
            results += sessionary_results(kind, agents, runs)
            readers = {k: a for k, a in agents.items() if "no history" not in k}
            reads += read_results(kind, readers, 20 * runs // 10)
            if kind == "memory":
                continue
            chat_agents = {
                "chat-off": sessionary_agent(kind, folder, prefix, "chat-off"),
                "chat-on": sessionary_agent(kind, folder, prefix, "chat-on", cache_session=True),
            }
            chat += sessionary_results(kind, chat_agents, runs, chat=True)
            if not args.no_agno:
                print(f"{kind}: agno...", flush=True)
                results += agno_results(kind, folder, prefix, runs)
    finally:
        delete_prefix(prefix)
        shutil.rmtree(folder, ignore_errors=True)

    print(f"\nmachine: {machine()}")
    print(f"runs per session: {runs}; history sent to the model: last {HISTORY} runs")
    rows = []
    for result in results:
        product = "Agno 3.1.10" if result.label.startswith("agno") else "Sessionary"
        caching = result.label.removeprefix("agno-")
        if product != "Sessionary":
            off_label = "agno-off"
        else:
            off_label = "off, no history" if "no history" in result.label else "off"
        base = next(r for r in results if r.store == result.store and r.label == off_label)
        change = result.late.median / base.late.median - 1
        rows.append(
            [
                result.store,
                product,
                caching,
                ms(result.late.median),
                ms(result.late.p95),
                ms(result.overall.mean),
                "-" if result is base else f"{change:+.0%}",
            ]
        )
    print_table(
        f"Agent.run at a {runs}-run session (median and p95 of the last tenth of the runs)",
        ["store", "product", "cache", "median", "p95", "mean, all runs", "vs off"],
        rows,
    )
    chat_rows = []
    for kind in ("sqlite", "redis"):
        off = next(r for r in chat if r.store == kind and r.label == "chat-off")
        on = next(r for r in chat if r.store == kind and r.label == "chat-on")
        chat_rows.append(
            [
                kind,
                ms(off.late.median),
                ms(on.late.median),
                f"{on.late.median / off.late.median - 1:+.0%}",
            ]
        )
    print_table(
        f"A chat turn (run, then get_chat_history) at a {runs}-run session, Sessionary",
        ["store", "cache off", "cache on", "change"],
        chat_rows,
    )
    read_rows = []
    for kind in ("memory", "sqlite", "redis"):
        off = next(r for r in reads if r.store == kind and r.label == "off")
        for result in (r for r in reads if r.store == kind):
            ratio = result.overall.median / off.overall.median - 1
            shown = "-" if result is off else f"{ratio:+.0%}"
            read_rows.append([kind, result.label, us(result.overall.median), shown])
    print_table(
        f"The history read alone (get_runs, last {HISTORY}) at a {runs}-run session, "
        f"median of {len(reads[0].samples)}",
        ["store", "cache", "median", "vs off"],
        read_rows,
    )
    path = save_results(
        "caching",
        {
            "runs": runs,
            "history": HISTORY,
            "run": [
                {
                    "store": r.store,
                    "label": r.label,
                    "late": r.late.as_dict(),
                    "all": r.overall.as_dict(),
                }
                for r in results
            ],
            "history_read": [
                {"store": r.store, "label": r.label, "all": r.overall.as_dict()} for r in reads
            ],
            "chat_turn": [
                {
                    "store": r.store,
                    "label": r.label,
                    "late": r.late.as_dict(),
                    "all": r.overall.as_dict(),
                }
                for r in chat
            ],
        },
    )
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
