"""Paused runs and teams across real processes, on SQLite files and the Redis server.

Every scenario runs separate Python processes against one store: one pauses a run
(an agent's, or a team's whose member needs a confirmation), others read it back
and continue it. The race starts two (or four) processes that
continue the same run at once; exactly one wins, the others get a conflict, and the
confirmed tool's side effect (a line appended to a file) happens exactly once.

Redis: ``SESSIONARY_REDIS_URL`` (``redis://127.0.0.1:6379/0`` by default); each test
writes under a prefix of its own and deletes exactly those keys afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sessionary import Agent, RunStatus, Team, TeamSession, open_db
from sessionary.domain.messages import Role
from sessionary.testing import ScriptedModel, tool_call

pytestmark = pytest.mark.slow

REDIS_URL = os.environ.get("SESSIONARY_REDIS_URL", "redis://127.0.0.1:6379/0")

#: The program every process runs: one JSON command in argv[1], one JSON result on stdout.
WORKER = textwrap.dedent(
    '''
    import json
    import sys
    import time
    from pathlib import Path

    from sessionary import Agent, Team, tool
    from sessionary.errors import ConflictError, SessionaryError
    from sessionary.testing import ScriptedModel, tool_call


    def script(replies):
        return ScriptedModel(
            *[r if isinstance(r, str) else tool_call(r["tool"], **r["args"]) for r in replies]
        )


    def hold_next_read(db, barrier, name, parties):
        """Once armed, let every racer read the paused run before any of them may claim it."""
        original = db._get_run
        state = {"armed": False}

        def get_run(session_id, run_id, user_id):
            run = original(session_id, run_id, user_id)
            if state["armed"]:
                state["armed"] = False
                (Path(barrier) / name).write_text("ready")
                deadline = time.monotonic() + 60
                while len(list(Path(barrier).iterdir())) < parties:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the other racers never arrived")
                    time.sleep(0.005)
            return run

        db._get_run = get_run
        return lambda: state.update(armed=True)


    def open_store(url):
        """The store class itself: open_db would import every installed backend first."""
        if url.startswith("sqlite:"):
            from sessionary_sqlite import SqliteDb

            return SqliteDb(db_url=url)
        from sessionary_redis import RedisDb

        return RedisDb(url)


    def main():
        cmd = json.loads(sys.argv[1])
        db = open_store(cmd["db"])
        effects = Path(cmd["effects"])

        @tool(requires_confirmation=True)
        def write_line(text: str) -> str:
            """Append a line to the effects file."""
            with effects.open("a") as handle:
                handle.write(text + "\\n")
            return f"wrote {text}"

        @tool(requires_user_input=True, user_input_fields=["label"])
        def label_line(text: str, label: str) -> str:
            """Append a labelled line; a person gives the label."""
            with effects.open("a") as handle:
                handle.write(f"{label}: {text}\\n")
            return f"labelled {text}"

        @tool(external_execution=True)
        def remote_line(text: str) -> str:
            """Append a line on another machine (never here)."""
            raise RuntimeError("external tools do not run in the agent")

        tools = [write_line, label_line, remote_line]
        arm = lambda: None
        if cmd.get("barrier"):
            arm = hold_next_read(db, cmd["barrier"], cmd["name"], cmd["parties"])
        if cmd["kind"] == "agent":
            owner = Agent(
                model=script(cmd["replies"]), db=db, id="writer-agent", tools=tools
            )
        else:
            member = Agent(name="Scribe", model=script(cmd["member_replies"]), tools=[write_line])
            owner = Team(model=script(cmd["replies"]), members=[member], db=db, id="desk")
        try:
            if cmd["action"] == "run":
                out = owner.run(cmd["input"], session_id=cmd["session_id"], user_id="u1")
            elif cmd["action"] == "read":
                out = owner.get_run_output(
                    run_id=cmd["run_id"], session_id=cmd["session_id"], user_id="u1"
                )
            else:
                stored = owner.get_run_output(
                    run_id=cmd["run_id"], session_id=cmd["session_id"], user_id="u1"
                )
                answer = cmd.get("answer", "confirm")
                for requirement in stored.active_requirements:
                    if answer == "confirm":
                        requirement.confirm()
                    elif "reject" in answer:
                        requirement.reject(answer["reject"])
                    elif "input" in answer:
                        requirement.provide_user_input(answer["input"])
                    else:
                        requirement.set_external_execution_result(answer["external"])
                arm()  # the read continue_run makes is the one the racers line up on
                out = owner.continue_run(
                    run_id=cmd["run_id"],
                    session_id=cmd["session_id"],
                    requirements=stored.requirements,
                    user_id=cmd.get("user_id", "u1"),
                )
        except SessionaryError as exc:
            print(json.dumps({
                "error": type(exc).__name__,
                "conflict": isinstance(exc, ConflictError),
                "message": str(exc),
            }))
            return
        print(json.dumps({
            "run_id": out.run_id,
            "status": out.status.value,
            "content": out.content,
            "version": out.version,
            "active": [
                {"id": r.id, "tool": r.tool_name, "args": r.tool_args}
                for r in out.active_requirements
            ],
        }))


    main()
    '''
)


@pytest.fixture(params=["sqlite", "redis"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store every process can open: a SQLite file, or a prefix of our own on Redis."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hitl.db'}"
        return
    import redis
    from sessionary_redis.keys import KeyLayout

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:  # a missing server fails loudly: nothing passes vacuously
        pytest.fail(f"the Redis server at {REDIS_URL} is unreachable ({exc})")
    prefix = f"sessionary-hitl-test-{uuid.uuid4().hex[:12]}"
    yield f"{REDIS_URL}{'&' if '?' in REDIS_URL else '?'}prefix={prefix}"
    keys = list(client.scan_iter(match=KeyLayout(prefix).pattern(), count=1000))
    if keys:
        client.delete(*keys)
    client.close()


class Processes:
    """Starts worker processes on one store and reads their JSON answers."""

    def __init__(self, tmp_path: Path, db_url: str) -> None:
        self.script = tmp_path / "hitl_worker.py"
        self.script.write_text(WORKER)
        self.effects = tmp_path / "effects.txt"
        self.tmp_path = tmp_path
        self.db_url = db_url

    def command(self, **cmd: Any) -> list[str]:
        cmd = {"db": self.db_url, "effects": str(self.effects), "kind": "agent", **cmd}
        return [sys.executable, str(self.script), json.dumps(cmd)]

    def run(self, **cmd: Any) -> dict[str, Any]:
        done = subprocess.run(
            self.command(**cmd), capture_output=True, text=True, timeout=120, check=False
        )
        return self._answer(done.returncode, done.stdout, done.stderr)

    def race(self, parties: int, **cmd: Any) -> list[dict[str, Any]]:
        barrier = self.tmp_path / f"barrier-{uuid.uuid4().hex[:6]}"
        barrier.mkdir()
        procs = [
            subprocess.Popen(
                self.command(barrier=str(barrier), name=f"racer-{i}", parties=parties, **cmd),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(parties)
        ]
        answers = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            answers.append(self._answer(proc.returncode, out, err))
        return answers

    @staticmethod
    def _answer(code: int, out: str, err: str) -> dict[str, Any]:
        assert code == 0, f"worker failed ({code}):\n{err}"
        answer: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return answer

    def lines(self) -> list[str]:
        return self.effects.read_text().splitlines() if self.effects.exists() else []


@pytest.fixture
def procs(tmp_path: Path, db_url: str) -> Processes:
    return Processes(tmp_path, db_url)


PAUSE = [{"tool": "write_line", "args": {"text": "hello"}}]


def test_a_run_paused_in_one_process_is_finished_in_another(procs: Processes) -> None:
    paused = procs.run(action="run", input="Write hello", session_id="s1", replies=PAUSE)
    assert paused["status"] == "paused"
    assert [(r["tool"], r["args"]) for r in paused["active"]] == [("write_line", {"text": "hello"})]
    assert procs.lines() == []

    read = procs.run(action="read", run_id=paused["run_id"], session_id="s1", replies=[])
    assert read["status"] == "paused" and read["active"] == paused["active"]

    done = procs.run(
        action="continue", run_id=paused["run_id"], session_id="s1", replies=["I wrote it."]
    )
    assert done == {
        "run_id": paused["run_id"],
        "status": "completed",
        "content": "I wrote it.",
        "version": paused["version"] + 2,
        "active": [],
    }
    assert procs.lines() == ["hello"]

    with open_db(procs.db_url) as db:
        [stored] = db.get_runs("s1")
        assert stored.run_id == paused["run_id"] and stored.status is RunStatus.COMPLETED
        assert [r.resolution for r in stored.requirements] == ["confirmed"]
        assert db.get_session_info("s1").run_count == 1  # type: ignore[union-attr]

    again = procs.run(
        action="continue", run_id=paused["run_id"], session_id="s1", replies=["again"]
    )
    assert again["error"] == "RunAlreadyContinuedError" and again["conflict"]
    assert procs.lines() == ["hello"]


def test_several_rounds_across_processes(procs: Processes) -> None:
    first = procs.run(action="run", input="Write two", session_id="s1", replies=PAUSE)
    second = procs.run(
        action="continue",
        run_id=first["run_id"],
        session_id="s1",
        replies=[{"tool": "write_line", "args": {"text": "world"}}],
    )
    assert second["status"] == "paused" and second["run_id"] == first["run_id"]
    assert [r["args"] for r in second["active"]] == [{"text": "world"}]
    done = procs.run(action="continue", run_id=first["run_id"], session_id="s1", replies=["ok"])
    assert done["status"] == "completed"
    assert procs.lines() == ["hello", "world"]


def test_another_user_cannot_continue_it_from_another_process(procs: Processes) -> None:
    paused = procs.run(action="run", input="Write", session_id="s1", replies=PAUSE)
    stolen = procs.run(
        action="continue",
        run_id=paused["run_id"],
        session_id="s1",
        user_id="mallory",
        replies=["no"],
    )
    assert stolen["error"] == "RunNotFoundError" and "mallory" in stolen["message"]
    assert procs.lines() == []


def test_two_processes_continuing_at_once_have_exactly_one_winner(procs: Processes) -> None:
    paused = procs.run(action="run", input="Write once", session_id="s1", replies=PAUSE)

    answers = procs.race(
        2, action="continue", run_id=paused["run_id"], session_id="s1", replies=["Done."]
    )

    wins = [a for a in answers if a.get("status") == "completed"]
    losses = [a for a in answers if "error" in a]
    assert len(wins) == 1 and len(losses) == 1, answers
    assert losses[0]["error"] == "RunAlreadyContinuedError" and losses[0]["conflict"]
    assert "claimed it first" in losses[0]["message"]
    assert procs.lines() == ["hello"]  # the confirmed tool ran exactly once
    with open_db(procs.db_url) as db:
        [stored] = db.get_runs("s1")
        assert stored.status is RunStatus.COMPLETED and stored.version == wins[0]["version"]


def test_four_processes_racing_without_a_barrier_still_have_one_winner(
    procs: Processes, tmp_path: Path
) -> None:
    paused = procs.run(action="run", input="Write once", session_id="s1", replies=PAUSE)
    cmd = procs.command(action="continue", run_id=paused["run_id"], session_id="s1", replies=["ok"])
    running = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    answers = []
    for proc in running:
        out, err = proc.communicate(timeout=120)
        answers.append(Processes._answer(proc.returncode, out, err))
    assert sum(a.get("status") == "completed" for a in answers) == 1, answers
    assert all(a["conflict"] for a in answers if "error" in a), answers
    assert procs.lines() == ["hello"]


@pytest.mark.parametrize(
    ("call", "answer", "lines"),
    [
        ({"tool": "write_line", "args": {"text": "hi"}}, {"reject": "not today"}, []),
        (
            {"tool": "label_line", "args": {"text": "hi"}},
            {"input": {"label": "urgent"}},
            ["urgent: hi"],
        ),
        ({"tool": "remote_line", "args": {"text": "hi"}}, {"external": "appended remotely"}, []),
    ],
    ids=["reject", "user-input", "external"],
)
def test_every_kind_of_answer_from_another_process(
    procs: Processes, call: dict[str, Any], answer: dict[str, Any], lines: list[str]
) -> None:
    paused = procs.run(action="run", input="Write", session_id="s1", replies=[call])
    assert paused["status"] == "paused"
    done = procs.run(
        action="continue", run_id=paused["run_id"], session_id="s1", answer=answer, replies=["ok"]
    )
    assert done["status"] == "completed" and procs.lines() == lines
    with open_db(procs.db_url) as db:
        [stored] = db.get_runs("s1")
        [requirement] = stored.requirements
        result = next(m for m in stored.messages if m.role is Role.TOOL).content or ""
    if "reject" in answer:
        assert requirement.is_rejected and "not today" in result
    elif "input" in answer:
        assert requirement.user_input == {"label": "urgent"} and result == "labelled hi"
    else:
        assert requirement.external_result == result == "appended remotely"


# --------------------------------------------------------------------------- teams

DELEGATE = {"tool": "delegate_task_to_member", "args": {"member_id": "Scribe", "task": "Write hi"}}
MEMBER_PAUSE = [{"tool": "write_line", "args": {"text": "hi"}}]


def team_cmd(**cmd: Any) -> dict[str, Any]:
    return {"kind": "team", "session_id": "t1", **cmd}


def test_the_spec_team_snippets_on_a_real_store(db_url: str) -> None:
    with open_db(db_url) as db:
        member = Agent(name="Greeter", model=ScriptedModel("Hi from the greeter."))
        team = Team(
            model=ScriptedModel(
                tool_call("delegate_task_to_member", member_id="Greeter", task="Greet"),
                "Hello! The greeter says hi.",
            ),
            members=[member],
            db=db,
            id="front-desk",
        )

        # Use your own session ID
        team.run("Hello", session_id="user_123_session_789")

        session = team.get_session(session_id="user_123_session_789")
        assert isinstance(session, TeamSession)
        messages = session.get_messages()
        assert "Hi from the greeter." in [m.content for m in messages]
        history = team.get_chat_history(session_id="user_123_session_789")
        assert [(m.role, m.content) for m in history] == [
            (Role.USER, "Hello"),
            (Role.ASSISTANT, "Hello! The greeter says hi."),
        ]
        team.set_session_name(
            session_id="user_123_session_789", session_name="Product Launch Planning"
        )
        name = team.get_session_name(session_id="user_123_session_789")
        assert name == "Product Launch Planning"
        member_run, team_run = session.runs
        assert member_run.parent_run_id == team_run.run_id
        assert member_run.team_id == team_run.team_id == "front-desk"
        page = db.list_sessions(team_id="front-desk")
        assert [i.session_id for i in page.items] == ["user_123_session_789"]


def test_a_team_paused_in_one_process_is_finished_in_another(procs: Processes) -> None:
    paused = procs.run(
        **team_cmd(action="run", input="Say hi", replies=[DELEGATE], member_replies=MEMBER_PAUSE)
    )
    assert paused["status"] == "paused"
    assert [(r["tool"], r["args"]) for r in paused["active"]] == [("write_line", {"text": "hi"})]
    assert procs.lines() == []

    done = procs.run(
        **team_cmd(
            action="continue",
            run_id=paused["run_id"],
            replies=["The scribe wrote hi."],
            member_replies=["Wrote hi."],
        )
    )

    assert done["status"] == "completed" and done["content"] == "The scribe wrote hi."
    assert done["run_id"] == paused["run_id"]
    assert procs.lines() == ["hi"]
    with open_db(procs.db_url) as db:
        member_run, team_run = db.get_runs("t1")
        assert team_run.run_id == paused["run_id"] and team_run.status is RunStatus.COMPLETED
        assert member_run.parent_run_id == team_run.run_id
        assert member_run.status is RunStatus.COMPLETED and member_run.content == "Wrote hi."
        delegation = next(m for m in team_run.messages if m.role is Role.TOOL)
        assert delegation.content == "Wrote hi."
        team = Team(
            model=ScriptedModel(),
            members=[Agent(name="Scribe", model=ScriptedModel())],
            db=db,
            id="desk",
        )
        assert [m.content for m in team.get_chat_history(session_id="t1")] == [
            "Say hi",
            "The scribe wrote hi.",
        ]


def test_two_processes_continuing_a_team_run_have_one_winner(procs: Processes) -> None:
    paused = procs.run(
        **team_cmd(action="run", input="Say hi", replies=[DELEGATE], member_replies=MEMBER_PAUSE)
    )

    answers = procs.race(
        2,
        **team_cmd(
            action="continue", run_id=paused["run_id"], replies=["Done."], member_replies=["ok"]
        ),
    )

    wins = [a for a in answers if a.get("status") == "completed"]
    losses = [a for a in answers if "error" in a]
    assert len(wins) == 1 and len(losses) == 1, answers
    assert losses[0]["error"] == "RunAlreadyContinuedError" and losses[0]["conflict"]
    assert procs.lines() == ["hi"]
    with open_db(procs.db_url) as db:
        assert [r.status for r in db.get_runs("t1")] == [RunStatus.COMPLETED] * 2
