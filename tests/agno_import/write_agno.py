"""Run the real Agno against a fake OpenAI server and write its SqliteDb or PostgresDb.

Usage: python write_agno.py DB OUT_JSON, where DB is a file (Agno's SqliteDb) or a
``postgresql://`` URL (Agno's PostgresDb, tables in its default schema ``ai``). Prints
nothing; OUT_JSON gets what Agno itself reports for every session (user, name, and each
run's messages), the ground truth.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from agno.agent import Agent
from agno.db.base import SessionType
from agno.db.sqlite import SqliteDb
from agno.models.openai import OpenAIChat
from agno.team import Team
from fake_openai import FakeOpenAI  # type: ignore[import-not-found]


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


def message_view(message: Any) -> dict[str, Any]:
    calls = [
        {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])}
        for c in (message.tool_calls or [])
    ]
    return {"role": message.role, "content": message.content, "tool_calls": calls}


def open_agno_db(where: str) -> Any:
    if where.startswith("postgresql://"):
        from agno.db.postgres import PostgresDb

        return PostgresDb(db_url="postgresql+psycopg://" + where.split("://", 1)[1])
    return SqliteDb(db_file=where)


def main(where: str, out: str) -> None:
    db = open_agno_db(where)
    replies: list[Any] = [
        {"name": "get_weather", "arguments": {"city": "Paris"}},
        "It is sunny in Paris.",
        "Bonjour, Ada!",
        "Another answer for Bob.",
        "The team says hello.",
    ]
    with FakeOpenAI(replies) as fake:
        model = OpenAIChat(id="gpt-4o", base_url=fake.base_url, api_key="sk-test")
        agent = Agent(
            model=model,
            db=db,
            tools=[get_weather],
            instructions="Be brief.",
            id="weather-agent",
            add_history_to_context=True,
        )
        agent.run("Weather in Paris?", session_id="s1", user_id="alice")
        agent.run("Say hello to Ada in French", session_id="s1", user_id="alice")
        agent.set_session_name(session_id="s1", session_name="Paris weather")
        agent.run("Hi, I am Bob", session_id="s2", user_id="bob")
        team = Team(model=model, members=[agent], db=db, id="crew")
        team.run("Greet the user", session_id="t1", user_id="alice")
    truth = {}
    for session_id, kind in (
        ("s1", SessionType.AGENT),
        ("s2", SessionType.AGENT),
        ("t1", SessionType.TEAM),
    ):
        session: Any = db.get_session(session_id=session_id, session_type=kind)
        runs = [
            [message_view(m) for m in (run.messages or []) if not getattr(m, "from_history", False)]
            for run in session.runs or []
        ]
        truth[session_id] = {
            "user_id": session.user_id,
            "type": kind.value,
            "name": (session.session_data or {}).get("session_name"),
            "run_ids": [run.run_id for run in session.runs or []],
            "runs": runs,
        }
    Path(out).write_text(json.dumps(truth))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
