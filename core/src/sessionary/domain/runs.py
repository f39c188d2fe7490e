"""Runs: one input, everything the agent and model said and did for it, and how it ended."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role, TextEnum, ToolCall, _to_dict
from sessionary.domain.state import NO_CHANGES, StateChanges
from sessionary.errors import InvalidInputError

__all__ = [
    "Requirement",
    "RequirementKind",
    "Run",
    "RunMetrics",
    "RunOutput",
    "RunStatus",
]


class RunStatus(TextEnum):
    """Where a run stands."""

    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    ERROR = "error"
    CANCELLED = "cancelled"


class RequirementKind(TextEnum):
    """What a paused run waits for from a person or an outside system."""

    CONFIRMATION = "confirmation"
    USER_INPUT = "user_input"
    EXTERNAL_EXECUTION = "external_execution"


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return value if type(value) is tuple else tuple(value)


#: The answers a requirement can get, as stored in :attr:`Requirement.resolution`.
CONFIRMED = "confirmed"
REJECTED = "rejected"
USER_INPUT = "user_input"
EXTERNAL_RESULT = "external_result"


@attrs.define(kw_only=True, on_setattr=attrs.setters.frozen)
class Requirement:
    """One thing a paused run waits for, and (once given) the answer.

    ``resolution`` is ``None`` while unresolved, else ``"confirmed"``, ``"rejected"``,
    ``"user_input"`` or ``"external_result"``. The fields cannot be assigned; an
    answer is recorded only through :meth:`confirm`, :meth:`reject`,
    :meth:`provide_user_input` or :meth:`set_external_execution_result`, which check
    it. The answer lives on the object the caller holds (a decoded copy of the stored
    record): pass it to ``continue_run(..., requirements=[...])`` to act on it.

    >>> from sessionary.domain.messages import ToolCall
    >>> req = Requirement(id="r1", kind="confirmation", tool_call=ToolCall(id="c1", name="rm"))
    >>> req.needs_confirmation
    True
    >>> req.confirm().resolution
    'confirmed'
    """

    id: str
    kind: RequirementKind = attrs.field(converter=RequirementKind)
    tool_call: ToolCall
    user_input_fields: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    resolution: str | None = None
    note: str | None = None
    user_input: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    external_result: str | None = None

    @property
    def is_resolved(self) -> bool:
        """True once an answer has been given."""
        return self.resolution is not None

    @property
    def tool_name(self) -> str:
        """The name of the tool the model called."""
        return self.tool_call.name

    @property
    def tool_args(self) -> dict[str, Any]:
        """The arguments the model called the tool with."""
        return self.tool_call.arguments

    @property
    def tool_execution(self) -> Requirement:
        """This requirement (Agno's ``requirement.tool_execution.tool_name`` and
        ``.tool_args`` read the same here)."""
        return self

    @property
    def needs_confirmation(self) -> bool:
        """True while this requirement waits for :meth:`confirm` or :meth:`reject`."""
        return self.kind is RequirementKind.CONFIRMATION and not self.is_resolved

    @property
    def needs_user_input(self) -> bool:
        """True while this requirement waits for :meth:`provide_user_input`."""
        return self.kind is RequirementKind.USER_INPUT and not self.is_resolved

    @property
    def needs_external_execution(self) -> bool:
        """True while this requirement waits for :meth:`set_external_execution_result`."""
        return self.kind is RequirementKind.EXTERNAL_EXECUTION and not self.is_resolved

    @property
    def is_confirmed(self) -> bool:
        """True once confirmed."""
        return self.resolution == CONFIRMED

    @property
    def is_rejected(self) -> bool:
        """True once rejected."""
        return self.resolution == REJECTED

    def confirm(self) -> Requirement:
        """Allow the tool call to run. Only for a ``confirmation`` requirement."""
        self._expect(RequirementKind.CONFIRMATION, "confirm()")
        self._answer(CONFIRMED, note=None, user_input={}, external_result=None)
        return self

    def reject(self, note: str | None = None) -> Requirement:
        """Refuse the tool call; the model is told so, with ``note`` as the reason.

        Any kind of requirement can be rejected.
        """
        if note is not None and not isinstance(note, str):
            raise InvalidInputError(
                f"{self._label()}: the rejection note must be a str or None, "
                f"got {type(note).__name__}"
            )
        self._answer(REJECTED, note=note, user_input={}, external_result=None)
        return self

    def provide_user_input(self, values: Mapping[str, Any]) -> Requirement:
        """Give the values of the tool's ``user_input_fields``; the tool then runs with them.

        Every field must be given, and no other; values must be JSON-compatible.
        """
        self._expect(RequirementKind.USER_INPUT, "provide_user_input()")
        if not isinstance(values, Mapping) or not all(isinstance(k, str) for k in values):
            raise InvalidInputError(
                f"{self._label()}: user input must be a mapping of field names to values, "
                f"got {type(values).__name__}"
            )
        unknown = sorted(k for k in values if k not in self.user_input_fields)
        if unknown:
            raise InvalidInputError(
                f"{self._label()}: unknown user input field(s) {', '.join(unknown)}; "
                f"expected {', '.join(self.user_input_fields)}"
            )
        missing = [f for f in self.user_input_fields if f not in values]
        if missing:
            raise InvalidInputError(
                f"{self._label()}: missing user input field(s) {', '.join(missing)}"
            )
        try:
            copied = json.loads(json.dumps(dict(values), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"{self._label()}: user input is not JSON-compatible: {exc}"
            ) from exc
        self._answer(USER_INPUT, note=None, user_input=copied, external_result=None)
        return self

    def set_external_execution_result(self, result: Any) -> Requirement:
        """Give the result of running the tool outside the agent; the model receives it.

        A ``str`` is passed on as is; anything else must be JSON-compatible and is sent
        as JSON text.
        """
        self._expect(RequirementKind.EXTERNAL_EXECUTION, "set_external_execution_result()")
        if not isinstance(result, str):
            try:
                result = json.dumps(result, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"{self._label()}: the external result must be a str or JSON-compatible: {exc}"
                ) from exc
        self._answer(EXTERNAL_RESULT, note=None, user_input={}, external_result=result)
        return self

    def _label(self) -> str:
        return f"requirement {self.id!r} ({self.kind.value} for tool {self.tool_call.name!r})"

    def _expect(self, kind: RequirementKind, method: str) -> None:
        if self.kind is not kind:
            raise InvalidInputError(
                f"{self._label()}: {method} answers a {kind.value} requirement, "
                f"not a {self.kind.value} one"
            )

    def _answer(
        self,
        resolution: str,
        *,
        note: str | None,
        user_input: dict[str, Any],
        external_result: str | None,
    ) -> None:
        # The fields are frozen against plain assignment; answers go through the
        # checked methods above, which write them here.
        object.__setattr__(self, "resolution", resolution)
        object.__setattr__(self, "note", note)
        object.__setattr__(self, "user_input", user_input)
        object.__setattr__(self, "external_result", external_result)


@attrs.frozen(kw_only=True, slots=False)
class RunMetrics:
    """What a run cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    #: Wall time of the run in seconds.
    duration: float = 0.0
    #: Number of model calls the run made.
    model_calls: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def __add__(self, other: RunMetrics) -> RunMetrics:
        return RunMetrics(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            duration=self.duration + other.duration,
            model_calls=self.model_calls + other.model_calls,
        )


