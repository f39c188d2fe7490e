"""The spec's agent snippets, with ``db="memory://"`` and ScriptedModel for the OpenAI model.

Naming and caching snippets are tested with their features (test_naming*, test_caching*);
the snippets on the real stores and providers are in tests/e2e.
"""

from __future__ import annotations

from sessionary import Agent
from sessionary.testing import ScriptedModel


def test_use_your_own_session_id() -> None:
    agent = Agent(
        model=ScriptedModel("Hello there!"),
        db="memory://",
    )

    # Use your own session ID
    agent.run("Hello", session_id="user_123_session_456")

    session = agent.get_session(session_id="user_123_session_456")
    assert session is not None
    assert session.session_id == "user_123_session_456"


def test_access_messages_and_chat_history() -> None:
    agent = Agent(model=ScriptedModel(), db="memory://", instructions="Be kind.")
    agent.run("Hi", session_id="session_123")

    session = agent.get_session(session_id="session_123")
    assert session is not None
    messages = session.get_messages()
    assert [m.role.value for m in messages] == ["system", "user", "assistant"]

    messages = agent.get_chat_history(session_id="session_123")
    assert [m.content for m in messages] == ["Hi", "echo: Hi"]
