"""The run's context that tools receive, and the session state as the model sees it.

A tool that has a parameter named ``run_context`` (as in Agno) gets the run's
:class:`RunContext`; that parameter is not part of the tool's schema, so the model
never fills it. ``run_context.session_state`` is a plain dict: change it as you like
(nested values included). When the run is stored, what changed is compared key by key
with the state the run started from, and only the keys the run set or removed are
written, with the run, in one atomic step (see ``docs/guides/session-state.md``).

History (``add_history_to_context``) replays the earlier runs' messages without their
instructions: a stored ``system`` or ``developer`` message was the instructions of the
run that wrote it (this agent's earlier ones, another agent's, or the ``developer``
items an OpenAI Agents SDK session stored), not the current run's, which sends its own
(:func:`replayed`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo
from sessionary.domain.state import StateChanges, copy_state
from sessionary.errors import InvalidInputError

__all__ = [
    "RunContext",
    "has_placeholder",
    "render_placeholders",
    "replayed",
    "state_block",
    "system_message",
    "with_state",
]

#: What ``markdown=True`` adds to the system message (Agno's wording).
MARKDOWN = "Use markdown to format your answers."
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@attrs.define(kw_only=True)
class RunContext:
    """What a tool may know about the run that calls it, and the state it may change.

    ``session_state`` is the session's state as the run sees it: the stored state, over
    the owner's ``session_state`` defaults, with the run's ``session_state=`` argument
    set over it.
    """

    run_id: str
    session_id: str
    user_id: str | None = None
    session_state: dict[str, Any] = attrs.field(factory=dict)
    metadata: dict[str, Any] = attrs.field(factory=dict)
    #: The stored state the run started from: what its changes are measured against.
    base_state: dict[str, Any] = attrs.field(factory=dict, repr=False)
    #: The session summary as shown to the model (``add_session_summary_to_context``).
    summary_text: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def start(
        cls,
        *,
        run_id: str,
        session_id: str,
        user_id: str | None,
        stored: Mapping[str, Any] | None,
        defaults: Mapping[str, Any] | None,
        given: Mapping[str, Any] | None,
    ) -> RunContext:
        """The context of a run whose session's stored state is ``stored``."""
        base = copy_state(stored or {})
        working = copy_state(defaults or {})
        working.update(copy_state(base))
        working.update(copy_state(given or {}))
        return cls(
            run_id=run_id,
            session_id=session_id,
            user_id=user_id,
            session_state=working,
            base_state=base,
        )

    def changes(self) -> StateChanges:
        """What the run changed: the keys whose value differs from the stored state."""
        if not isinstance(self.session_state, dict):
            raise InvalidInputError(
                f"run_context.session_state must stay a dict, got "
                f"{type(self.session_state).__name__}"
            )
        return StateChanges.between(self.base_state, self.session_state)


#: The roles of instructions, which history never replays (see :func:`replayed`).
INSTRUCTION_ROLES = frozenset({Role.SYSTEM, Role.DEVELOPER})


def replayed(messages: Iterable[Message]) -> list[Message]:
    """The messages of an earlier run that history sends the model: all but its
    instructions (``system`` and ``developer`` messages), which were that run's, not
    the current one's.

    >>> kept = replayed([Message(role="developer", content="Old rules."),
    ...                  Message(role="user", content="Hi")])
    >>> [m.content for m in kept]
    ['Hi']
    """
    return [m for m in messages if m.role not in INSTRUCTION_ROLES]


def has_placeholder(text: str | None) -> bool:
    """Whether ``text`` holds a ``{name}`` placeholder."""
    return bool(text) and _PLACEHOLDER.search(text or "") is not None


def render_placeholders(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each ``{key}`` replaced by ``values[key]``; unknown keys stay visible.

    Strings go in as they are, anything else as JSON. Only ``{name}`` with a plain
    identifier is a placeholder, so JSON examples and ``{{`` in instructions are left
    alone.

    >>> render_placeholders("Items: {items}. Owner: {owner}. {missing}", {"items": ["a"],
    ...                     "owner": "Ann"})
    'Items: ["a"]. Owner: Ann. {missing}'
    """

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            return match.group(0)
        value = values[key]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return _PLACEHOLDER.sub(fill, text)


def state_block(state: Mapping[str, Any]) -> str:
    """The session state as the model is shown it (``add_session_state_to_context``)."""
    text = json.dumps(dict(state), ensure_ascii=False, indent=2)
    return f"<session_state>\n{text}\n</session_state>"


def system_message(
    instructions: str | None,
    context: RunContext | None,
    *,
    resolve: bool,
    add_state: bool,
    extra: str | None = None,
    markdown: bool = False,
) -> Message | None:
    """The run's system message: instructions (placeholders filled when ``resolve``),
    then ``extra`` (a session summary), then the state block when ``add_state``."""
    parts: list[str] = []
    if instructions:
        if resolve and context is not None:
            values = {
                "session_id": context.session_id,
                "run_id": context.run_id,
                **({"user_id": context.user_id} if context.user_id else {}),
                **context.session_state,
            }
            instructions = render_placeholders(instructions, values)
        parts.append(instructions)
    if markdown:
        parts.append(MARKDOWN)
    if extra:
        parts.append(extra)
    if add_state and context is not None:
        parts.append(state_block(context.session_state))
    return Message(role=Role.SYSTEM, content="\n\n".join(parts)) if parts else None


def with_state(run: Run, info: SessionInfo) -> Run:
    """The run output: ``run`` with ``session_state``, the session's state once stored."""
    return attrs.evolve(run, session_state=copy_state(info.state))
