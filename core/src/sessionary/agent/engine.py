"""The model/tool loop: ask the model, run the tools it calls, until it answers.

The loop is a flow (see :mod:`sessionary.flow`): it yields model and tool calls
as effects, so one implementation serves ``run`` and ``arun``. A tool that needs a
person (confirmation, user input, external execution) is not run: the loop records a
:class:`~sessionary.Requirement` for the call in :attr:`Engine.pending`, finishes the
other calls of that turn, and stops. A tool may also pause the loop itself by raising
:class:`PauseRun` (a team's delegation does when the member's run paused).
:meth:`Engine.answer` turns a resolved requirement into the tool message the model gets
when the run continues.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Any

import attrs

from sessionary.agent.context import RunContext
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import (
    CONFIRMED,
    EXTERNAL_RESULT,
    REJECTED,
    USER_INPUT,
    Requirement,
    RequirementKind,
    RunMetrics,
    RunStatus,
)
from sessionary.domain.sessions import SessionInfo
from sessionary.domain.state import StateChanges
from sessionary.errors import (
    InvalidInputError,
    ModelError,
    ModelResponseError,
    SessionaryError,
    StorageError,
)
from sessionary.flow import (
    END,
    Abandoned,
    CloseStream,
    DbCall,
    Flow,
    InvokeTool,
    NextEvent,
    OpenStream,
    Respond,
)
from sessionary.ids import new_id
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.tools import Tool

__all__ = [
    "Engine",
    "PauseRun",
    "StepLimitError",
    "requirement_for",
    "state_changes_of",
    "tool_message",
]


class StepLimitError(SessionaryError):
    """The model kept calling tools past the agent's ``max_steps``."""


class PauseRun(Exception):
    """Raised by a tool function to pause the run on requirements of its own.

    ``details`` are kept with the suspended call (in the run's metadata) so the code
    that continues the run knows how to finish the call; they must be JSON-compatible.
    """

    def __init__(self, requirements: Sequence[Requirement], details: dict[str, Any]) -> None:
        super().__init__(f"paused on {len(requirements)} requirement(s)")
        self.requirements = list(requirements)
        self.details = details


