"""Human in the loop: the cost of pausing a run and continuing it, next to Agno 3.1.10.

Run from the repository root (Agno only in this command's environment):

    python3 -m uv run --with agno==3.1.10 --with 'sqlalchemy[asyncio]' \
        python benchmarks/bench_hitl.py

Without Agno installed the Sessionary numbers are printed alone.

What it measures, with instant models (no model latency: only the library and the store):

- One **pause-and-continue cycle** on a SQLite file: ``run`` pauses on a tool that needs
  confirmation, the requirement is confirmed, and a *second* agent (its own store object
  on the same file, as another process would have) calls ``continue_run``: the tool runs,
  the model answers, the same run record is updated. Sessionary and Agno do the same
  thing with the same script.
  - in a new session every time (median of 200);
  - cycles 1-50 and 451-500 of one session, to show whether the cost grows with it.
- Sessionary's cycle split into its phases (``run`` that pauses, ``get_run_output`` from
  the other agent, ``continue_run``), on SQLite and on the Redis server
  (``SESSIONARY_REDIS_URL``, a prefix of this benchmark's own, deleted afterwards).
- A Sessionary team run with one delegation to a member (two runs stored), on SQLite.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hitl_agno
from common import Stats, machine, measure, ms, print_table, save_results

from sessionary import Agent, Team, tool
from sessionary.storage.base import Store
from sessionary.testing import ScriptedModel, tool_call

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")
FRESH = 200
GROWTH = 500
WINDOW = 50


class ScriptLoop(ScriptedModel):
    """A ScriptedModel that calls ``write_line`` on a user message, else answers "Done."."""

    def __init__(self) -> None:
        super().__init__()

    def respond(self, request: Any) -> Any:
        last = request.messages[-1]
        reply = tool_call("write_line", text="hello") if last.role.value == "user" else "Done."
        self.add_replies(reply)
        return super().respond(request)


def sessionary_agents(db_pause: Store, db_continue: Store, lines: list[str]) -> tuple[Agent, Agent]:
    @tool(requires_confirmation=True)
    def write_line(text: str) -> str:
        """Append a line."""
        lines.append(text)
        return f"wrote {text}"

    pausing = Agent(model=ScriptLoop(), db=db_pause, id="bench", tools=[write_line])
    continuing = Agent(model=ScriptLoop(), db=db_continue, id="bench", tools=[write_line])
    return pausing, continuing


def sessionary_cycle(pausing: Agent, continuing: Agent) -> Callable[[str], Any]:
    def cycle(session_id: str) -> Any:
        run = pausing.run("Write hello", session_id=session_id)
        assert run.is_paused
        stored = continuing.get_run_output(run_id=run.run_id, session_id=session_id)
        assert stored is not None
        for requirement in stored.active_requirements:
            requirement.confirm()
        done = continuing.continue_run(
            run_id=run.run_id, session_id=session_id, requirements=stored.requirements
        )
        assert done.content == "Done."
        return done

    return cycle


def fresh_sessions(cycle: Callable[[str], Any]) -> Stats:
    return measure(lambda: cycle(uuid.uuid4().hex), repeat=FRESH, warmup=5)


def one_growing_session(cycle: Callable[[str], Any]) -> tuple[Stats, Stats]:
    session_id = uuid.uuid4().hex
    samples = []
    for _ in range(GROWTH):
        start = time.perf_counter()
        cycle(session_id)
        samples.append(time.perf_counter() - start)
    return Stats(samples[:WINDOW]), Stats(samples[-WINDOW:])


def phases(pausing: Agent, continuing: Agent, repeat: int = FRESH) -> dict[str, Stats]:
    times: dict[str, list[float]] = {"run (pauses)": [], "get_run_output": [], "continue_run": []}
    for _ in range(repeat):
        session_id = uuid.uuid4().hex
        start = time.perf_counter()
        run = pausing.run("Write hello", session_id=session_id)
        paused_at = time.perf_counter()
        stored = continuing.get_run_output(run_id=run.run_id, session_id=session_id)
        read_at = time.perf_counter()
        assert stored is not None
        stored.active_requirements[0].confirm()
        continuing.continue_run(
            run_id=run.run_id, session_id=session_id, requirements=stored.requirements
        )
        done_at = time.perf_counter()
        times["run (pauses)"].append(paused_at - start)
        times["get_run_output"].append(read_at - paused_at)
        times["continue_run"].append(done_at - read_at)
    return {name: Stats(samples) for name, samples in times.items()}


def team_runs(db: Store) -> Stats:
    member = Agent(name="Helper", model=ScriptedModel())
    team = Team(model=ScriptedModel(), members=[member], db=db, id="bench-team")

    def one() -> None:
        team.model.add_replies(  # type: ignore[union-attr]
            tool_call("delegate_task_to_member", member_id="Helper", task="Say hi"), "Done."
        )
        team.run("Hello", session_id=uuid.uuid4().hex)

    return measure(one, repeat=FRESH, warmup=5)


def redis_store() -> tuple[Store, Store, Callable[[], None]] | None:
    try:
        import redis
        from sessionary_redis import RedisDb
        from sessionary_redis.keys import KeyLayout
    except ImportError:
        return None
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        return None
    prefix = f"sessionary-bench-hitl-{uuid.uuid4().hex[:8]}"

    def cleanup() -> None:
        keys = list(client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    return RedisDb(REDIS_URL, prefix=prefix), RedisDb(REDIS_URL, prefix=prefix), cleanup


def main() -> None:
    from sessionary_sqlite import SqliteDb

    print(f"machine: {machine()}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lines: list[str] = []
        db_file = str(Path(tmp) / "sessionary.db")
        pausing, continuing = sessionary_agents(
            SqliteDb(db_file=db_file), SqliteDb(db_file=db_file), lines
        )
        cycle = sessionary_cycle(pausing, continuing)
        ours_fresh = fresh_sessions(cycle)
        ours_early, ours_late = one_growing_session(cycle)
        ours_phases = phases(pausing, continuing)
        team_stats = team_runs(SqliteDb(db_file=str(Path(tmp) / "team.db")))

        rows = [
            [
                "Sessionary",
                ms(ours_fresh.median),
                ms(ours_early.median),
                ms(ours_late.median),
            ]
        ]
        results["sessionary"] = {
            "fresh": ours_fresh.as_dict(),
            "first_50": ours_early.as_dict(),
            "last_50": ours_late.as_dict(),
        }
        if hitl_agno.available():
            agno_lines: list[str] = []
            agno_cycle = hitl_agno.make_cycle(str(Path(tmp) / "agno.db"), agno_lines)
            agno_fresh = fresh_sessions(agno_cycle)
            agno_early, agno_late = one_growing_session(agno_cycle)
            rows.append(
                [
                    f"Agno {hitl_agno.version()}",
                    ms(agno_fresh.median),
                    ms(agno_early.median),
                    ms(agno_late.median),
                ]
            )
            results["agno"] = {
                "version": hitl_agno.version(),
                "fresh": agno_fresh.as_dict(),
                "first_50": agno_early.as_dict(),
                "last_50": agno_late.as_dict(),
            }
        print_table(
            "Pause, confirm, continue in a second agent on SQLite (median per cycle)",
            [
                "library",
                f"new session each time (n={FRESH})",
                "cycles 1-50 of one session",
                f"cycles {GROWTH - WINDOW + 1}-{GROWTH} of one session",
            ],
            rows,
        )
        phase_rows = [["SQLite", *(ms(s.median) for s in ours_phases.values())]]
        results["phases_sqlite"] = {k: v.as_dict() for k, v in ours_phases.items()}
        redis = redis_store()
        if redis is not None:
            first, second, cleanup = redis
            try:
                r_pausing, r_continuing = sessionary_agents(first, second, [])
                redis_phases = phases(r_pausing, r_continuing)
            finally:
                cleanup()
            phase_rows.append(["Redis", *(ms(s.median) for s in redis_phases.values())])
            results["phases_redis"] = {k: v.as_dict() for k, v in redis_phases.items()}
        print_table(
            f"Sessionary's cycle by phase (median of {FRESH}, a new session each time)",
            ["store", *ours_phases],
            phase_rows,
        )
        print_table(
            "Sessionary team run with one delegation on SQLite (member run + team run stored)",
            ["median", "p95"],
            [[ms(team_stats.median), ms(team_stats.p95)]],
        )
        results["team_sqlite"] = team_stats.as_dict()
        assert set(lines) == {"hello"}
    path = save_results("bench_hitl", results)
    print(f"\nsaved: {path}")


if __name__ == "__main__":
    main()
