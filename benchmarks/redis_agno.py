"""Agno 3.1.10 side of the Redis benchmark: an instant model and an N-run session.

Imported only by ``bench_redis.py`` when agno is installed in the benchmark's own
environment (``uv run --with agno==3.1.10``); agno is no dependency of any package.
"""

from __future__ import annotations

import importlib
import uuid
from typing import Any

__all__ = ["agno_agent", "agno_available", "agno_db", "agno_prefill"]


def agno_available() -> bool:
    """Whether agno 3.1.10 can be imported here."""
    try:
        agno = importlib.import_module("agno")
    except ImportError:
        return False
    version = getattr(agno, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("agno")
    return bool(version == "3.1.10")


def _instant_model() -> Any:
    from dataclasses import dataclass

    base = importlib.import_module("agno.models.base")
    response_mod = importlib.import_module("agno.models.response")
    model_response = response_mod.ModelResponse

    @dataclass
    class InstantModel(base.Model):  # type: ignore[misc, name-defined]
        """Answers at once, like sessionary's ScriptedModel: only the framework is timed."""

        id: str = "instant"
        name: str = "instant"
        provider: str = "bench"

        def invoke(self, *args: Any, **kwargs: Any) -> Any:
            return model_response(role="assistant", content="ok")

        async def ainvoke(self, *args: Any, **kwargs: Any) -> Any:
            return model_response(role="assistant", content="ok")

        def invoke_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield model_response(role="assistant", content="ok")

        async def ainvoke_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield model_response(role="assistant", content="ok")

        def _parse_provider_response(self, response: Any, **kwargs: Any) -> Any:
            return response

        def _parse_provider_response_delta(self, response: Any) -> Any:
            return response

    return InstantModel()


def agno_db(url: str, prefix: str) -> Any:
    """Agno's RedisDb on the same server, under its own prefix."""
    module = importlib.import_module("agno.db.redis")
    return module.RedisDb(db_url=url, db_prefix=prefix)


def agno_agent(db: Any, *, session_id: str, cache_session: bool = False) -> Any:
    """An Agno agent with the instant model."""
    agent_mod = importlib.import_module("agno.agent")
    return agent_mod.Agent(
        model=_instant_model(),
        db=db,
        session_id=session_id,
        user_id="bench-user",
        cache_session=cache_session,
        telemetry=False,
    )


def agno_prefill(db: Any, session_id: str, runs: int) -> None:
    """Give an Agno session ``runs`` runs: run once, then store copies of that run.

    Agno 3.1.10 keeps each run under its own key with a per-session sorted set of run
    IDs, so the copies go in through its own ``upsert_run``, as its agent would write them.
    """
    import copy

    agent = agno_agent(db, session_id=session_id)
    agent.run("message 0")
    session_type = importlib.import_module("agno.db.base").SessionType
    session = db.get_session(session_id=session_id, session_type=session_type.AGENT)
    template = session.runs[0]
    for index in range(1, runs):
        run = copy.deepcopy(template)
        run.run_id = str(uuid.uuid4())
        db.upsert_run(run, session_id=session_id, user_id="bench-user", run_index=index)