@attrs.define
class Engine:
    """Runs the loop for one agent: a model, its tools, and a bound on model calls."""

    model: Model
    tools: dict[str, Tool]
    max_steps: int
    metrics: RunMetrics = attrs.field(factory=RunMetrics)
    #: Text streamed by the model call in progress; what arrived if the stream breaks.
    partial: list[str] = attrs.field(factory=list)
    #: Requirements recorded in the last turn; non-empty means the run pauses.
    pending: list[Requirement] = attrs.field(factory=list)
    #: Calls a tool suspended with :class:`PauseRun`: ``call_id``, ``name``,
    #: ``requirement_ids`` and the tool's ``details``.
    suspended: list[dict[str, Any]] = attrs.field(factory=list)
    #: What tools with a ``run_context`` parameter receive; ``None`` when none needs it.
    run_context: RunContext | None = None

    def loop(
        self,
        context: list[Message],
        produced: list[Message],
        *,
        stream: bool,
    ) -> Flow[str | None]:
        """Run model and tool steps, appending each new message to ``context`` and ``produced``.

        Yields text deltas when streaming; returns the final assistant content, or
        ``None`` when a turn's tool calls need a person (see :attr:`pending`).
        """
        specs = tuple(t.spec for t in self.tools.values())
        for _ in range(self.max_steps):
            request = ModelRequest(messages=tuple(context), tools=specs)
            response = yield from self._ask(request, stream=stream)
            message = response.message
            context.append(message)
            produced.append(message)
            if not message.tool_calls:
                return message.content
            for call in message.tool_calls:
                result = yield from self._step(call)
                if result is not None:
                    context.append(result)
                    produced.append(result)
            if self.pending:
                return None
        raise StepLimitError(
            f"the model was still calling tools after {self.max_steps} model calls "
            f"(raise the agent's max_steps if this is expected)"
        )

    def _ask(self, request: ModelRequest, *, stream: bool) -> Flow[ModelResponse]:
        started = time.perf_counter()
        response: object = None
        try:
            if stream:
                self.partial = []
                events = yield OpenStream(self.model, request)
                try:
                    while (event := (yield NextEvent(events))) is not END:
                        if isinstance(event, ContentDelta):
                            self.partial.append(event.text)
                            yield event
                        else:
                            response = event
                finally:  # an abandoned stream closes the provider's connection now
                    yield CloseStream(events)
                self.partial = []
            else:
                response = yield Respond(self.model, request)
        except (ModelError, Abandoned):
            raise
        except Exception as exc:
            raise ModelError(
                f"model {self.model.label} failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(response, ModelResponse):
            raise ModelResponseError(
                f"model {self.model.label} returned {type(response).__name__}, not a ModelResponse"
            )
        if response.message.role is not Role.ASSISTANT:
            raise ModelResponseError(
                f"model {self.model.label} answered with a {response.message.role} message"
            )
        usage = response.usage
        self.metrics = self.metrics + RunMetrics(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            model_calls=1,
        )
        metadata = dict(response.message.metadata)
        metadata["latency"] = round(time.perf_counter() - started, 6)
        if response.response_id is not None:
            metadata.setdefault("response_id", response.response_id)
        message = response.message
        return ModelResponse(
            message=Message(
                role=message.role,
                content=message.content,
                tool_calls=message.tool_calls,
                tool_call_id=message.tool_call_id,
                name=message.name,
                created_at=message.created_at,
                metadata=metadata,
            ),
            usage=response.usage,
            response_id=response.response_id,
        )

    def _step(self, call: ToolCall) -> Flow[Message | None]:
        """Run one call, or record what it needs from a person (then ``None``)."""
        tool = self.tools.get(call.name)
        if tool is not None and tool.needs_person:
            problem = _argument_problem(tool, call)
            if problem is not None:  # never ask a person about a call that cannot run
                return _tool_message(call, f"Error: {problem}", error=True)
            self.pending.append(requirement_for(call, tool))
            return None
        try:
            return (yield from self.call_tool(call))
        except PauseRun as pause:
            self.pending.extend(pause.requirements)
            self.suspended.append(
                {
                    "call_id": call.id,
                    "name": call.name,
                    "requirement_ids": [r.id for r in pause.requirements],
                    **pause.details,
                }
            )
            return None

    def answer(self, requirement: Requirement) -> Flow[Message]:
        """The tool message for a resolved requirement of one of this engine's tools.

        A confirmed call runs now; one with user input runs with the input merged into
        its arguments; an external result is passed on; a rejection tells the model.
        """
        call = requirement.tool_call
        resolution = requirement.resolution
        if resolution == CONFIRMED:
            return (yield from self.call_tool(call))
        if resolution == USER_INPUT:
            merged = {**call.arguments, **requirement.user_input}
            return (
                yield from self.call_tool(attrs.evolve(call, arguments=merged, raw_arguments=None))
            )
        if resolution == EXTERNAL_RESULT:
            message = tool_message(call, requirement.external_result or "")
            return attrs.evolve(message, metadata={"external_execution": True})
        if resolution == REJECTED:
            text = f"The user rejected the call to {call.name}; it was not run."
            if requirement.note:
                text += f" Note from the user: {requirement.note}"
            return attrs.evolve(tool_message(call, text), metadata={"rejected": True})
        raise InvalidInputError(f"requirement {requirement.id!r} has no answer")

    def call_tool(self, call: ToolCall) -> Flow[Message]:
        """Run one tool call; any failure becomes an error message for the model."""
        tool = self.tools.get(call.name)
        if tool is None:
            return _tool_message(call, f"Error: there is no tool named {call.name!r}", error=True)
        if call.raw_arguments is not None and not call.arguments:
            return _tool_message(
                call, f"Error: the arguments are not a JSON object: {call.raw_arguments!r}", True
            )
        if tool.takes_run_context:
            bound = functools.partial(tool.function, run_context=self.run_context)
            tool = attrs.evolve(tool, function=bound)
        try:
            if tool.flow is not None:
                text = yield from tool.flow(call.arguments)
            else:
                text = yield InvokeTool(tool, call.arguments)
            return _tool_message(call, text)
        except PauseRun:
            raise
        except InvalidInputError as exc:
            return _tool_message(call, f"Error: {exc}", error=True)
        except Exception as exc:
            return _tool_message(call, f"Error: {type(exc).__name__}: {exc}", error=True)


def requirement_for(call: ToolCall, tool: Tool) -> Requirement:
    """What a call of a tool that needs a person waits for.

    A tool with several flags gets one requirement: user input (a person filling the
    fields also consents to the call), else external execution, else confirmation.
    """
    if tool.requires_user_input:
        kind = RequirementKind.USER_INPUT
    elif tool.external_execution:
        kind = RequirementKind.EXTERNAL_EXECUTION
    else:
        kind = RequirementKind.CONFIRMATION
    fields = tool.user_input_fields if kind is RequirementKind.USER_INPUT else ()
    return Requirement(id=new_id(), kind=kind, tool_call=call, user_input_fields=fields)


def _argument_problem(tool: Tool, call: ToolCall) -> str | None:
    """What makes a call unfit to put to a person, or ``None`` if it is well-formed."""
    if call.raw_arguments is not None and not call.arguments:
        return f"the arguments are not a JSON object: {call.raw_arguments!r}"
    later = set(tool.user_input_fields) if tool.requires_user_input else set()
    required = tool.parameters.get("required", [])
    missing = [name for name in required if name not in call.arguments and name not in later]
    if missing:
        return f"missing required argument(s): {', '.join(missing)}"
    return None


def tool_message(call: ToolCall, content: str, error: bool = False) -> Message:
    """The tool message that answers ``call`` with ``content``."""
    return _tool_message(call, content, error)


def _tool_message(call: ToolCall, content: str, error: bool = False) -> Message:
    return Message(
        role=Role.TOOL,
        content=content,
        tool_call_id=call.id,
        name=call.name,
        metadata={"is_error": True} if error else {},
    )


def tools_by_name(tools: Sequence[Tool]) -> dict[str, Tool]:
    """Index tools by name; two tools with one name are an error."""
    named: dict[str, Tool] = {}
    for t in tools:
        if t.name in named:
            raise InvalidInputError(f"two tools are named {t.name!r}")
        named[t.name] = t
    return named


@attrs.frozen
class Outcome:
    """How a run's steps ended: their content, or the status and error they failed with."""

    content: str | None = None
    status: RunStatus = RunStatus.COMPLETED
    error: str | None = None
    failure: BaseException | None = None


def settle(steps: Flow[str | None]) -> Flow[Outcome]:
    """Run ``steps``; a failure becomes the outcome, to be raised once the run is stored."""
    try:
        return Outcome((yield from steps))
    except Abandoned as exc:  # the caller abandoned the stream or cancelled the task
        return Outcome(status=RunStatus.CANCELLED, error=exc.reason, failure=exc)
    except Exception as exc:
        return Outcome(status=RunStatus.ERROR, error=f"{type(exc).__name__}: {exc}", failure=exc)


def store_run(write: DbCall, failure: BaseException | None) -> Flow[SessionInfo]:
    """Store a finished run; a storage error carries the run (``exc.run``, to save it later),
    and so does the refusal of a run the store cannot take (text that is not valid Unicode
    from the model or a tool); either is chained to the run's own ``failure``."""
    try:
        info: SessionInfo = yield write
    except (StorageError, InvalidInputError) as exc:
        exc.run = write.args[0]
        if failure is not None:
            raise exc from failure
        raise
    return info


def state_changes_of(context: RunContext | None, outcome: Outcome) -> tuple[StateChanges, Outcome]:
    """The run's state changes; a state a tool left unstorable fails the run (stored
    without them, status ``error``) instead of losing it."""
    if context is None:
        return StateChanges(), outcome
    try:
        return context.changes(), outcome
    except InvalidInputError as exc:
        if outcome.failure is not None:
            return StateChanges(), outcome
        return StateChanges(), Outcome(status=RunStatus.ERROR, error=str(exc), failure=exc)
