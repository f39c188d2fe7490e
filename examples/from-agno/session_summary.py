"""Agno: cookbook/agents/session/03_session_summary.py.

Imports and model changed; the database is a SQLite file instead of Agno's local
PostgreSQL (``PostgresDb(db_url=...)`` from ``sessionary_postgres`` works the same).
"""

from cookbook_config import model
from sessionary_sqlite import SqliteDb

from sessionary import Agent, SessionSummaryManager  # noqa: F401

db = SqliteDb(db_file="tmp/agents.db")

# Method 1: Set enable_session_summaries to True

agent = Agent(
    model=model,
    db=db,
    enable_session_summaries=True,
    session_id="session_123",
)

agent.print_response("Hi my name is John and I live in New York")
agent.print_response("I like to play basketball and hike in the mountains")

print(agent.get_session_summary(session_id="session_123"))

# Method 2: Set session_summary_manager

# session_summary_manager = SessionSummaryManager(model=model)

# agent = Agent(
#     model=model,
#     db=db,
#     session_id="session_summary",
#     session_summary_manager=session_summary_manager,
# )
