"""Human in the loop: paused runs read back and continued, in any process.

A run pauses when the model calls a tool that needs a person (see
:mod:`sessionary.agent.engine`); it is stored with status ``paused`` and its
requirements. :func:`continue_paused` finishes it, in this process or any other that
opens the same store:

1. read the run and check it: it exists for this user, belongs to this agent or team,
   is paused, has not expired (an expired one is stored as ``cancelled``);
2. take the caller's answers, replaying each through the requirement's own checks
   (so a forged kind or field is refused), and refuse to go on while one is missing;
3. claim the run: ``paused`` to ``running`` with the store's optimistic version
   check. Exactly one caller wins; the others get :class:`RunAlreadyContinuedError`
   before any tool ran;
4. turn the answers into tool messages (a confirmed tool runs now), let the model
   go on, and write the same run record back as ``completed`` (or ``paused`` again
   on a new requirement, or ``error``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from sessionary.agent.arguments import RESERVED_METADATA, SUSPENDED_CALLS
from sessionary.agent.base import SessionOwner
from sessionary.agent.context import RunContext, with_state
from sessionary.agent.engine import Engine, settle, state_changes_of, store_run
from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import (
    CONFIRMED,
    EXTERNAL_RESULT,
    PAUSE_EXPIRES_AT,
    USER_INPUT,
    Requirement,
    RequirementKind,
    Run,
    RunMetrics,
    RunStatus,
)
from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import (
    ConflictError,
    InvalidInputError,
    RunAlreadyContinuedError,
    RunExpiredError,
    RunNotFoundError,
    RunNotPausedError,
    UnresolvedRequirementError,
)
from sessionary.flow import DbCall, Flow
from sessionary.ids import validate_id

__all__ = [
    "SUSPENDED_CALLS",
    "AnswerFn",
    "RunReference",
    "answer_each",
    "continue_paused",
    "detached",
    "pause_metadata",
    "read_run_output",
    "resolve_answers",
    "split_run_reference",
]

_PAUSE_KEYS = RESERVED_METADATA

#: A paused run named in full: its ID, session, the caller's answers and user.
RunReference = tuple[str, str, Sequence[Requirement] | None, str | None]

#: Turns the answered requirements of a claimed run into tool messages, in order.
AnswerFn = Callable[[Engine, Run, list[Requirement]], Flow[list[Message]]]


def pause_metadata(engine: Engine, expires_after: float | None, now: float) -> dict[str, Any]:
    """What a paused run keeps in its metadata: its expiry and its suspended calls."""
    metadata: dict[str, Any] = {}
    if expires_after is not None:
        metadata[PAUSE_EXPIRES_AT] = now + expires_after
    if engine.suspended:
        metadata[SUSPENDED_CALLS] = [dict(entry) for entry in engine.suspended]
    return metadata


def detached(run: Run) -> Run:
    """``run`` with copies of its requirements, for a caller to answer.

    The objects handed to a store may be kept by it (a session cache keeps hydrated
    sessions); answering a requirement must never change what the store holds.
    """
    if not run.requirements:
        return run
    return attrs.evolve(run, requirements=tuple(attrs.evolve(r) for r in run.requirements))


def read_run_output(session_id: str, run_id: str, user_id: str | None) -> Flow[Run | None]:
    """The stored run (with its requirements), or ``None`` if there is none for that user."""
    rid = validate_id(run_id, "run_id")
    run: Run | None = yield DbCall.of("get_run", session_id, rid, user_id=user_id)
    if run is None or (user_id is not None and run.user_id not in (None, user_id)):
        return None
    return run


def resolve_answers(stored: Run, given: Sequence[Requirement] | None) -> tuple[Requirement, ...]:
    """The run's requirements with the caller's answers, checked; no I/O.

    Answers are matched by requirement ID and replayed through the stored
    requirement's own methods, so only the answer is taken from the caller, never
    the kind, tool call or fields. Requirements answered in earlier rounds keep
    their answers. A requirement still unanswered is an
    :class:`UnresolvedRequirementError` that names it.
    """
    where = f"run {stored.run_id!r} of session {stored.session_id!r}"
    if given is None:
        given = ()
    if isinstance(given, (Requirement, str, bytes)) or not isinstance(given, Sequence):
        raise InvalidInputError(
            f"requirements must be a list of Requirement objects, got {type(given).__name__}"
        )
    answers: dict[str, Requirement] = {}
    for item in given:
        if not isinstance(item, Requirement):
            raise InvalidInputError(
                f"requirements must be Requirement objects from the run output, "
                f"got {type(item).__name__}"
            )
        if item.id in answers and answers[item.id] is not item:
            raise InvalidInputError(f"requirement {item.id!r} is given twice")
        answers[item.id] = item
    known = {r.id for r in stored.requirements}
    unknown = sorted(i for i in answers if i not in known)
    if unknown:
        raise InvalidInputError(f"{where} has no requirement {', '.join(map(repr, unknown))}")
    resolved: list[Requirement] = []
    missing: list[Requirement] = []
    for requirement in stored.requirements:
        if requirement.is_resolved:
            resolved.append(requirement)
            continue
        answer = answers.get(requirement.id)
        if answer is None or not answer.is_resolved:
            missing.append(requirement)
            continue
        resolved.append(_replay(requirement, answer))
    if missing:
        waiting = "; ".join(
            f"requirement {r.id!r} ({r.kind.value} for tool {r.tool_name!r})" for r in missing
        )
        raise UnresolvedRequirementError(
            f"{where} still waits for {waiting}; answer each with confirm(), reject(), "
            f"provide_user_input() or set_external_execution_result() and pass it in "
            f"requirements=[...]"
        )
    return tuple(resolved)


_ANSWER_FOR = {
    RequirementKind.CONFIRMATION: CONFIRMED,
    RequirementKind.USER_INPUT: USER_INPUT,
    RequirementKind.EXTERNAL_EXECUTION: EXTERNAL_RESULT,
}


def _replay(stored: Requirement, answer: Requirement) -> Requirement:
    copy = attrs.evolve(stored)
    if answer.is_rejected:
        return copy.reject(answer.note)
    if answer.resolution != _ANSWER_FOR[copy.kind]:
        raise InvalidInputError(
            f"requirement {copy.id!r} ({copy.kind.value} for tool {copy.tool_name!r}) "
            f"was answered with {answer.resolution!r}, which does not answer a "
            f"{copy.kind.value} requirement"
        )
    if copy.kind is RequirementKind.CONFIRMATION:
        return copy.confirm()
    if copy.kind is RequirementKind.USER_INPUT:
        return copy.provide_user_input(answer.user_input)
    return copy.set_external_execution_result(answer.external_result or "")


def _load_paused(
    session_id: str,
    run_id: str,
    user_id: str | None,
    owner_field: str,
    owner_id: str | None,
    parent_run_id: str | None,
) -> Flow[Run]:
    stored = yield from read_run_output(session_id, run_id, user_id)
    if stored is None:
        raise RunNotFoundError(session_id, run_id, user_id)
    if stored.parent_run_id != parent_run_id:
        raise InvalidInputError(
            f"run {run_id!r} of session {session_id!r} is a member run of team run "
            f"{stored.parent_run_id!r}; continue the team run with team.continue_run"
        )
    # Agents continue runs of agent sessions, teams (and their members) of team sessions.
    wanted = SessionType.TEAM if owner_field == "team_id" or parent_run_id else SessionType.AGENT
    info: SessionInfo | None = yield DbCall.of("get_session_info", session_id, user_id=user_id)
    if info is not None and info.session_type is not wanted:
        how = "team.continue_run" if info.session_type is SessionType.TEAM else "agent.continue_run"
        raise InvalidInputError(
            f"run {run_id!r} is in the {info.session_type.value} session {session_id!r}; "
            f"continue it with {how}"
        )
    made_by = getattr(stored, owner_field)
    if made_by is not None and made_by != owner_id:
        who = owner_field.removesuffix("_id")
        raise InvalidInputError(
            f"run {run_id!r} of session {session_id!r} was made by {who} {made_by!r}, "
            f"not {owner_id!r}; continue it with that {who}"
        )
    if stored.status is not RunStatus.PAUSED:
        if stored.requirements and stored.status is not RunStatus.CANCELLED:
            failed = f" and it failed: {stored.error}" if stored.error else ""
            raise RunAlreadyContinuedError(
                session_id, run_id, stored.status.value, f": it was already continued{failed}"
            )
        detail = f" ({stored.error})" if stored.error else ""
        raise RunNotPausedError(session_id, run_id, stored.status.value, detail)
    return stored


def _replace_paused(stored: Run, new: Run, lost: str) -> Flow[None]:
    """Write ``new`` over the paused run ``stored``; a caller that lost the race learns ``lost``."""
    try:
        yield DbCall.of("update_run", new, expected_version=stored.version)
    except ConflictError as exc:
        raise RunAlreadyContinuedError(
            stored.session_id, stored.run_id, "no longer paused", lost
        ) from exc


def _expire(stored: Run, on_cancel: Callable[[Run], Flow[None]] | None) -> Flow[None]:
    expired_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stored.pause_expires_at))
    reason = f"the pause expired at {expired_at} before the run was continued"
    cancelled = attrs.evolve(
        stored, status=RunStatus.CANCELLED, error=reason, updated_at=time.time()
    )
    yield from _replace_paused(stored, cancelled, ": another caller got it first")
    if on_cancel is not None:
        yield from on_cancel(stored)
    raise RunExpiredError(
        f"run {stored.run_id!r} of session {stored.session_id!r} cannot be continued: "
        f"{reason}; it is now cancelled"
    )


def _claim(stored: Run, requirements: tuple[Requirement, ...]) -> Flow[Run]:
    claimed = attrs.evolve(
        stored, status=RunStatus.RUNNING, requirements=requirements, updated_at=time.time()
    )
    yield from _replace_paused(
        stored, claimed, ": another caller claimed it first, and this call ran nothing"
    )
    return attrs.evolve(claimed, version=stored.version + 1)


def continue_paused(
    run_id: str,
    session_id: str,
    requirements: Sequence[Requirement] | None,
    user_id: str | None,
    *,
    owner_field: str,
    owner_id: str | None,
    engine: Engine,
    history: Callable[[Run], Flow[list[Message]]],
    answer: AnswerFn,
    expires_after: float | None,
    saved: Callable[[Run, SessionInfo], Flow[None]],
    on_cancel: Callable[[Run], Flow[None]] | None = None,
    parent_run_id: str | None = None,
    stream: bool = False,
) -> Flow[Run]:
    """Finish a paused run made by ``owner_id`` (an agent or a team); see the module docs.

    ``history`` gives the earlier runs' messages the model sees, ``answer`` the tool
    messages for the answered requirements, ``saved`` is told about the final write.
    A team member's run is continued only with its team run's ID as ``parent_run_id``.
    With ``stream`` the model's text is yielded as it comes (the flow's deltas).
    """
    validate_id(run_id, "run_id")
    stored = yield from _load_paused(
        session_id, run_id, user_id, owner_field, owner_id, parent_run_id
    )
    expires_at = stored.pause_expires_at
    if expires_at is not None and time.time() >= expires_at:
        yield from _expire(stored, on_cancel)
    answered = resolve_answers(stored, requirements)
    fresh_ids = {r.id for r in stored.active_requirements}
    clock = time.perf_counter()
    claimed = yield from _claim(stored, answered)
    if engine.run_context is not None:  # the state as stored now, the defaults under it
        now_info: SessionInfo | None = yield DbCall.of(
            "get_session_info", session_id, user_id=user_id
        )
        engine.run_context = RunContext.start(
            run_id=run_id,
            session_id=session_id,
            user_id=claimed.user_id,
            stored=None if now_info is None else now_info.state,
            defaults=engine.run_context.session_state,
            given=None,
        )
    fresh = [r for r in claimed.requirements if r.id in fresh_ids]
    produced = list(claimed.messages)
    context = [m for m in produced if m.role is Role.SYSTEM]
    context += yield from history(claimed)
    context += [m for m in produced if m.role is not Role.SYSTEM]

    def steps() -> Flow[str | None]:
        for message in (yield from answer(engine, claimed, fresh)):
            context.append(message)
            produced.append(message)
        if engine.pending:
            return None
        return (yield from engine.loop(context, produced, stream=stream))

    outcome = yield from settle(steps())
    changes, outcome = state_changes_of(engine.run_context, outcome)
    content = outcome.content
    if outcome.failure is not None and engine.partial:
        # Keep what a broken or abandoned stream delivered before it stopped.
        content = "".join(engine.partial)
        produced.append(Message(role=Role.ASSISTANT, content=content, metadata={"partial": True}))
    now = time.time()
    paused = outcome.failure is None and bool(engine.pending)
    metadata = {k: v for k, v in claimed.metadata.items() if k not in _PAUSE_KEYS}
    if paused:
        metadata.update(pause_metadata(engine, expires_after, now))
    final = attrs.evolve(
        claimed,
        status=RunStatus.PAUSED if paused else outcome.status,
        messages=tuple(produced),
        content=content,
        requirements=claimed.requirements + tuple(engine.pending),
        metrics=claimed.metrics + engine.metrics + RunMetrics(duration=time.perf_counter() - clock),
        error=outcome.error,
        updated_at=now,
        metadata=metadata,
        state_changes=claimed.state_changes.then(changes),
    )
    write = DbCall.of("update_run", final, expected_version=claimed.version)
    info = yield from store_run(write, outcome.failure)
    final = attrs.evolve(final, version=claimed.version + 1)
    yield from saved(final, info)
    if outcome.failure is not None:
        raise outcome.failure
    return detached(with_state(final, info))


def split_run_reference(
    owner: SessionOwner,
    run_id: str | Run,
    session_id: str | None,
    requirements: Sequence[Requirement] | None,
    user_id: str | None,
) -> RunReference:
    """``continue_run``'s arguments, resolved: a run output stands for its ID, session
    and requirements; the owner's defaults fill the session and user."""
    if isinstance(run_id, Run):
        session_id = run_id.session_id if session_id is None else session_id
        requirements = run_id.requirements if requirements is None else requirements
        run_id = run_id.run_id
    rid = validate_id(run_id, "run_id")
    return rid, owner._session_for_read(session_id, user_id), requirements, owner._user(user_id)


def answer_each(engine: Engine, run: Run, fresh: list[Requirement]) -> Flow[list[Message]]:
    """The tool messages for the answered requirements, in order (tools run as needed)."""
    messages: list[Message] = []
    for requirement in fresh:
        messages.append((yield from engine.answer(requirement)))
    return messages
