"""``Agent``: a model, tools and instructions, running in sessions that persist."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from sessionary.agent.base import SessionOwner, open_store
from sessionary.agent.engine import Engine, tools_by_name
from sessionary.agent.hitl import continue_agent_run, detached, pause_metadata
from sessionary.agent.hitl import read_run_output as _read_run_output
from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Requirement, Run, RunMetrics, RunStatus
from sessionary.errors import StorageError
from sessionary.flow import Abandoned, DbCall, Flow, run_async, run_sync
from sessionary.ids import new_id
from sessionary.models.base import Model
from sessionary.resolve import resolve_model
from sessionary.storage.base import Store
from sessionary.tools import Tool, as_tool

__all__ = ["Agent"]


def _as_tools(tools: Sequence[Tool | Callable[..., Any]]) -> list[Tool]:
    return [as_tool(t) for t in tools]


@attrs.define(eq=False, slots=False)
class Agent(SessionOwner):
    """An AI agent whose runs are kept in sessions.

    ``Agent(model, db, *, tools, ...)``: ``model`` and ``db`` take objects or strings
    (``"openai:gpt-5.2"``, ``"sqlite:///tmp/agent.db"``); with no ``db`` sessions live in
    memory for the agent's lifetime. Tools are plain functions or :func:`~sessionary.tool`
    objects. The other keyword arguments (IDs, ``instructions``, history, caching and
    naming) are those of every session owner: see
    :class:`~sessionary.agent.base.SessionOwner`.

    >>> from sessionary.testing import ScriptedModel
    >>> agent = Agent(model=ScriptedModel("Hello! How can I help?"), db="memory://")
    >>> agent.run("Hello", session_id="user_123_session_456").content
    'Hello! How can I help?'
    """

    model: Model | None = attrs.field(default=None, converter=resolve_model)
    db: Store = attrs.field(default=None, converter=open_store)
    tools: list[Tool] = attrs.field(default=(), kw_only=True, converter=_as_tools)
    _tools: dict[str, Tool] = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._tools = tools_by_name(self.tools)

    # ------------------------------------------------------------------ running

    def _context(self, session_id: str, user_id: str | None) -> Flow[list[Message]]:
        """Messages sent to the model before the new input: instructions and history."""
        context: list[Message] = []
        if self.instructions:
            context.append(Message(role=Role.SYSTEM, content=self.instructions))
        if self.add_history_to_context and self.num_history_runs:
            runs: list[Run] = yield DbCall.of(
                "get_runs", session_id, user_id=user_id, last_n=self.num_history_runs
            )
            for past in runs:
                if past.status is RunStatus.COMPLETED and past.parent_run_id is None:
                    context.extend(m for m in past.messages if m.role is not Role.SYSTEM)
        return context

    def _execute(
        self, input: str, session_id: str, user_id: str | None, *, stream: bool
    ) -> Flow[Run]:
        assert self.model is not None
        started = time.time()
        clock = time.perf_counter()
        context = yield from self._context(session_id, user_id)
        user_message = Message(role=Role.USER, content=input)
        produced = [m for m in context if m.role is Role.SYSTEM]
        produced.append(user_message)
        context.append(user_message)
        engine = Engine(self.model, self._tools, self.max_steps)
        content: str | None = None
        status, error = RunStatus.COMPLETED, None
        failure: BaseException | None = None
        try:
            content = yield from engine.loop(context, produced, stream=stream)
        except Abandoned as exc:
            status, error, failure = RunStatus.CANCELLED, exc.reason, exc
        except Exception as exc:
            status, error, failure = RunStatus.ERROR, f"{type(exc).__name__}: {exc}", exc
        if failure is not None and engine.partial:
            # Keep what a broken or abandoned stream delivered before it stopped.
            content = "".join(engine.partial)
            partial = Message(role=Role.ASSISTANT, content=content, metadata={"partial": True})
            produced.append(partial)
        metrics = engine.metrics + RunMetrics(duration=time.perf_counter() - clock)
        paused = failure is None and bool(engine.pending)
        run = Run(
            run_id=new_id(),
            session_id=session_id,
            user_id=user_id,
            agent_id=self.id,
            status=RunStatus.PAUSED if paused else status,
            requirements=tuple(engine.pending),
            metadata=pause_metadata(engine, self.pause_expires_after, started) if paused else {},
            input=input,
            messages=tuple(produced),
            content=content,
            metrics=metrics,
            error=error,
            created_at=started,
            updated_at=time.time(),
        )
        try:
            info = yield DbCall.of("append_run", run, session_type=self.session_type)
        except StorageError as exc:
            if failure is not None:
                raise exc from failure
            raise
        yield from self._saved(run, info)
        if failure is not None:
            raise failure
        return detached(run)

    # ------------------------------------------------------------------ human in the loop

    def get_run_output(
        self, run_id: str, session_id: str | None = None, *, user_id: str | None = None
    ) -> Run | None:
        """A stored run (a paused one with its requirements), from any process; else ``None``."""
        sid = self._session_for_read(session_id)
        return run_sync(_read_run_output(sid, run_id, self._user(user_id)), self.db)

    async def aget_run_output(
        self, run_id: str, session_id: str | None = None, *, user_id: str | None = None
    ) -> Run | None:
        """:meth:`get_run_output` for the event loop."""
        sid = self._session_for_read(session_id)
        return await run_async(_read_run_output(sid, run_id, self._user(user_id)), self.adb)

    def continue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Finish a paused run with the answered ``requirements``; see the HITL guide.

        Works in any process with the same store; the same run record is updated.
        """
        flow = continue_agent_run(self, run_id, session_id, requirements, user_id)
        return run_sync(flow, self.db)

    async def acontinue_run(
        self,
        run_id: str | Run,
        session_id: str | None = None,
        *,
        requirements: Sequence[Requirement] | None = None,
        user_id: str | None = None,
    ) -> Run:
        """:meth:`continue_run` for the event loop (confirmed tools, the model, the store)."""
        flow = continue_agent_run(self, run_id, session_id, requirements, user_id)
        return await run_async(flow, self.adb)
