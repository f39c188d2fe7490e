"""``Agent``: a model, tools and instructions, running in sessions that persist."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs

from sessionary.agent.agno_options import refuse_unknown_options
from sessionary.agent.base import open_store
from sessionary.agent.context import RunContext, replayed, system_message
from sessionary.agent.engine import Engine, tools_by_name
from sessionary.agent.hitl import RunReference, answer_each, continue_paused
from sessionary.agent.running import RunningOwner, Start
from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Run, RunStatus
from sessionary.flow import DbCall, Flow
from sessionary.models.base import Model
from sessionary.resolve import resolve_model
from sessionary.storage.base import Store
from sessionary.tools import Tool, as_tool

__all__ = ["Agent"]


def _as_tools(tools: Sequence[Tool | Callable[..., Any]]) -> list[Tool]:
    return [as_tool(t) for t in tools]


@attrs.define(eq=False, slots=False)
class Agent(RunningOwner):
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

    def _state_tools(self) -> list[Tool]:
        return self.tools

    def _context(
        self, session_id: str, user_id: str | None, run_context: RunContext | None = None
    ) -> Flow[list[Message]]:
        """Messages sent to the model before the new input: instructions and history."""
        context: list[Message] = []
        system = system_message(
            self.instructions,
            run_context,
            resolve=self._resolves(run_context),
            add_state=self.add_session_state_to_context,
            extra=None if run_context is None else run_context.summary_text,
            markdown=self.markdown,
        )
        if system is not None:
            context.append(system)
        if self.add_history_to_context and self.num_history_runs:
            runs: list[Run] = yield DbCall.of(
                "get_runs", session_id, user_id=user_id, last_n=self.num_history_runs
            )
            for past in runs:
                if past.status is RunStatus.COMPLETED and past.parent_run_id is None:
                    context.extend(replayed(past.messages))
        return context

    def _begin(
        self,
        run_id: str,
        input: str,
        session_id: str,
        user_id: str | None,
        run_context: RunContext | None,
    ) -> Flow[Start]:
        assert self.model is not None
        context = yield from self._context(session_id, user_id, run_context)
        user_message = Message(role=Role.USER, content=input)
        produced = [m for m in context if m.role is Role.SYSTEM]
        produced.append(user_message)
        context.append(user_message)
        return Engine(self.model, self._tools, self.max_steps), context, produced

    def _continue(self, reference: RunReference, stream: bool = False) -> Flow[Run]:
        assert self.model is not None

        def history(run: Run) -> Flow[list[Message]]:
            context = yield from self._context(run.session_id, run.user_id)
            return [m for m in context if m.role is not Role.SYSTEM]

        engine = Engine(self.model, self._tools, self.max_steps)
        if self._needs_context(None):
            engine.run_context = RunContext(
                run_id=reference[0], session_id=reference[1], session_state=self.session_state or {}
            )
        return (
            yield from continue_paused(
                *reference,
                owner_field="agent_id",
                owner_id=self.id,
                engine=engine,
                history=history,
                answer=answer_each,
                expires_after=self.pause_expires_after,
                saved=self._saved,
                stream=stream,
            )
        )


def _init_options(cls: type) -> frozenset[str]:
    return frozenset(a.alias for a in attrs.fields(cls) if a.init)


# An Agno option (or a typo) is refused naming it and what to use instead.
Agent.__init__ = refuse_unknown_options(Agent.__init__, _init_options(Agent), "Agent")  # type: ignore[method-assign]
