"""Opening MongoDb: URLs, options, the plugin, an Agent on it.

Tests that take ``store`` or ``factory`` run on mongomock, or on the real server when
``SESSIONARY_MONGODB_URL`` is set; those that take ``mock`` or ``mock_factory`` always
use mongomock (they inspect stored documents, count operations or inject faults).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from mongodb_support import url_with_db
from sessionary_mongodb import MongoDb

from sessionary import Agent, open_db
from sessionary.errors import (
    InvalidInputError,
)
from sessionary.plugins.manager import get_plugin_host
from sessionary.testing import ScriptedModel

# --------------------------------------------------------------------------- opening


def test_urls_and_agents_open_mongodb_without_io() -> None:
    store = open_db("mongodb://127.0.0.1:1/app")
    assert isinstance(store, MongoDb) and store.db_name == "app"
    store.close()
    assert get_plugin_host().storage_by_scheme().get("mongodb+srv") is MongoDb
    agent = Agent(model=ScriptedModel(), db="mongodb://127.0.0.1:1/agents")
    assert isinstance(agent.db, MongoDb) and agent.db.db_name == "agents"
    agent.db.close()
    default = MongoDb()
    assert default.db_name == "sessionary"
    default.close()
    srv = open_db("mongodb+srv://user:pw@cluster0.example.invalid/app")
    assert isinstance(srv, MongoDb) and srv.db_name == "app"
    assert srv._client is None  # no client, so no DNS lookup, until the first operation
    srv.close()


def test_a_malformed_url_is_refused_at_once_without_its_password() -> None:
    with pytest.raises(InvalidInputError, match="not a valid MongoDB URL") as caught:
        MongoDb(db_url="mongodb://admin:hunter2@host:notaport/app")
    assert "hunter2" not in str(caught.value)


class _NotAClient:
    """Not a MongoClient; its repr is stable, so the test ID is the same in every worker."""

    def __repr__(self) -> str:
        return "<not a client>"


_NOT_A_CLIENT = _NotAClient()


@pytest.mark.parametrize(
    "options",
    [
        {"db_url": "http://localhost/x"},
        {"db_url": "mongodb://localhost/a.b"},
        {"db_url": "mongodb://localhost", "db_name": "has space"},
        {"db_url": "mongodb://localhost", "db_name": "$where"},
        {"db_url": "mongodb://localhost", "db_name": ""},
        {"db_url": "mongodb://localhost", "db_name": "x" * 64},
        {"db_url": "mongodb://localhost", "client": _NOT_A_CLIENT},
        {"db_url": "mongodb://localhost", "ttl": -1},
        {"db_url": "mongodb://localhost", "ttl": "60"},
        {"db_url": "mongodb://localhost", "max_document_bytes": 10},
    ],
    ids=repr,
)
def test_bad_options_are_refused_clearly(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        MongoDb(**options)


def test_the_plugin_module_does_not_import_pymongo() -> None:
    code = (
        "import sys, sessionary_mongodb.plugin, sessionary_mongodb; "
        "assert 'pymongo' not in sys.modules, 'pymongo imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_url_with_db_keeps_hosts_and_options() -> None:
    assert url_with_db("mongodb://h:1", "d") == "mongodb://h:1/d"
    assert url_with_db("mongodb://h:1/?w=1", "d") == "mongodb://h:1/d?w=1"
    assert url_with_db("mongodb://h:1?w=1", "d") == "mongodb://h:1/d?w=1"


def test_an_agent_keeps_its_conversation_in_mongodb(mock: MongoDb) -> None:
    agent = Agent(model=ScriptedModel(), db=mock)
    for text in ("one", "two", "three"):
        agent.run(text, session_id="chat", user_id="alice")
    history = agent.get_chat_history(session_id="chat", user_id="alice", last_n_runs=2)
    assert [m.content for m in history] == ["two", "echo: two", "three", "echo: three"]
    assert agent.get_session(session_id="chat", user_id="bob") is None
