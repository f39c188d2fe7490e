"""Human in the loop on the in-memory store: pausing, answering, continuing, and every refusal."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from sessionary import Agent, Requirement, Run, RunStatus, tool
from sessionary.domain.messages import Role, ToolCall
from sessionary.domain.runs import RequirementKind
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidIdError,
    InvalidInputError,
    ModelServerError,
    RunAlreadyContinuedError,
    RunExpiredError,
    RunNotFoundError,
    RunNotPausedError,
    StoreUnavailableError,
    UnresolvedRequirementError,
)
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb
from sessionary.testing import ScriptedModel, tool_call

# --------------------------------------------------------------------------- tools


class Ledger:
    """Records every call the tools really made: the side effect tests count."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def tools(self) -> list[Any]:
        @tool(requires_confirmation=True)
        def delete_file(path: str) -> str:
            """Delete a file."""
            self.calls.append(("delete_file", {"path": path}))
            return f"deleted {path}"

        @tool(requires_user_input=True, user_input_fields=["to"])
        def send_email(subject: str, to: str) -> str:
            """Send an email."""
            self.calls.append(("send_email", {"subject": subject, "to": to}))
            return f"sent {subject!r} to {to}"

        @tool(external_execution=True)
        def run_shell(command: str) -> str:
            """Run a shell command (outside the agent)."""
            self.calls.append(("run_shell", {"command": command}))
            return "never here"

        def get_time() -> str:
            """The time."""
            self.calls.append(("get_time", {}))
            return "12:00"

        return [delete_file, send_email, run_shell, get_time]


def make_agent(
    db: Store, ledger: Ledger, *replies: Any, agent_id: str = "ops", **options: Any
) -> Agent:
    options.setdefault("user_id", "alice")  # the paused runs are alice's: scoped calls
    return Agent(
        model=ScriptedModel(*replies),
        db=db,
        id=agent_id,
        tools=ledger.tools(),
        instructions="Be careful.",
        **options,
    )


@pytest.fixture
def db() -> MemoryDb:
    return MemoryDb()


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def pause_on_delete(db: Store, ledger: Ledger, **options: Any) -> Run:
    agent = make_agent(db, ledger, tool_call("delete_file", path="/tmp/x"), **options)
    return agent.run("Delete /tmp/x", session_id="s1", user_id="alice")


# --------------------------------------------------------------------------- pausing


def test_a_tool_that_needs_confirmation_pauses_the_run_and_is_stored(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)

    assert run.status is RunStatus.PAUSED and run.is_paused
    assert ledger.calls == []
    [req] = run.active_requirements
    assert req.kind is RequirementKind.CONFIRMATION and req.needs_confirmation
    assert req.tool_name == "delete_file" and req.tool_args == {"path": "/tmp/x"}
    stored = db.get_run("s1", run.run_id)
    assert stored == run
    assert stored is not None and stored.is_paused
    assert [r.id for r in stored.active_requirements] == [req.id]
    assert db.get_session_info("s1").last_run_status is RunStatus.PAUSED  # type: ignore[union-attr]


def test_confirming_runs_the_tool_once_and_updates_the_same_run(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)
    for requirement in run.active_requirements:
        requirement.confirm()
    assert run.active_requirements == []  # the answer is on the object the caller holds
    assert db.get_run("s1", run.run_id).active_requirements  # type: ignore[union-attr]

    agent = make_agent(db, ledger, "Deleted it.")
    done = agent.continue_run(
        run_id=run.run_id, session_id="s1", requirements=run.requirements, user_id="alice"
    )

    assert done.status is RunStatus.COMPLETED and done.content == "Deleted it."
    assert done.run_id == run.run_id
    assert ledger.calls == [("delete_file", {"path": "/tmp/x"})]
    session = agent.get_session(session_id="s1")
    assert session is not None and [r.run_id for r in session.runs] == [run.run_id]
    stored = session.runs[0]
    assert stored == done
    assert stored.version == run.version + 2  # the claim, then the final write
    assert [r.resolution for r in stored.requirements] == ["confirmed"]
    tool_message = next(m for m in stored.messages if m.role is Role.TOOL)
    assert tool_message.content == "deleted /tmp/x"
    assert tool_message.tool_call_id == run.requirements[0].tool_call.id
    assert [m.role for m in stored.messages] == [
        Role.SYSTEM,
        Role.USER,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
    ]
    assert "pause_expires_at" not in stored.metadata


