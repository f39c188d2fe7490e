"""The code on docs/storage/postgres.md runs as shown, on a database of the test's own."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg

PAGE = Path(__file__).resolve().parents[3] / "docs" / "storage" / "postgres.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHOWN = "postgres@127.0.0.1:5432/postgres"


def test_the_postgres_page_code_runs(database_url: str) -> None:
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) >= 5
    # The page shows the default server's "postgres" database; the test runs the same
    # code on a database of its own on SESSIONARY_POSTGRES_URL's server.
    target = database_url.split("://", 1)[1]
    namespace: dict[str, object] = {"__name__": "docs_storage_postgres"}
    for block in blocks:
        code = block.replace(SHOWN, target)
        assert code.count(target) == block.count(SHOWN)
        exec(compile(code, str(PAGE), "exec"), namespace)
    with psycopg.connect(database_url) as conn:
        stored = conn.execute("SELECT session_id FROM sessionary_sessions").fetchall()
    assert ("user_123_session_456",) in stored  # the snippets really wrote there


def test_every_failure_named_on_the_page_is_a_real_message() -> None:
    text = PAGE.read_text()
    for fragment in ("StoreUnavailableError", "CorruptRecordError", "SchemaVersionError"):
        assert fragment in text
    source = Path(__file__).resolve().parents[3] / "adapters" / "postgres" / "src"
    connection = (source / "sessionary_postgres" / "connection.py").read_text()
    assert "the PostgreSQL server at {server} is unavailable" in connection