def _to_status(value: RunStatus | str) -> RunStatus:
    return value if isinstance(value, RunStatus) else RunStatus(value)


@attrs.frozen(kw_only=True, slots=False)
class Run:
    """One run of an agent or team in a session: the record stores keep.

    ``Agent.run`` returns this object as its run output (``RunOutput`` is the same
    class). ``version`` counts the updates of this run record; a store updates a run
    only when the stored version is the one the writer read (optimistic check).

    A run a store read is built when first used: its fields when one is read, its
    ``messages`` when they are (a corrupt stored message is then a
    :class:`~sessionary.errors.CorruptRecordError`). Reading a session of many runs
    costs little more than its records' bytes until a run's messages are wanted.
    """

    run_id: str
    session_id: str
    user_id: str | None = None
    agent_id: str | None = None
    team_id: str | None = None
    #: For a team member's run, the team run that spawned it.
    parent_run_id: str | None = None
    status: RunStatus = attrs.field(default=RunStatus.COMPLETED, converter=_to_status)
    input: str | None = None
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_to_tuple)
    content: str | None = None
    #: What a paused run waits for (and, once continued, the answers it got).
    requirements: tuple[Requirement, ...] = attrs.field(default=(), converter=_to_tuple)
    metrics: RunMetrics = attrs.field(factory=RunMetrics)
    #: For a run that ended in ``error`` or ``cancelled``: what happened.
    error: str | None = None
    created_at: float = attrs.field(factory=time.time)
    updated_at: float = attrs.field(factory=time.time)
    version: int = 1
    metadata: dict[str, Any] = attrs.field(factory=dict, converter=_to_dict)
    #: What the run changed in its session's state; the store applies it with the run.
    state_changes: StateChanges = NO_CHANGES
    #: The session's state as this run left it (Agno's ``RunOutput.session_state``): set
    #: on the run output ``run`` returns, ``None`` on a run read back from a store.
    session_state: dict[str, Any] | None = attrs.field(default=None, eq=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        # What pickle and copy take: the built fields, never what waits to be built.
        self.messages  # noqa: B018 (builds a lazily decoded run's fields)
        return {k: v for k, v in self.__dict__.items() if k not in _LAZY}

    @property
    def is_paused(self) -> bool:
        """True when the run waits for a person (see :attr:`active_requirements`)."""
        return self.status is RunStatus.PAUSED

    @property
    def active_requirements(self) -> list[Requirement]:
        """The requirements of a paused run that are not resolved yet."""
        return [r for r in self.requirements if not r.is_resolved]

    @property
    def pause_expires_at(self) -> float | None:
        """When a paused run stops being continuable (epoch seconds), if it expires."""
        value = self.metadata.get(PAUSE_EXPIRES_AT)
        return float(value) if isinstance(value, (int, float)) else None

    def chat_messages(self) -> Iterator[Message]:
        """The user and assistant messages of this run that carry content."""
        return (m for m in self.messages if m.is_chat)

    @property
    def last_assistant_message(self) -> Message | None:
        """The last assistant message of the run, if any."""
        for message in reversed(self.messages):
            if message.role is Role.ASSISTANT:
                return message
        return None


#: Keys of a decoded run's ``__dict__`` under which its fields and its messages wait to
#: be built: ``(build, record)`` pairs; ``build(record)`` gives the fields, by name, and
#: ``build(run, record)`` the messages (or raises
#: :class:`~sessionary.errors.CorruptRecordError`).
LAZY_FIELDS = "_lazy_fields"
LAZY_MESSAGES = "_lazy_messages"
_LAZY = (LAZY_FIELDS, LAZY_MESSAGES)


class _Unbuilt:
    """A field of :class:`Run` as the class holds it: a non-data descriptor, so Python
    asks it only when a run's ``__dict__`` lacks the field, as a lazily decoded run's
    does until the field is first read; it then builds the fields (and, for
    ``messages``, the messages) and returns the one asked for. A built run never calls
    it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, run: Run | None, owner: type[Run] | None = None) -> Any:
        name = self.name
        if run is None:
            raise AttributeError(f"type object 'Run' has no attribute {name!r}")
        fields = run.__dict__
        lazy = fields.get(LAZY_FIELDS)
        if lazy is not None:  # the built fields become the run's __dict__, all at once
            build, record = lazy
            fields = build(record)
            object.__setattr__(run, "__dict__", fields)
        if name == "messages":
            lazy = fields.get(LAZY_MESSAGES)
            if lazy is not None:
                build, record = lazy
                fields["messages"] = build(run, record)
                fields.pop(LAZY_MESSAGES, None)
        try:
            return fields[name]
        except KeyError:
            raise AttributeError(f"'Run' object has no attribute {name!r}") from None


for _field in attrs.fields(Run):
    setattr(Run, _field.name, _Unbuilt(_field.name))

#: Key of :attr:`Run.metadata` that holds a paused run's expiry time.
PAUSE_EXPIRES_AT = "pause_expires_at"

#: The object ``Agent.run`` returns: the stored run record itself.
RunOutput = Run
