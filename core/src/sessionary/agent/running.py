"""What agents and teams share when they run: the stored run, read back and continued."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from typing import Any, Literal, overload

import attrs

from sessionary.agent.arguments import stream_async
from sessionary.agent.base import SessionOwner
from sessionary.agent.context import RunContext, with_state
from sessionary.agent.engine import Engine, settle, state_changes_of, store_run
from sessionary.agent.hitl import (
    RunReference,
    detached,
    pause_metadata,
    read_run_output,
    split_run_reference,
)
from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Requirement, Run, RunMetrics, RunStatus
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import (
    ConflictError,
    InvalidInputError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.flow import DbCall, Flow, iter_sync, run_async, run_sync, steps_sync
from sessionary.ids import new_id
from sessionary.models.base import ContentDelta
from sessionary.storage.checks import check_value

__all__ = ["RunningOwner"]

#: What a run starts from: the engine, the model's context and the messages the run keeps.
Start = tuple[Engine, list[Message], list[Message]]


@attrs.define(eq=False, slots=False)
class RunningOwner(SessionOwner):
    """A session owner with a model loop: :class:`~sessionary.Agent` and :class:`~sessionary.Team`.

    A subclass says how a run starts (:meth:`_begin`) and how a paused one goes on
    (:meth:`_continue`); storing the run, its failures and its pauses are common.
    """

    def _begin(
        self,
        run_id: str,
        input: str,
        session_id: str,
        user_id: str | None,
        run_context: RunContext | None,
    ) -> Flow[Start]:
        """The engine, the context before the model's first call, and the kept messages."""
        raise NotImplementedError

    def _continue(self, reference: RunReference, stream: bool = False) -> Flow[Run]:
        """``continue_run``'s flow, for the run its arguments name (checked)."""
        raise NotImplementedError

    def _continuing(
        self,
        run_id: str | Run,
        session_id: str | None,
        requirements: Sequence[Requirement] | None,
        user_id: str | None,
        stream: bool = False,
    ) -> Flow[Run]:
        if self.model is None:
            kind = type(self).__name__
            raise InvalidInputError(f"this {kind.lower()} has no model; pass model=... to {kind}()")
        if not isinstance(stream, bool):
            raise InvalidInputError("stream must be a bool")
        check_value(requirements, "requirements")  # answers reach the model and the store
        reference = split_run_reference(self, run_id, session_id, requirements, user_id)
        return self._continue_owned(reference, stream)

    def _continue_owned(self, reference: RunReference, stream: bool) -> Flow[Run]:
        rid, sid, _, user = reference
        if (yield from self._owned_elsewhere(sid, user)):
            raise RunNotFoundError(sid, rid, user)
        return (yield from self._continue(reference, stream))

    def _execute(
        self,
        input: str,
        session_id: str,
        user_id: str | None,
        *,
        stream: bool,
        metadata: dict[str, Any],
        state: Mapping[str, Any] | None = None,
    ) -> Flow[Run]:
        started = time.time()
        clock = time.perf_counter()
        run_id = new_id()
        if (yield from self._owned_elsewhere(session_id, user_id)):
            raise SessionNotFoundError(session_id, user_id)
        existed = True
        if metadata:  # the session's metadata is set by the run that starts it
            before: SessionInfo | None = yield DbCall.of(
                "get_session_info", session_id, user_id=user_id
            )
            existed = before is not None
        run_context = yield from self._start_context(run_id, session_id, user_id, state)
        engine, context, produced = yield from self._begin(
            run_id, input, session_id, user_id, run_context
        )
        engine.run_context = run_context
        outcome = yield from settle(engine.loop(context, produced, stream=stream))
        changes, outcome = state_changes_of(run_context, outcome)
        content = outcome.content
        if outcome.failure is not None and engine.partial:
            # Keep what a broken or abandoned stream delivered before it stopped.
            content = "".join(engine.partial)
            partial = Message(role=Role.ASSISTANT, content=content, metadata={"partial": True})
            produced.append(partial)
        paused = outcome.failure is None and bool(engine.pending)
        run = Run(
            run_id=run_id,
            session_id=session_id,
            user_id=user_id,
            **self._owner_filter(),
            status=RunStatus.PAUSED if paused else outcome.status,
            requirements=tuple(engine.pending),
            metadata={
                **metadata,
                **(pause_metadata(engine, self.pause_expires_after, started) if paused else {}),
            },
            input=input,
            messages=tuple(produced),
            content=content,
            metrics=engine.metrics + RunMetrics(duration=time.perf_counter() - clock),
            error=outcome.error,
            created_at=started,
            updated_at=time.time(),
            state_changes=changes,
        )
        write = DbCall.of("append_run", run, session_type=self.session_type)
        info = yield from store_run(write, outcome.failure)
        if not existed:
            info = yield from _set_new_session_metadata(info, metadata)
        yield from self._saved(run, info)
        if outcome.failure is not None:
            raise outcome.failure
        return detached(with_state(run, info))

    # ------------------------------------------------------------------ saving a lost run

    def save_run(self, run: Run) -> SessionInfo:
        """Store a run whose final write failed (``exc.run`` of the storage error).

        Idempotent by run ID: a run already stored as it is (the failed write was applied
        after all) is left alone, so retrying never stores a duplicate. A continued run
        replaces the claimed one it finishes. Returns the session's summary.
        """
        return run_sync(self._save(run), self.db)

    async def asave_run(self, run: Run) -> SessionInfo:
        """:meth:`save_run` for the event loop."""
        return await run_async(self._save(run), self.adb)

    def _save(self, run: Run) -> Flow[SessionInfo]:
        try:
            info: SessionInfo = yield DbCall.of("append_run", run, session_type=self.session_type)
            return info
        except ConflictError:
            # Already stored: a continued run's claimed record, or this very run.
            where = (run.session_id, run.run_id)
            stored = yield DbCall.of("get_run", *where, user_id=run.user_id)
            if stored is None:
                raise
            if stored == attrs.evolve(run, version=run.version + 1):
                now: SessionInfo | None = yield DbCall.of(
                    "get_session_info", run.session_id, user_id=run.user_id
                )
                if now is not None:
                    return now
            elif stored.version == run.version and stored.status is RunStatus.RUNNING:
                info = yield DbCall.of("update_run", run, expected_version=run.version)
                return info
            raise

    # ------------------------------------------------------------------ human in the loop

    def get_run_output(
        self, run_id: str, session_id: str | None = None, *, user_id: str | None = None
    ) -> Run | None:
        """A stored run (a paused one with its requirements), from any process; else ``None``.

        A team's session holds its member runs too: their IDs work here as well.
        """
        sid = self._session_for_read(session_id, user_id)
        return run_sync(read_run_output(sid, run_id, self._user(user_id)), self.db)

    async def aget_run_output(
        self, run_id: str, session_id: str | None = None, *, user_id: str | None = None
    ) -> Run | None:
        """:meth:`get_run_output` for the event loop."""
        sid = self._session_for_read(session_id, user_id)
        return await run_async(read_run_output(sid, run_id, self._user(user_id)), self.adb)

    @overload
    def continue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
        stream: Literal[False] = False,
    ) -> Run: ...

    @overload
    def continue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
        stream: Literal[True],
    ) -> Iterator[ContentDelta | Run]: ...

    def continue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
        stream: bool = False,
    ) -> Run | Iterator[ContentDelta | Run]:
        """Finish a paused run with the answered ``requirements``; see the HITL guide.

        Works in any process with the same store; the same run record is updated. On a
        team, the answers go to the paused member runs, which continue and are updated
        in place; their answers reach the team's model as the results of its delegations.
        With ``stream=True`` it returns an iterator of the model's
        :class:`~sessionary.models.ContentDelta` ending with the run output, as
        ``run(stream=True)`` does (an abandoned stream stores the run ``cancelled``).
        """
        flow = self._continuing(run_id, session_id, requirements, user_id, stream)
        if stream:
            return iter_sync(steps_sync(flow, self.db))
        return run_sync(flow, self.db)

    @overload
    def acontinue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
        stream: Literal[False] = False,
    ) -> Coroutine[Any, Any, Run]: ...

    @overload
    def acontinue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
        stream: Literal[True],
    ) -> AsyncIterator[ContentDelta | Run]: ...

    def acontinue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
        stream: bool = False,
    ) -> Coroutine[Any, Any, Run] | AsyncIterator[ContentDelta | Run]:
        """:meth:`continue_run` for the event loop (confirmed tools, the model, the store);
        with ``stream=True`` an async iterator of deltas ending with the run output."""
        flow = self._continuing(run_id, session_id, requirements, user_id, stream)
        if stream:
            return stream_async(flow, self.adb)
        return run_async(flow, self.adb)


def _set_new_session_metadata(info: SessionInfo, metadata: dict[str, Any]) -> Flow[SessionInfo]:
    """Give the session a run just started its run's ``metadata`` (unless it has some).

    Compare-and-set on the session's version: a write that came between (another run, a
    rename) is read again and the metadata set over it, never over metadata of its own.
    """
    for _ in range(5):
        if info.metadata:
            return info
        try:
            updated: SessionInfo = yield DbCall.of(
                "update_session",
                info.session_id,
                user_id=info.user_id,
                expected_version=info.version,
                metadata=metadata,
            )
            return updated
        except ConflictError:
            now: SessionInfo | None = yield DbCall.of(
                "get_session_info", info.session_id, user_id=info.user_id
            )
            if now is None:  # deleted meanwhile
                return info
            info = now
    return info
