"""The Agno side of ``bench_hitl.py``: an instant model that calls a confirmation tool.

Agno is imported only here, and only when the benchmark runs in an environment that has
it (``uv run --with agno==3.1.10 --with 'sqlalchemy[asyncio]'``); no package of the
project depends on it. The instant model answers a user message with one call of
``write_line(text="hello")`` and a tool result with ``"Done."``, exactly as the
``ScriptedModel`` of the Sessionary side does.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["available", "make_cycle", "version"]


def available() -> bool:
    """Whether Agno (and SQLAlchemy with asyncio) can be imported here."""
    try:
        importlib.import_module("agno.db.sqlite")
    except ImportError:
        return False
    return True


def version() -> str:
    """Agno's installed version."""
    from importlib.metadata import version as dist_version

    return dist_version("agno")


def _instant_model_class() -> Any:
    base = importlib.import_module("agno.models.base").Model
    response_cls = importlib.import_module("agno.models.response").ModelResponse

    def answer(messages: list[Any]) -> Any:
        if messages[-1].role == "user":
            call = {
                "id": "call_1",
                "type": "function",
                "function": {"name": "write_line", "arguments": json.dumps({"text": "hello"})},
            }
            return response_cls(role="assistant", tool_calls=[call])
        return response_cls(role="assistant", content="Done.")

    def invoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        return answer(kwargs["messages"])

    async def ainvoke(self: Any, *args: Any, **kwargs: Any) -> Any:
        return answer(kwargs["messages"])

    def invoke_stream(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        yield answer(kwargs["messages"])

    async def ainvoke_stream(self: Any, *args: Any, **kwargs: Any) -> Any:
        yield answer(kwargs["messages"])

    def passthrough(self: Any, response: Any, **kwargs: Any) -> Any:
        return response

    namespace = {
        "__annotations__": {"id": str, "name": str, "provider": str},
        "id": "instant",
        "name": "InstantModel",
        "provider": "bench",
        "invoke": invoke,
        "ainvoke": ainvoke,
        "invoke_stream": invoke_stream,
        "ainvoke_stream": ainvoke_stream,
        "_parse_provider_response": passthrough,
        "_parse_provider_response_delta": passthrough,
    }
    return dataclass(type("InstantModel", (base,), namespace))


def make_cycle(db_file: str, lines: list[str]) -> Callable[[str], Any]:
    """A function that pauses a run in a session, confirms it, and continues it there.

    The continuing agent is a second ``Agent`` on a second ``SqliteDb`` of the same
    file, as another process would have.
    """
    agent_cls = importlib.import_module("agno.agent").Agent
    sqlite_db = importlib.import_module("agno.db.sqlite").SqliteDb
    tool = importlib.import_module("agno.tools").tool
    model_cls = _instant_model_class()

    def write_line_function(text: str) -> str:
        """Append a line."""
        lines.append(text)
        return f"wrote {text}"

    write_line = tool(name="write_line", requires_confirmation=True)(write_line_function)

    pausing = agent_cls(
        model=model_cls(), db=sqlite_db(db_file=db_file), tools=[write_line], telemetry=False
    )
    continuing = agent_cls(
        model=model_cls(), db=sqlite_db(db_file=db_file), tools=[write_line], telemetry=False
    )

    def cycle(session_id: str) -> Any:
        run = pausing.run("Write hello", session_id=session_id)
        assert run.is_paused
        for requirement in run.active_requirements:
            requirement.confirm()
        done = continuing.continue_run(
            run_id=run.run_id, requirements=run.requirements, session_id=session_id
        )
        assert done.content == "Done.", done.content
        return done

    return cycle
