"""``Agent``: a model, tools and instructions, running in sessions that persist."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from datetime import timedelta
from typing import Any, Literal, overload

from sessionary.agent.base import SessionOwner
from sessionary.agent.engine import Engine, tools_by_name
from sessionary.agent.hitl import continue_agent_run, detached, expiry_seconds, pause_metadata
from sessionary.agent.hitl import read_run_output as _read_run_output
from sessionary.caching.base import SessionCache
from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Requirement, Run, RunMetrics, RunStatus
from sessionary.errors import InvalidInputError, StorageError
from sessionary.flow import Abandoned, DbCall, Flow, iter_sync, run_async, run_sync, steps_async
from sessionary.flow import steps_sync as _steps_sync
from sessionary.ids import new_id
from sessionary.models.base import ContentDelta, Model
from sessionary.naming.pipeline import NamingPolicy
from sessionary.resolve import resolve_model
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store
from sessionary.tools import Tool, as_tool

__all__ = ["Agent"]


class Agent(SessionOwner):
    """An AI agent whose runs are kept in sessions.

    ``model`` and ``db`` take objects or strings (``"openai:gpt-5.2"``,
    ``"sqlite:///tmp/agent.db"``); with no ``db`` sessions live in memory for the
    agent's lifetime. Tools are plain functions or :func:`~sessionary.tool` objects.
    With ``add_history_to_context=True`` the last ``num_history_runs`` completed runs
    of the session are sent to the model before the new input.
    ``naming_model``, ``naming``, ``strict_naming`` and ``auto_name_after_runs`` set how
    sessions are named (see ``docs/guides/naming.md``).
    ``cache_session``, ``session_cache``, ``cache_trust_seconds`` and
    ``cache_strict_check`` set the session cache (see ``docs/guides/caching.md``).

    >>> from sessionary.testing import ScriptedModel
    >>> agent = Agent(model=ScriptedModel("Hello! How can I help?"), db="memory://")
    >>> agent.run("Hello", session_id="user_123_session_456").content
    'Hello! How can I help?'
    """

    def __init__(
        self,
        model: Model | str | None = None,
        db: Store | str | None = None,
        *,
        id: str | None = None,
        name: str | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        instructions: str | Sequence[str] | None = None,
        tools: Sequence[Tool | Callable[..., Any]] = (),
        add_history_to_context: bool = False,
        num_history_runs: int = 3,
        max_steps: int = 10,
        pause_expires_after: float | timedelta | None = None,
        cache_session: bool = False,
        session_cache: SessionCache | str | None = None,
        cache_trust_seconds: float = 0.0,
        cache_strict_check: bool = False,
        naming_model: Model | str | None = None,
        naming: NamingPolicy | None = None,
        strict_naming: bool = False,
        auto_name_after_runs: int | None = None,
    ) -> None:
        super().__init__(
            db=db,
            id=id,
            name=name,
            session_id=session_id,
            user_id=user_id,
            cache_session=cache_session,
            session_cache=session_cache,
            cache_trust_seconds=cache_trust_seconds,
            cache_strict_check=cache_strict_check,
        )
        self.pause_expires_after = expiry_seconds(pause_expires_after)
        self.model = resolve_model(model)
        self.instructions = _instructions(instructions)
        self.tools = [as_tool(t) for t in tools]
        self._tools = tools_by_name(self.tools)
        if not isinstance(num_history_runs, int) or num_history_runs < 0:
            raise InvalidInputError("num_history_runs must be a non-negative int")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise InvalidInputError("max_steps must be a positive int")
        self.add_history_to_context = add_history_to_context
        self.num_history_runs = num_history_runs
        self.max_steps = max_steps
        self._configure_naming(
            naming_model=naming_model,
            naming=naming,
            strict_naming=strict_naming,
            auto_name_after_runs=auto_name_after_runs,
        )

    # ------------------------------------------------------------------ running

    @overload
    def run(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[False] = False,
    ) -> Run: ...

    @overload
    def run(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[True],
    ) -> Iterator[ContentDelta | Run]: ...

    def run(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: bool = False,
    ) -> Run | Iterator[ContentDelta | Run]:
        """Run the agent on ``input`` in a session and store the run.

        Returns the run output (a :class:`~sessionary.Run`). With ``stream=True``,
        returns an iterator of :class:`~sessionary.models.ContentDelta` ending with the
        run output; the run is stored when the stream ends, with status ``cancelled``
        if the caller abandons it and ``error`` if it breaks.

        A failing model call stores the run with status ``error`` and raises a
        :class:`~sessionary.errors.ModelError`; runs stored before are untouched.
        """
        flow = self._start(input, session_id, user_id, stream=stream)
        if stream:
            return iter_sync(_steps_sync(flow, self.db))
        return run_sync(flow, self.db)

    @overload
    def arun(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[False] = False,
    ) -> Coroutine[Any, Any, Run]: ...

    @overload
    def arun(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[True],
    ) -> AsyncIterator[ContentDelta | Run]: ...

    def arun(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: bool = False,
    ) -> Coroutine[Any, Any, Run] | AsyncIterator[ContentDelta | Run]:
        """:meth:`run` for the event loop: the same run, stored the same way, never blocking.

        The store is the agent's async store (``db.to_async()``: native on Redis, MongoDB
        and SQLite; any other store in worker threads), the model is called with
        ``arespond``/``astream``, ``async def`` tools are awaited and sync tools run in a
        worker thread. ``await agent.arun(...)`` is the run output; with ``stream=True``,
        ``agent.arun(...)`` is an async iterator (``async for``) of
        :class:`~sessionary.models.ContentDelta` ending with the run output. The arguments
        are checked at the call, before anything is awaited.

        >>> import asyncio
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hello!"), db="memory://")
        >>> asyncio.run(agent.arun("Hi", session_id="s1")).content
        'Hello!'
        """
        flow = self._start(input, session_id, user_id, stream=stream)
        if stream:
            return _async_stream(flow, self.adb)
        return run_async(flow, self.adb)

    def _start(
        self, input: str, session_id: str | None, user_id: str | None, *, stream: bool
    ) -> Flow[Run]:
        """Check a run's arguments (before any I/O) and return its flow."""
        if not isinstance(input, str):
            raise InvalidInputError(f"input must be a str, got {type(input).__name__}")
        if self.model is None:
            raise InvalidInputError("this agent has no model; pass model=... to Agent()")
        if not isinstance(stream, bool):
            raise InvalidInputError("stream must be a bool")
        sid = self._session_for_run(session_id)
        uid = self._user(user_id)
        return self._execute(input, sid, uid, stream=stream)

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


async def _async_stream(flow: Flow[Run], db: AsyncStore) -> AsyncIterator[ContentDelta | Run]:
    """``arun(stream=True)``'s iterator: the deltas, then the run output."""
    steps = steps_async(flow, db)
    try:
        async for item in steps:
            yield item if isinstance(item, ContentDelta) else item.result
    finally:
        await steps.aclose()


def _instructions(value: str | Sequence[str] | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if all(isinstance(line, str) for line in value):
        return "\n".join(value) or None
    raise InvalidInputError("instructions must be a str or a list of str")
