"""Agno: cookbook/agents/session/04_session_summary_references.py.

Imports and model changed; the database is a SQLite file instead of Agno's local
PostgreSQL.
"""

from cookbook_config import model
from sessionary_sqlite import SqliteDb

from sessionary import Agent

db = SqliteDb(db_file="tmp/agents.db")

agent = Agent(
    model=model,
    db=db,
    session_id="session_summary",
    enable_session_summaries=True,
)

# This will create a new session summary
agent.print_response(
    "My name is John Doe and I like to hike in the mountains on weekends.",
)

# You can use existing session summaries from session storage
# without creating or updating any new ones.
agent = Agent(
    model=model,
    db=db,
    session_id="session_summary",
    add_session_summary_to_context=True,
)

agent.print_response("I also like to play basketball.")
