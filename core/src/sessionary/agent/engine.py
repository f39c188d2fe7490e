"""The model/tool loop: ask the model, run the tools it calls, until it answers."""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence

import attrs

from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import RunMetrics
from sessionary.errors import InvalidInputError, ModelError, ModelResponseError, SessionaryError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.tools import Tool

__all__ = ["Engine", "StepLimitError"]


class StepLimitError(SessionaryError):
    """The model kept calling tools past the agent's ``max_steps``."""


@attrs.define
class Engine:
    """Runs the loop for one agent: a model, its tools, and a bound on model calls."""

    model: Model
    tools: dict[str, Tool]
    max_steps: int
    metrics: RunMetrics = attrs.field(factory=RunMetrics)
    #: Text streamed by the model call in progress; what arrived if the stream breaks.
    partial: list[str] = attrs.field(factory=list)

    def loop(
        self, context: list[Message], produced: list[Message], *, stream: bool
    ) -> Generator[ContentDelta, None, str | None]:
        """Run model and tool steps, appending each new message to ``context`` and ``produced``.

        Yields text deltas when streaming; returns the final assistant content.
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
                result = self.call_tool(call)
                context.append(result)
                produced.append(result)
        raise StepLimitError(
            f"the model was still calling tools after {self.max_steps} model calls "
            f"(raise the agent's max_steps if this is expected)"
        )

    def _ask(
        self, request: ModelRequest, *, stream: bool
    ) -> Generator[ContentDelta, None, ModelResponse]:
        started = time.perf_counter()
        response: object = None
        try:
            if stream:
                self.partial = []
                events = self.model.stream(request)
                try:
                    for event in events:
                        if isinstance(event, ContentDelta):
                            self.partial.append(event.text)
                            yield event
                        else:
                            response = event
                finally:  # an abandoned stream closes the provider's connection now
                    close = getattr(events, "close", None)
                    if close is not None:
                        close()
                self.partial = []
            else:
                response = self.model.respond(request)
        except (ModelError, GeneratorExit):
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
        return attrs.evolve(response, message=attrs.evolve(response.message, metadata=metadata))

    def call_tool(self, call: ToolCall) -> Message:
        """Run one tool call; any failure becomes an error message for the model."""
        tool = self.tools.get(call.name)
        if tool is None:
            return _tool_message(call, f"Error: there is no tool named {call.name!r}", error=True)
        if call.raw_arguments is not None and not call.arguments:
            return _tool_message(
                call, f"Error: the arguments are not a JSON object: {call.raw_arguments!r}", True
            )
        try:
            return _tool_message(call, tool.invoke(call.arguments))
        except InvalidInputError as exc:
            return _tool_message(call, f"Error: {exc}", error=True)
        except Exception as exc:
            return _tool_message(call, f"Error: {type(exc).__name__}: {exc}", error=True)


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
