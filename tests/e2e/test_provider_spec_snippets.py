"""The spec's snippets with the real providers: OpenAIResponses and Claude, on their SDKs.

Each model is pointed by ``base_url`` at a local server that answers in the provider's
wire format, and the store is the spec's ``SqliteDb`` in ``tmp_path``. Apart from
``base_url`` and ``api_key`` the snippets are the spec's, with our imports.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sessionary_anthropic import Claude
from sessionary_openai import OpenAIResponses
from sessionary_sqlite import SqliteDb

from sessionary import Agent, Model
from sessionary.agent.team import Team
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply, RecordedRequest

Reply = str | tuple[str, dict[str, Any]]  # text, or (tool name, arguments)


class ProviderServer:
    """Answers /v1/responses (OpenAI) and /v1/messages (Anthropic) from one script."""

    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._count = 0
        self.http = FakeHTTPServer(self._respond)

    def _respond(self, request: RecordedRequest) -> HTTPReply:
        with self._lock:
            body = request.json()
            self.bodies.append(body)
            self._count += 1
            n = self._count
            reply = self.script.popleft() if self.script else "echo"
        if request.path == "/v1/responses":
            return HTTPReply(json=_openai(n, body["model"], reply))
        return HTTPReply(json=_anthropic(n, body["model"], reply))


def _openai(n: int, model: str, reply: Reply) -> dict[str, Any]:
    if isinstance(reply, str):
        output: dict[str, Any] = {
            "type": "message",
            "id": f"msg_{n}",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": reply, "annotations": []}],
        }
    else:
        output = {
            "type": "function_call",
            "id": f"fc_{n}",
            "call_id": f"call_{n}",
            "name": reply[0],
            "arguments": json.dumps(reply[1]),
            "status": "completed",
        }
    return {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": model,
        "output": [output],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 5,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 8,
        },
    }


def _anthropic(n: int, model: str, reply: Reply) -> dict[str, Any]:
    if isinstance(reply, str):
        block: dict[str, Any] = {"type": "text", "text": reply}
    else:
        block = {"type": "tool_use", "id": f"toolu_{n}", "name": reply[0], "input": reply[1]}
    return {
        "id": f"msg_{n}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [block],
        "stop_reason": "end_turn" if isinstance(reply, str) else "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 5, "output_tokens": 3},
    }


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    fake = ProviderServer()
    with fake.http:
        yield fake


@pytest.fixture(params=["openai", "anthropic"])
def make_model(request: pytest.FixtureRequest, server: ProviderServer) -> Any:
    """The spec's model, pointed at the local server."""

    def make() -> Model:
        if request.param == "openai":
            return OpenAIResponses(
                id="gpt-5.2", base_url=server.http.url + "/v1", api_key="sk-test"
            )
        return Claude(id="claude-sonnet-4-6", base_url=server.http.url, api_key="sk-ant-test")

    return make


def test_session_ids(make_model: Any, server: ProviderServer, tmp_path: Path) -> None:
    server.script.extend(["Hello! How can I help?"])
    agent = Agent(
        model=make_model(),
        db=SqliteDb(db_file=str(tmp_path / "agent.db")),
    )

    # Use your own session ID
    agent.run("Hello", session_id="user_123_session_456")

    reopened = Agent(model=make_model(), db=SqliteDb(db_file=str(tmp_path / "agent.db")))
    session = reopened.get_session(session_id="user_123_session_456")
    assert session is not None
    assert [m.content for m in session.get_messages()] == ["Hello", "Hello! How can I help?"]
    assert session.runs[0].messages[-1].metadata["response_id"] in ("resp_1", "msg_1")


def test_team_session_ids(make_model: Any, server: ProviderServer, tmp_path: Path) -> None:
    server.script.extend(
        [
            ("delegate_task_to_member", {"member_id": "Writer", "task": "Greet the user"}),
            "Hi from the writer.",
            "The writer says hi.",
        ]
    )
    writer = Agent(name="Writer", model=make_model())
    team = Team(
        model=make_model(),
        members=[writer],
        db=SqliteDb(db_file=str(tmp_path / "team.db")),
    )

    # Use your own session ID
    team.run("Hello", session_id="user_123_session_789")

    session = team.get_session(session_id="user_123_session_789")
    assert session is not None
    assert [m.content for m in session.get_chat_history()] == ["Hello", "The writer says hi."]
    assert len(server.bodies) == 3


def test_messages_chat_history_and_naming(
    make_model: Any, server: ProviderServer, tmp_path: Path
) -> None:
    server.script.extend(
        [
            "Let us plan the API.",
            "Sure, endpoints first.",
            "Launch in May.",
            "E-commerce API Planning",
        ]
    )
    agent = Agent(model=make_model(), db=SqliteDb(db_file=str(tmp_path / "agent.db")))
    agent.run("Help me plan an e-commerce API", session_id="session_123")
    agent.run("Start with the endpoints", session_id="session_123")

    session = agent.get_session(session_id="session_123")
    assert session is not None
    messages = session.get_messages()
    assert len(messages) == 4

    messages = agent.get_chat_history(session_id="session_123")
    assert [m.role.value for m in messages] == ["user", "assistant", "user", "assistant"]

    agent.run("When do we launch?", session_id="session_001")
    agent.set_session_name(session_id="session_001", session_name="Product Launch Planning")
    name = agent.get_session_name(session_id="session_001")
    assert name == "Product Launch Planning"

    session = agent.set_session_name(
        session_id="session_123",
        autogenerate=True,
    )
    # Access the generated name
    name = agent.get_session_name(session_id="session_123")
    assert name == "E-commerce API Planning"
    assert session.name == name


def test_session_caching(make_model: Any, server: ProviderServer) -> None:
    server.script.extend(["One.", "Two."])
    agent = Agent(
        model=make_model(),
        session_id="my_session",
        cache_session=True,  # Enable in-memory caching
    )

    # First run loads from database and caches
    agent.run("First message")

    # Subsequent runs use cached session (faster)
    agent.run("Second message")

    session = agent.get_session()
    assert session is not None
    assert [m.content for m in session.get_chat_history()] == [
        "First message",
        "One.",
        "Second message",
        "Two.",
    ]
