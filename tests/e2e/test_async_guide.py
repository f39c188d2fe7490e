"""The async guide runs as shown: its first example, and its FastAPI service under load."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "async.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def _fastapi_example() -> str:
    text = GUIDE.read_text()
    marker = text.index("<!-- fastapi-example -->")
    found = BLOCK.search(text, marker)
    assert found is not None, "the FastAPI example block follows its marker"
    return found.group(1)


def test_the_first_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, Any] = {"__name__": "async_guide"}
    exec(compile(_blocks()[0], "async.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "ContentDelta(text='echo: Tell me more')" in printed
    assert "Run(" in printed


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"__name__": "fastapi_example"}
    exec(compile(_fastapi_example(), "async.md (FastAPI example)", "exec"), namespace)
    return namespace["app"]


def test_the_fastapi_example_serves_concurrent_sessions(app: Any, tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def chat(user: str, session: str, turns: int) -> list[str]:
                answers = []
                for turn in range(turns):
                    reply = await client.post(
                        f"/users/{user}/sessions/{session}/runs",
                        json={"text": f"{session} turn {turn}"},
                    )
                    assert reply.status_code == 200, reply.text
                    answers.append(reply.json()["content"])
                return answers

            results = await asyncio.gather(*(chat(f"user{i % 3}", f"s{i}", 3) for i in range(12)))
            for index, answers in enumerate(results):
                assert answers == [f"echo: s{index} turn {t}" for t in range(3)]

            history = await client.get("/users/user1/sessions/s1/history")
            assert [m["content"] for m in history.json()] == [
                x for t in range(3) for x in (f"s1 turn {t}", f"echo: s1 turn {t}")
            ]
            # Another user's session is not visible through the API.
            assert (await client.get("/users/user2/sessions/s1/history")).json() == []

            streamed = await client.post(
                "/users/user1/sessions/s1/stream", json={"text": "and a streamed one"}
            )
            assert streamed.status_code == 200
            assert streamed.text == "echo: and a streamed one"

            named = await client.post("/users/user1/sessions/s1/name")
            assert named.status_code == 200 and named.json()["name"]

            too_long = "x" * 300
            bad = await client.post(f"/users/user1/sessions/{too_long}/runs", json={"text": "hi"})
            assert bad.status_code == 400 and "session_id" in bad.json()["error"]
            missing = await client.post("/users/user1/sessions/nobody/name")
            assert missing.status_code == 404

    asyncio.run(scenario())
    # Everything went to the SQLite file the example names, where the sync API reads it.
    from sessionary_sqlite import SqliteDb

    with SqliteDb(db_file=str(tmp_path / "tmp" / "chat.db")) as db:
        runs = db.get_runs("s1", user_id="user1")
    assert [r.input for r in runs][-1] == "and a streamed one"
    assert len(runs) == 4
