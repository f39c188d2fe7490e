"""``print_response`` and ``aprint_response``: run, and print the answer (as Agno does).

Plain text on ``sys.stdout`` (or ``file``): the message, then the response, streamed as
it comes with ``stream=True``; a paused run prints what it waits for. ``markdown`` is
accepted and the text printed as is (Sessionary draws no terminal panels).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from sessionary.agent.agno_options import UnknownOptionError
from sessionary.domain.runs import Run
from sessionary.errors import InvalidInputError
from sessionary.models.base import ContentDelta

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

__all__ = ["PrintingMixin"]

_AGNO_ONLY = {
    "show_reasoning": "Sessionary runs have no reasoning steps",
    "show_full_reasoning": "Sessionary runs have no reasoning steps",
    "console": "pass file=... (any text stream)",
    "tags_to_include_in_markdown": "the text is printed as is",
    "stream_events": "stream=True",
    "stream_intermediate_steps": "stream=True",
    "images": "Sessionary runs take text input",
    "audio": "Sessionary runs take text input",
    "videos": "Sessionary runs take text input",
    "files": "Sessionary runs take text input",
    "knowledge_filters": "Sessionary keeps no knowledge",
    "dependencies": "session_state=...",
    "add_dependencies_to_context": "session_state=... with add_session_state_to_context",
    "add_history_to_context": "set it on the agent: Agent(add_history_to_context=True)",
    "add_session_state_to_context": "set it on the agent: Agent(add_session_state_to_context=True)",
    "metadata": "store.update_session(session_id, metadata=...)",
    "run_id": "run IDs are made by the run (run.run_id)",
}


def _bool(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidInputError(f"{attribute.name} must be True or False, got {value!r}")


def _refuse(extra: Mapping[str, Any]) -> None:
    if extra:
        raise UnknownOptionError(
            "; ".join(
                f"print_response() has no option {name!r}"
                + (f": {_AGNO_ONLY[name]}" if name in _AGNO_ONLY else "")
                for name in sorted(extra)
            )
        )


def _header(out: TextIO, input: str, show_message: bool) -> None:
    if show_message:
        out.write(f"Message:\n{input}\n\n")
    out.write("Response:\n")


def _footer(out: TextIO, run: Run) -> None:
    if run.is_paused:
        for requirement in run.active_requirements:
            out.write(
                f"[paused: {requirement.kind.value} for {requirement.tool_name}"
                f"({requirement.tool_args})]\n"
            )
    out.flush()


@attrs.define(eq=False, slots=False)
class PrintingMixin:
    """``print_response`` / ``aprint_response`` of agents and teams, and ``markdown``."""

    #: Agno's ``markdown=True``: the system message asks for Markdown, as Agno's does.
    markdown: bool = attrs.field(default=False, kw_only=True, validator=_bool)

    def print_response(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        stream: bool = False,
        markdown: bool | None = None,
        show_message: bool = True,
        debug_mode: bool | None = None,
        file: TextIO | None = None,
        **agno_options: Any,
    ) -> None:
        """Run on ``input`` (stored like any run) and print the message and the response.

        ``markdown`` and ``debug_mode`` are Agno's and accepted: the text is printed as
        is, and logging is the ``sessionary`` logger's.
        """
        _refuse(agno_options)
        out = file or sys.stdout
        kwargs = {"session_id": session_id, "user_id": user_id, "session_state": session_state}
        if not stream:
            owner: Any = self  # an Agent or a Team: run() is theirs
            run: Run = owner.run(input, **kwargs)
            _header(out, input, show_message)
            out.write(f"{run.content or ''}\n")
            _footer(out, run)
            return
        _header(out, input, show_message)
        owner = self
        steps: Iterator[ContentDelta | Run] = owner.run(input, stream=True, **kwargs)
        for item in steps:
            if isinstance(item, ContentDelta):
                out.write(item.text)
                out.flush()
            else:
                out.write("\n")
                _footer(out, item)

    async def aprint_response(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        session_state: Mapping[str, Any] | None = None,
        stream: bool = False,
        markdown: bool | None = None,
        show_message: bool = True,
        debug_mode: bool | None = None,
        file: TextIO | None = None,
        **agno_options: Any,
    ) -> None:
        """:meth:`print_response` for the event loop (``arun``)."""
        _refuse(agno_options)
        out = file or sys.stdout
        kwargs = {"session_id": session_id, "user_id": user_id, "session_state": session_state}
        if not stream:
            owner: Any = self
            run: Run = await owner.arun(input, **kwargs)
            _header(out, input, show_message)
            out.write(f"{run.content or ''}\n")
            _footer(out, run)
            return
        _header(out, input, show_message)
        owner = self
        steps: AsyncIterator[ContentDelta | Run] = owner.arun(input, stream=True, **kwargs)
        async for item in steps:
            if isinstance(item, ContentDelta):
                out.write(item.text)
                out.flush()
            else:
                out.write("\n")
                _footer(out, item)