def test_rejecting_tells_the_model_why_and_never_runs_the_tool(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].reject(note="that file is important")
    model = ScriptedModel("OK, I left it alone.")
    agent = Agent(model=model, db=db, id="ops", tools=ledger.tools())

    done = agent.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="alice")

    assert done.status is RunStatus.COMPLETED
    assert ledger.calls == []
    last_request = model.requests[-1].messages
    rejection = last_request[-1]
    assert rejection.role is Role.TOOL
    assert rejection.content is not None and "rejected" in rejection.content
    assert "that file is important" in rejection.content
    assert (
        done.requirements[0].is_rejected and done.requirements[0].note == "that file is important"
    )


def test_user_input_is_passed_to_the_tool(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(db, ledger, tool_call("send_email", subject="Hi"), "Sent.")
    run = agent.run("Mail the team", session_id="s1")
    [req] = run.active_requirements
    assert req.needs_user_input and req.user_input_fields == ("to",)

    req.provide_user_input({"to": "team@example.com"})
    done = agent.continue_run(run.run_id, "s1", requirements=[req])

    assert done.content == "Sent."
    assert ledger.calls == [("send_email", {"subject": "Hi", "to": "team@example.com"})]
    assert done.requirements[0].user_input == {"to": "team@example.com"}


def test_an_external_result_reaches_the_model_and_the_tool_never_runs(
    db: MemoryDb, ledger: Ledger
) -> None:
    model = ScriptedModel(tool_call("run_shell", command="ls"), "You have two files.")
    agent = Agent(model=model, db=db, id="ops", tools=ledger.tools())
    run = agent.run("What files?", session_id="s1")
    [req] = run.active_requirements
    assert req.needs_external_execution

    req.set_external_execution_result("a.txt\nb.txt")
    done = agent.continue_run(run.run_id, "s1", requirements=run.requirements)

    assert done.content == "You have two files."
    assert ledger.calls == []
    assert model.requests[-1].messages[-1].content == "a.txt\nb.txt"
    req2 = Requirement(
        id="x", kind="external_execution", tool_call=ToolCall(id="c", name="run_shell")
    )
    assert req2.set_external_execution_result({"files": 2}).external_result == '{"files": 2}'


def test_other_calls_of_the_same_turn_run_at_once(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(
        db, ledger, [tool_call("get_time"), tool_call("delete_file", path="/a")], "Both done."
    )
    run = agent.run("Time, then delete /a", session_id="s1")
    assert run.is_paused
    assert ledger.calls == [("get_time", {})]

    run.active_requirements[0].confirm()
    done = agent.continue_run(run.run_id, "s1", requirements=run.requirements)

    assert ledger.calls == [("get_time", {}), ("delete_file", {"path": "/a"})]
    tool_ids = {m.tool_call_id for m in done.messages if m.role is Role.TOOL}
    call_ids = {c.id for c in done.messages[2].tool_calls}
    assert tool_ids == call_ids and len(call_ids) == 2


def test_several_rounds_of_pausing_in_one_run(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(
        db,
        ledger,
        tool_call("delete_file", path="/a"),
        tool_call("delete_file", path="/b"),
        "Deleted both.",
    )
    run = agent.run("Delete /a and /b", session_id="s1")
    run.active_requirements[0].confirm()
    second = agent.continue_run(run.run_id, "s1", requirements=run.requirements)

    assert second.is_paused and second.run_id == run.run_id
    assert len(second.requirements) == 2 and len(second.active_requirements) == 1
    assert second.active_requirements[0].tool_args == {"path": "/b"}
    assert ledger.calls == [("delete_file", {"path": "/a"})]

    second.active_requirements[0].confirm()
    done = agent.continue_run(second.run_id, "s1", requirements=second.requirements)

    assert done.status is RunStatus.COMPLETED and done.content == "Deleted both."
    assert [c[1]["path"] for c in ledger.calls] == ["/a", "/b"]
    assert [r.resolution for r in done.requirements] == ["confirmed", "confirmed"]
    assert len(agent.get_session(session_id="s1").runs) == 1  # type: ignore[union-attr]


def test_only_the_new_requirements_need_answers_in_a_later_round(
    db: MemoryDb, ledger: Ledger
) -> None:
    agent = make_agent(
        db, ledger, tool_call("delete_file", path="/a"), tool_call("delete_file", path="/b")
    )
    run = agent.run("Delete", session_id="s1")
    run.active_requirements[0].confirm()
    second = agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    # Pass only the new one, rejected: the first keeps its stored answer.
    new = second.active_requirements
    new[0].reject()
    done = agent.continue_run(second.run_id, "s1", requirements=new)
    assert [r.resolution for r in done.requirements] == ["confirmed", "rejected"]


def test_a_streamed_run_pauses_too(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(db, ledger, tool_call("delete_file", path="/a"))
    items = list(agent.run("Delete", session_id="s1", stream=True))
    final = items[-1]
    assert isinstance(final, Run) and final.is_paused


def test_continue_run_takes_the_run_output_itself(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    done = make_agent(db, ledger, "ok").continue_run(run, user_id="alice")
    assert done.status is RunStatus.COMPLETED and len(ledger.calls) == 1


def test_get_run_output_reads_a_paused_run_back_from_a_fresh_agent(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)
    fresh = make_agent(db, ledger, "Done.")

    stored = fresh.get_run_output(run_id=run.run_id, session_id="s1")
    assert stored is not None and stored.is_paused
    assert [r.id for r in stored.active_requirements] == [r.id for r in run.requirements]
    assert fresh.get_run_output(run_id="missing", session_id="s1") is None
    assert fresh.get_run_output(run_id=run.run_id, session_id="s1", user_id="mallory") is None

    stored.active_requirements[0].confirm()
    done = fresh.continue_run(run_id=run.run_id, session_id="s1", requirements=stored.requirements)
    assert done.status is RunStatus.COMPLETED and ledger.calls


def test_a_member_tool_with_bad_arguments_is_not_put_to_a_person(
    db: MemoryDb, ledger: Ledger
) -> None:
    agent = make_agent(db, ledger, tool_call("delete_file"), "Sorry.")
    run = agent.run("Delete", session_id="s1")
    assert run.status is RunStatus.COMPLETED
    error = next(m for m in run.messages if m.role is Role.TOOL)
    assert error.metadata.get("is_error") and "path" in (error.content or "")


def test_a_model_failure_while_continuing_stores_the_run_as_error(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    agent = make_agent(db, ledger, ModelServerError("boom"))
    with pytest.raises(ModelServerError):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    stored = db.get_run("s1", run.run_id)
    assert stored is not None and stored.status is RunStatus.ERROR
    assert "boom" in (stored.error or "")
    assert ledger.calls == [("delete_file", {"path": "/tmp/x"})]
    with pytest.raises(RunAlreadyContinuedError, match="already continued and it failed.*boom"):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)


def test_pausing_and_continuing_with_a_session_cache(ledger: Ledger) -> None:
    db = MemoryDb()
    cached = make_agent(db, ledger, tool_call("delete_file", path="/a"), cache_session=True)
    run = cached.run("Delete", session_id="s1")
    assert cached.get_session(session_id="s1").runs[0].is_paused  # type: ignore[union-attr]
    run.active_requirements[0].confirm()
    other = make_agent(db, ledger, "Deleted.", cache_session=True)
    done = other.continue_run(run.run_id, "s1", requirements=run.requirements)
    assert done.status is RunStatus.COMPLETED
    # The first agent's cache must not serve the paused run it saw before.
    stored = cached.get_session(session_id="s1").runs[0]  # type: ignore[union-attr]
    assert stored.status is RunStatus.COMPLETED and stored.version == done.version
    with pytest.raises(RunAlreadyContinuedError):
        cached.continue_run(run.run_id, "s1", requirements=run.requirements)
    assert len(ledger.calls) == 1


def test_answering_never_changes_what_a_session_cache_holds(ledger: Ledger) -> None:
    agent = make_agent(
        MemoryDb(),
        ledger,
        tool_call("delete_file", path="/a"),
        tool_call("delete_file", path="/b"),
        cache_session=True,
    )
    run = agent.run("Delete", session_id="s1")
    run.active_requirements[0].confirm()
    cached = agent.get_session(session_id="s1")
    assert cached is not None and cached.runs[0].active_requirements  # still unanswered
    again = agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    again.active_requirements[0].reject()
    cached = agent.get_session(session_id="s1")
    assert cached is not None and len(cached.runs[0].active_requirements) == 1


# --------------------------------------------------------------------------- refusals


def test_continuing_a_run_that_is_not_paused_is_a_clear_error(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(db, ledger, "Hello")
    run = agent.run("Hi", session_id="s1")
    with pytest.raises(RunNotPausedError, match=r"is completed, not paused") as caught:
        agent.continue_run(run.run_id, "s1")
    assert not isinstance(caught.value, ConflictError)
    assert isinstance(caught.value, ValueError)


def test_continuing_twice_is_a_conflict_naming_the_run(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    agent = make_agent(db, ledger, "ok", "again")
    agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    with pytest.raises(RunAlreadyContinuedError, match=run.run_id) as caught:
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    assert isinstance(caught.value, ConflictError) and isinstance(caught.value, RunNotPausedError)
    assert len(ledger.calls) == 1


def test_an_unresolved_requirement_is_named(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(
        db, ledger, [tool_call("delete_file", path="/a"), tool_call("run_shell", command="ls")]
    )
    run = agent.run("Go", session_id="s1")
    first, second = run.requirements
    first.confirm()
    with pytest.raises(UnresolvedRequirementError) as caught:
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    message = str(caught.value)
    assert second.id in message and "run_shell" in message and first.id not in message
    assert db.get_run("s1", run.run_id).is_paused  # type: ignore[union-attr]
    with pytest.raises(UnresolvedRequirementError):
        agent.continue_run(run.run_id, "s1")  # no answers at all
    assert ledger.calls == []


def test_another_users_run_cannot_be_continued(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    agent = make_agent(db, ledger, "ok")
    with pytest.raises(RunNotFoundError, match="mallory"):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements, user_id="mallory")
    assert ledger.calls == []
    assert db.get_run("s1", run.run_id).is_paused  # type: ignore[union-attr]


def test_another_agents_run_cannot_be_continued(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    other = make_agent(db, ledger, "ok", agent_id="someone-else")
    with pytest.raises(InvalidInputError, match="made by agent 'ops'"):
        other.continue_run(run.run_id, "s1", requirements=run.requirements)
    assert ledger.calls == []


def test_unknown_runs_and_bad_ids_are_refused(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(db, ledger)
    with pytest.raises(RunNotFoundError):
        agent.continue_run("nope", "s1")
    for bad in ("", "x" * 257, 42, "a\nb"):
        with pytest.raises(InvalidIdError):
            agent.continue_run(bad, "s1")  # type: ignore[arg-type]
        with pytest.raises(InvalidIdError):
            agent.get_run_output(bad, "s1")  # type: ignore[arg-type]


def test_bad_requirement_lists_are_refused_before_anything_changes(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)
    req = run.requirements[0].confirm()
    agent = make_agent(db, ledger, "ok")
    stranger = Requirement(id="stranger", kind="confirmation", tool_call=ToolCall(id="c", name="x"))
    stranger.confirm()
    cases: list[tuple[Any, str]] = [
        (req, "list of Requirement"),
        ("confirmed", "list of Requirement"),
        ([{"id": req.id}], "Requirement objects"),
        ([req, stranger], "no requirement 'stranger'"),
        ([req, attrs.evolve(req)], "given twice"),
    ]
    for value, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            agent.continue_run(run.run_id, "s1", requirements=value)
    stored = db.get_run("s1", run.run_id)
    assert stored is not None and stored.is_paused and stored.version == run.version
    assert [r.is_resolved for r in stored.requirements] == [False]
    assert ledger.calls == []


def test_a_forged_answer_cannot_change_the_tool_call(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger)
    stored = run.requirements[0]
    forged = Requirement(
        id=stored.id,
        kind="confirmation",
        tool_call=ToolCall(id=stored.tool_call.id, name="delete_file", arguments={"path": "/etc"}),
    ).confirm()
    make_agent(db, ledger, "ok").continue_run(run.run_id, "s1", requirements=[forged])
    assert ledger.calls == [("delete_file", {"path": "/tmp/x"})]


def test_an_answer_of_another_kind_is_refused(db: MemoryDb, ledger: Ledger) -> None:
    agent = make_agent(db, ledger, tool_call("run_shell", command="rm -rf /"))
    run = agent.run("Clean up", session_id="s1")
    stored = run.requirements[0]
    forged = Requirement(id=stored.id, kind="confirmation", tool_call=stored.tool_call).confirm()
    with pytest.raises(InvalidInputError, match=r"answered with 'confirmed'.*external_execution"):
        agent.continue_run(run.run_id, "s1", requirements=[forged])
    assert db.get_run("s1", run.run_id).is_paused  # type: ignore[union-attr]


def test_answers_are_checked_when_given(ledger: Ledger) -> None:
    call = ToolCall(id="c1", name="send_email", arguments={"subject": "Hi"})
    user_input = Requirement(id="r1", kind="user_input", tool_call=call, user_input_fields=["to"])
    confirmation = Requirement(id="r2", kind="confirmation", tool_call=call)
    external = Requirement(id="r3", kind="external_execution", tool_call=call)

    with pytest.raises(InvalidInputError, match=r"r1.*confirm\(\) answers a confirmation"):
        user_input.confirm()
    with pytest.raises(InvalidInputError, match="provide_user_input"):
        confirmation.provide_user_input({"to": "x"})
    with pytest.raises(InvalidInputError, match="set_external_execution_result"):
        confirmation.set_external_execution_result("x")
    with pytest.raises(InvalidInputError, match="missing user input field"):
        user_input.provide_user_input({})
    with pytest.raises(InvalidInputError, match="unknown user input field"):
        user_input.provide_user_input({"to": "x", "cc": "y"})
    with pytest.raises(InvalidInputError, match="mapping"):
        user_input.provide_user_input(["to"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="JSON"):
        user_input.provide_user_input({"to": object()})
    with pytest.raises(InvalidInputError, match="JSON"):
        external.set_external_execution_result(object())
    with pytest.raises(InvalidInputError, match="note"):
        confirmation.reject(note=42)  # type: ignore[arg-type]
    assert not any(r.is_resolved for r in (user_input, confirmation, external))
    with pytest.raises(attrs.exceptions.FrozenAttributeError):
        confirmation.resolution = "confirmed"
    assert external.reject("no").is_rejected  # any kind can be rejected


def test_a_paused_run_can_expire_and_is_then_cancelled(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger, pause_expires_after=timedelta(minutes=5))
    assert run.pause_expires_at is not None
    assert run.pause_expires_at == pytest.approx(run.created_at + 300)
    # Five minutes pass: the stored expiry is now in the past.
    past = attrs.evolve(run, metadata={**run.metadata, "pause_expires_at": run.created_at - 1})
    db.update_run(past, expected_version=run.version)
    run.active_requirements[0].confirm()
    agent = make_agent(db, ledger, "ok", pause_expires_after=300)

    with pytest.raises(RunExpiredError, match="expired"):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    stored = db.get_run("s1", run.run_id)
    assert stored is not None and stored.status is RunStatus.CANCELLED
    assert "expired" in (stored.error or "")
    assert ledger.calls == []
    with pytest.raises(RunNotPausedError, match="cancelled.*expired"):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)


def test_a_run_within_its_expiry_continues(db: MemoryDb, ledger: Ledger) -> None:
    run = pause_on_delete(db, ledger, pause_expires_after=3600)
    run.active_requirements[0].confirm()
    done = make_agent(db, ledger, "ok").continue_run(
        run.run_id, "s1", requirements=run.requirements
    )
    assert done.status is RunStatus.COMPLETED


@pytest.mark.parametrize("bad", [0, -1, "soon", True, timedelta(0)])
def test_pause_expires_after_is_checked(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="pause_expires_after"):
        Agent(model=ScriptedModel(), pause_expires_after=bad)


# --------------------------------------------------------------------------- broken stores


class FailingDb(MemoryDb):
    """Fails the ``fail_on``-th run update (1 = the claim, 2 = the final write)."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.updates = 0

    def _update_run(self, run: Run, expected_version: int) -> Any:
        self.updates += 1
        if self.updates == self.fail_on:
            raise StoreUnavailableError("memory://broken went away")
        return super()._update_run(run, expected_version)


def test_a_store_failing_at_the_claim_runs_nothing_and_keeps_the_run_paused(
    ledger: Ledger,
) -> None:
    db = FailingDb(fail_on=1)
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    with pytest.raises(StoreUnavailableError, match="went away"):
        make_agent(db, ledger, "ok").continue_run(run.run_id, "s1", requirements=run.requirements)
    assert ledger.calls == []
    assert db.get_run("s1", run.run_id).is_paused  # type: ignore[union-attr]
    done = make_agent(db, ledger, "ok").continue_run(
        run.run_id, "s1", requirements=run.requirements
    )
    assert done.status is RunStatus.COMPLETED and len(ledger.calls) == 1


def test_a_store_failing_at_the_final_write_is_never_silent(ledger: Ledger) -> None:
    db = FailingDb(fail_on=2)
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    with pytest.raises(StoreUnavailableError, match="went away"):
        make_agent(db, ledger, "ok").continue_run(run.run_id, "s1", requirements=run.requirements)
    stored = db.get_run("s1", run.run_id)
    # The claim stands: no one else can run the tool a second time.
    assert stored is not None and stored.status is RunStatus.RUNNING
    with pytest.raises(RunAlreadyContinuedError, match="is running"):
        make_agent(db, ledger, "ok").continue_run(run.run_id, "s1", requirements=run.requirements)
    assert len(ledger.calls) == 1


def test_a_continued_run_whose_final_write_failed_is_saved_later(ledger: Ledger) -> None:
    db = FailingDb(fail_on=2)
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    agent = make_agent(db, ledger, "ok")
    with pytest.raises(StoreUnavailableError) as caught:
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    lost = caught.value.run
    assert isinstance(lost, Run) and lost.status is RunStatus.COMPLETED and lost.content == "ok"
    info = agent.save_run(lost)
    assert agent.save_run(lost) == info  # saved once: the second save changes nothing
    stored = db.get_run("s1", run.run_id)
    assert stored == attrs.evolve(lost, version=lost.version + 1)
    assert info.run_count == 1 and len(ledger.calls) == 1


def test_a_corrupt_paused_run_names_its_session_and_changes_nothing(
    db: MemoryDb, ledger: Ledger
) -> None:
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    db._runs["s1"][0] = db._runs["s1"][0].replace('"kind":"confirmation"', '"kind":"psychic"')
    agent = make_agent(db, ledger, "ok")
    with pytest.raises(CorruptRecordError, match="'s1'.*psychic"):
        agent.continue_run(run.run_id, "s1", requirements=run.requirements)
    with pytest.raises(CorruptRecordError):
        agent.get_run_output(run.run_id, "s1")
    assert ledger.calls == []


# --------------------------------------------------------------------------- races


class BarrierDb(MemoryDb):
    """Holds every reader of a run until two have read it: both see it paused."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=10)
        self.armed = False

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        run = super()._get_run(session_id, run_id, user_id)
        if self.armed:
            self.barrier.wait()
        return run


def test_two_threads_continuing_at_once_have_one_winner(ledger: Ledger) -> None:
    db = BarrierDb()
    run = pause_on_delete(db, ledger)
    run.active_requirements[0].confirm()
    db.armed = True
    outcomes: list[Run | BaseException] = []

    def worker() -> None:
        agent = make_agent(db, ledger, "Done.")
        try:
            outcomes.append(agent.continue_run(run.run_id, "s1", requirements=run.requirements))
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    wins = [o for o in outcomes if isinstance(o, Run)]
    losses = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(wins) == 1 and wins[0].status is RunStatus.COMPLETED
    assert len(losses) == 1 and isinstance(losses[0], RunAlreadyContinuedError)
    assert "claimed it first" in str(losses[0])
    assert ledger.calls == [("delete_file", {"path": "/tmp/x"})]
    db.armed = False
    assert db.get_run("s1", run.run_id) == wins[0]
