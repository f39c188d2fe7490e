"""``Team``: a model that leads member agents, in sessions that persist.

The team's model delegates through one tool, ``delegate_task_to_member(member_id,
task)``, as Agno's teams do, so scripted tests and prompts carry over. ``member_id``
is a member's ``id`` or its ``name`` (also matched case-insensitively, with spaces
and hyphens alike). Each delegation is a member run, stored in the team's session
with ``parent_run_id`` set to the team run and ``team_id`` to the team, before the
team run itself. A member whose tool needs a person pauses its run, and with it
the team run; :meth:`Team.continue_run` resumes both, in any process.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from sessionary.agent.agent import Agent
from sessionary.agent.agno_options import refuse_unknown_options
from sessionary.agent.base import open_store
from sessionary.agent.context import RunContext, replayed, system_message
from sessionary.agent.engine import (
    Engine,
    PauseRun,
    settle,
    store_run,
    tool_message,
    tools_by_name,
)
from sessionary.agent.hitl import (
    SUSPENDED_CALLS,
    RunReference,
    answer_each,
    continue_paused,
    pause_metadata,
)
from sessionary.agent.running import RunningOwner, Start
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Requirement, Run, RunMetrics, RunStatus
from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import ConflictError, InvalidInputError
from sessionary.flow import DbCall, Flow, run_sync
from sessionary.ids import new_id
from sessionary.models.base import Model
from sessionary.resolve import resolve_model
from sessionary.storage.base import Store
from sessionary.tools import Tool, tool

__all__ = ["DELEGATE_TOOL", "Team"]

#: The name of the tool the team's model delegates with (Agno's name).
DELEGATE_TOOL = "delegate_task_to_member"

_LEADER = (
    "You lead a team. Give a member a task with the tool {tool}(member_id, task); the "
    "member's answer comes back as the tool result. Answer the user yourself once you "
    "have what you need. The members:"
)


@attrs.define
class _Scope:
    """The team run a delegation belongs to."""

    run_id: str
    session_id: str
    user_id: str | None
    #: The team run's context: its members' tools change the same session state.
    run_context: RunContext | None = None


def _key(text: str) -> str:
    return re.sub(r"[\s_-]+", "-", text.strip().casefold())


def _check_members(members: Sequence[Agent]) -> list[Agent]:
    given: object = members  # checked: callers without a type checker pass anything
    if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
        raise InvalidInputError(f"members must be a list of agents, got {type(given).__name__}")
    seen: dict[str, Agent] = {}
    for index, member in enumerate(members):
        if not isinstance(member, Agent):
            raise InvalidInputError(
                f"member {index} must be an Agent, got {type(member).__name__}"
                " (teams of teams are not supported)"
            )
        if member.id is None:
            raise InvalidInputError(
                f"member {index} has no id or name; give it one so the team's model can "
                f"delegate to it"
            )
        if member.model is None:
            raise InvalidInputError(f"member {member.id!r} has no model")
        key = _key(member.id)
        if key in seen:
            raise InvalidInputError(f"two members are called {member.id!r}")
        seen[key] = member
    return list(members)


@attrs.define(eq=False, slots=False)
class Team(RunningOwner):
    """A team of agents led by a model, whose runs are kept in sessions.

    ``Team(model, members, db, *, ...)``: ``members`` are :class:`~sessionary.Agent`
    objects, each with an ``id`` or a ``name``. Member runs go to the team's store
    (``db``), not the members' own. The keyword arguments (IDs, ``instructions``,
    history, caching and naming) are an agent's: see
    :class:`~sessionary.agent.base.SessionOwner`. ``get_session``, ``get_chat_history``
    (the user-facing conversation: the team's own runs), ``set_session_name`` and
    ``get_session_name`` work as an agent's do.

    ``team.run`` stores the member runs, then the team run. If a member's tool needs a
    person, the team run is stored ``paused`` with that member's requirements (see
    :meth:`continue_run`). With ``stream=True`` the team model's text streams; members
    answer whole, as the results of its delegations. ``team.arun`` is the same on the
    event loop, its members running with ``arun``'s store, model and tools.

    >>> from sessionary import Agent
    >>> from sessionary.testing import ScriptedModel, tool_call
    >>> writer = Agent(name="Writer", model=ScriptedModel("A haiku."))
    >>> team = Team(
    ...     model=ScriptedModel(tool_call("delegate_task_to_member", member_id="Writer",
    ...                                   task="Write a haiku"), "Here it is: A haiku."),
    ...     members=[writer],
    ...     db="memory://",
    ... )
    >>> team.run("A poem, please", session_id="s1").content
    'Here it is: A haiku.'
    >>> [run.agent_id for run in team.get_session(session_id="s1").runs]
    ['Writer', None]
    """

    session_type: ClassVar[SessionType] = SessionType.TEAM

    model: Model | None = attrs.field(default=None, converter=resolve_model)
    members: list[Agent] = attrs.field(default=(), converter=_check_members)
    db: Store = attrs.field(default=None, converter=open_store)

    # ------------------------------------------------------------------ members

    def get_member(self, member_id: object) -> Agent | None:
        """The member with that ``id`` or ``name`` (exact first, then loosely), or ``None``."""
        if not isinstance(member_id, str):
            return None
        for member in self.members:
            if member_id in (member.id, member.name):
                return member
        wanted = _key(member_id)
        for member in self.members:
            if wanted in {_key(n) for n in (member.id, member.name) if n}:
                return member
        return None

    def _state_tools(self) -> list[Tool]:
        return [t for member in self.members for t in member.tools]

    def _system_message(self, run_context: RunContext | None = None) -> Message:
        own = system_message(
            self.instructions,
            run_context,
            resolve=self._resolves(run_context),
            add_state=self.add_session_state_to_context,
            extra=None if run_context is None else run_context.summary_text,
            markdown=self.markdown,
        )
        lines = [own.content or "", ""] if own is not None else []
        lines.append(_LEADER.format(tool=DELEGATE_TOOL))
        for member in self.members:
            label = f"- member_id {member.id!r}"
            if member.name and member.name != member.id:
                label += f" (name {member.name!r})"
            if member.instructions:
                label += ": " + " ".join(member.instructions.split())[:300]
            lines.append(label)
        return Message(role=Role.SYSTEM, content="\n".join(lines))

    def _delegate_tool(self, scope: _Scope) -> Tool:
        def delegate_task_to_member(member_id: str, task: str) -> str:
            """Give one member of the team a task and get the member's answer back.

            Args:
                member_id: The member's id (or name), from the list of members.
                task: What the member should do, with everything it needs to know.
            """
            return run_sync(self._delegate(scope, member_id, task), self.db)

        def delegate_flow(arguments: Mapping[str, Any]) -> Flow[str]:
            missing = [name for name in ("member_id", "task") if name not in arguments]
            if missing:
                raise InvalidInputError(f"missing required argument(s): {', '.join(missing)}")
            return self._delegate(scope, arguments["member_id"], arguments["task"])

        made: Tool = attrs.evolve(tool(delegate_task_to_member), flow=delegate_flow)
        return made

    def _delegate(self, scope: _Scope, member_id: str, task: str) -> Flow[str]:
        if not isinstance(member_id, str) or not isinstance(task, str):
            raise InvalidInputError("member_id and task must be strings")
        member = self.get_member(member_id)
        if member is None:
            known = ", ".join(repr(m.id) for m in self.members)
            raise InvalidInputError(f"there is no member {member_id!r}; the members are {known}")
        run = yield from self._run_member(member, task, scope)
        if run.is_paused:
            details = {"member_id": member.id, "member_run_id": run.run_id}
            raise PauseRun(run.active_requirements, details)
        return run.content or ""

    def _run_member(self, member: Agent, task: str, scope: _Scope) -> Flow[Run]:
        assert member.model is not None
        started = time.time()
        clock = time.perf_counter()
        produced: list[Message] = []
        if member.instructions:
            produced.append(Message(role=Role.SYSTEM, content=member.instructions))
        produced.append(Message(role=Role.USER, content=task))
        context = list(produced)
        engine = Engine(member.model, tools_by_name(member.tools), member.max_steps)
        engine.run_context = scope.run_context
        outcome = yield from settle(engine.loop(context, produced, stream=False))
        paused = outcome.failure is None and bool(engine.pending)
        run = Run(
            run_id=new_id(),
            session_id=scope.session_id,
            user_id=scope.user_id,
            agent_id=member.id,
            team_id=self.id,
            parent_run_id=scope.run_id,
            status=RunStatus.PAUSED if paused else outcome.status,
            input=task,
            messages=tuple(produced),
            content=outcome.content,
            requirements=tuple(engine.pending),
            metrics=engine.metrics + RunMetrics(duration=time.perf_counter() - clock),
            error=outcome.error,
            created_at=started,
            updated_at=time.time(),
            metadata=pause_metadata(engine, None, started) if paused else {},
        )
        write = DbCall.of("append_run", run, session_type=SessionType.TEAM)
        info = yield from store_run(write, outcome.failure)
        yield from self._member_saved(run, info)
        if outcome.failure is not None:
            raise outcome.failure
        return run

    def _member_saved(self, run: Run, info: SessionInfo) -> Flow[None]:
        # Only the event: naming looks at the team's own runs, not its members'.
        self.events.sessionary_run_saved(run=run, session=info)
        yield from ()

    # ------------------------------------------------------------------ running

    def _begin(
        self, run_id: str, input: str, sid: str, uid: str | None, run_context: RunContext | None
    ) -> Flow[Start]:
        assert self.model is not None
        scope = _Scope(run_id=run_id, session_id=sid, user_id=uid, run_context=run_context)
        history = yield from self._history(sid, uid, None)
        system = self._system_message(run_context)
        user_message = Message(role=Role.USER, content=input)
        engine = Engine(self.model, {DELEGATE_TOOL: self._delegate_tool(scope)}, self.max_steps)
        return engine, [system, *history, user_message], [system, user_message]

    def _history(
        self, session_id: str, user_id: str | None, skip: str | None
    ) -> Flow[list[Message]]:
        """The user-facing messages of the last ``num_history_runs`` completed team runs."""
        if not self.add_history_to_context or not self.num_history_runs:
            return []
        wanted = self.num_history_runs
        fetch = wanted * (len(self.members) + 1)
        while True:
            runs: list[Run] = yield DbCall.of("get_runs", session_id, user_id=user_id, last_n=fetch)
            own = [
                r
                for r in runs
                if r.parent_run_id is None and r.status is RunStatus.COMPLETED and r.run_id != skip
            ]
            if len(own) >= wanted or len(runs) < fetch:
                break
            fetch *= 2
        return [m for r in own[-wanted:] for m in replayed(r.messages)]

    # ------------------------------------------------------------------ human in the loop

    def _continue(self, reference: RunReference, stream: bool = False) -> Flow[Run]:
        assert self.model is not None
        rid, sid, _, uid = reference
        scope = _Scope(run_id=rid, session_id=sid, user_id=uid)
        engine = Engine(self.model, {DELEGATE_TOOL: self._delegate_tool(scope)}, self.max_steps)
        if self._needs_context(None):
            engine.run_context = RunContext(
                run_id=rid, session_id=sid, session_state=self.session_state or {}
            )

        def history(run: Run) -> Flow[list[Message]]:
            return self._history(run.session_id, run.user_id, run.run_id)

        def answer(engine: Engine, run: Run, fresh: list[Requirement]) -> Flow[list[Message]]:
            scope.user_id = run.user_id
            return self._answer(engine, run, fresh, scope)

        return (
            yield from continue_paused(
                *reference,
                owner_field="team_id",
                owner_id=self.id,
                engine=engine,
                history=history,
                answer=answer,
                expires_after=self.pause_expires_after,
                saved=self._saved,
                stream=stream,
                on_cancel=self._cancel_members,
            )
        )

    def _answer(
        self, engine: Engine, run: Run, fresh: list[Requirement], scope: _Scope
    ) -> Flow[list[Message]]:
        answers = {r.id: r for r in run.requirements}
        handled: set[str] = set()
        messages: list[Message] = []
        for entry in _suspended(run):
            ids = list(entry["requirement_ids"])
            handled.update(ids)
            call = ToolCall(id=entry["call_id"], name=entry["name"])
            try:
                member_run = yield from self._continue_member(
                    entry, [answers[i] for i in ids], scope
                )
            except Exception as exc:
                messages.append(tool_message(call, f"Error: {type(exc).__name__}: {exc}", True))
                continue
            if member_run.is_paused:
                again = member_run.active_requirements
                engine.pending.extend(again)
                engine.suspended.append({**entry, "requirement_ids": [r.id for r in again]})
            else:
                messages.append(tool_message(call, member_run.content or ""))
        for requirement in fresh:
            if requirement.id not in handled:
                messages.append((yield from engine.answer(requirement)))
        return messages

    def _continue_member(
        self, entry: dict[str, Any], answers: list[Requirement], scope: _Scope
    ) -> Flow[Run]:
        member = self.get_member(entry["member_id"])
        if member is None:
            raise InvalidInputError(f"this team has no member {entry['member_id']!r} any more")
        assert member.model is not None
        engine = Engine(member.model, tools_by_name(member.tools), member.max_steps)
        if self._needs_context(None):
            engine.run_context = RunContext(
                run_id=entry["member_run_id"],
                session_id=scope.session_id,
                session_state=self.session_state or {},
            )
        return (
            yield from continue_paused(
                entry["member_run_id"],
                scope.session_id,
                answers,
                scope.user_id,
                owner_field="agent_id",
                owner_id=member.id,
                engine=engine,
                history=_no_history,
                answer=answer_each,
                expires_after=None,
                saved=self._member_saved,
                parent_run_id=scope.run_id,
            )
        )

    def _cancel_members(self, team_run: Run) -> Flow[None]:
        """Cancel the paused member runs of an expired team run (best effort)."""
        for entry in _suspended(team_run):
            member_run: Run | None = yield DbCall.of(
                "get_run", team_run.session_id, entry["member_run_id"]
            )
            if member_run is None or not member_run.is_paused:
                continue
            cancelled = attrs.evolve(
                member_run,
                status=RunStatus.CANCELLED,
                error=f"the team run {team_run.run_id!r} expired while paused",
                updated_at=time.time(),
            )
            try:
                yield DbCall.of("update_run", cancelled, expected_version=member_run.version)
            except ConflictError:
                continue


def _no_history(run: Run) -> Flow[list[Message]]:
    yield from ()
    return []


def _suspended(run: Run) -> list[dict[str, Any]]:
    entries = run.metadata.get(SUSPENDED_CALLS, [])
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict)]


def _init_options(cls: type) -> frozenset[str]:
    return frozenset(a.alias for a in attrs.fields(cls) if a.init)


# An Agno option (or a typo) is refused naming it and what to use instead.
Team.__init__ = refuse_unknown_options(Team.__init__, _init_options(Team), "Team")  # type: ignore[method-assign]
