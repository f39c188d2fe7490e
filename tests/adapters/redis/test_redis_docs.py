"""The code on docs/storage/redis.md runs as shown, against the test server and prefix."""

from __future__ import annotations

import re
from pathlib import Path

import redis
from redis_support import delete_prefix

PAGE = Path(__file__).resolve().parents[3] / "docs" / "storage" / "redis.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHOWN_URL = "redis://127.0.0.1:6379/0"


def test_the_redis_page_code_runs(redis_url: str, prefix: str) -> None:
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": "docs_storage_redis"}
    for block in blocks:
        # The page shows the default server and the prefix "myapp"; the test runs the
        # same code on SESSIONARY_REDIS_URL under a prefix of its own.
        code = block.replace(SHOWN_URL, redis_url.split("?")[0]).replace("myapp", prefix)
        assert code.count(prefix) == block.count("myapp")
        exec(compile(code, str(PAGE), "exec"), namespace)
    client = redis.Redis.from_url(redis_url)
    try:
        written = list(client.scan_iter(match=f"{prefix}:*"))
        assert written  # the snippets really stored their session under the prefix
        delete_prefix(client, prefix)
    finally:
        client.close()


def test_every_failure_named_on_the_page_is_a_real_message() -> None:
    text = PAGE.read_text()
    for fragment in ("StoreUnavailableError", "CorruptRecordError", "SchemaVersionError"):
        assert fragment in text
    source = Path(__file__).resolve().parents[3] / "adapters" / "redis" / "src"
    connection = (source / "sessionary_redis" / "connection.py").read_text()
    assert "is unreachable" in connection and "could not {what}{tries}" in connection
