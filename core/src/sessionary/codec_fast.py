"""The one-pass JSON decoders behind :mod:`sessionary.codec`'s readers of JSON text.

msgspec checks a run's JSON text in C, into the struct below; the run is built from it
when one of its fields is first read, and its messages (which msgspec builds straight
into :class:`~sessionary.domain.messages.Message` objects) when they are (see
:class:`~sessionary.domain.runs.Run`). So a read of many runs costs little more than
checking their text until a run is used.

The struct's defaults are those of the strict decoders in :mod:`sessionary.codec` (a
missing ``created_at`` reads as 0, a missing ``status`` is refused). Each function here
returns ``None`` where msgspec refuses a record, or cannot give the strict decoder's
answer; :mod:`sessionary.codec` then decodes it the strict way, which says what is
wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import msgspec

from sessionary.domain.messages import Message, ToolCall
from sessionary.domain.runs import (
    LAZY_FIELDS,
    LAZY_MESSAGES,
    Requirement,
    RequirementKind,
    Run,
    RunMetrics,
    RunStatus,
)
from sessionary.domain.state import NO_CHANGES, StateChanges
from sessionary.errors import InvalidInputError

__all__ = [
    "WHOLE_RUN",
    "MessagesBuilder",
    "RunReader",
    "fast_message",
    "fast_messages",
    "last_messages",
    "last_of",
    "whole_messages",
]

T = TypeVar("T")


class _ToolCall(msgspec.Struct, gc=False):
    id: str
    name: str
    arguments: dict[str, Any] = {}
    raw_arguments: str | None = None


class _Requirement(msgspec.Struct, gc=False):
    id: str
    kind: RequirementKind
    tool_call: _ToolCall
    user_input_fields: list[str] = []
    resolution: str | None = None
    note: str | None = None
    user_input: dict[str, Any] = {}
    external_result: str | None = None


class _Metrics(msgspec.Struct, gc=False):
    input_tokens: int = 0
    output_tokens: int = 0
    duration: float = 0.0
    model_calls: int = 0


class _Changes(msgspec.Struct, gc=False):
    set: dict[str, Any] = {}
    removed: list[str] = []


_NO_MESSAGES = msgspec.Raw(b"[]")
_OPEN_LIST = ord("[")
_view = memoryview


class _Run(msgspec.Struct, gc=False, kw_only=True):
    """A run's fields, named as :class:`Run`'s (the built run's ``__dict__`` is these)."""

    # In the order encode_run writes them, which msgspec matches fastest.
    run_id: str
    session_id: str
    user_id: str | None = None
    agent_id: str | None = None
    team_id: str | None = None
    parent_run_id: str | None = None
    status: RunStatus
    input: str | None = None
    messages: msgspec.Raw = _NO_MESSAGES
    content: str | None = None
    requirements: list[_Requirement] = []
    metrics: _Metrics = msgspec.field(default_factory=_Metrics)
    error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    version: int = 1
    metadata: dict[str, Any] = {}
    state_changes: _Changes | None = None


class _RunMessages(msgspec.Struct, gc=False):
    """A run's JSON as a message-level read sees it: its messages, each still JSON text."""

    messages: list[msgspec.Raw] = []


class _RunMessageList(msgspec.Struct, gc=False):
    """A run's JSON as a message-level read of a short run sees it: its messages."""

    messages: list[Message] = []


_RUN = msgspec.json.Decoder(_Run)
_MESSAGE = msgspec.json.Decoder(Message)
_MESSAGE_LIST = msgspec.json.Decoder(list[Message])
_RUN_MESSAGES = msgspec.json.Decoder(_RunMessages)
_RUN_MESSAGE_LIST = msgspec.json.Decoder(_RunMessageList)
_asdict = msgspec.structs.asdict
_new = object.__new__
_set = object.__setattr__


def _built(cls: type[Any], fields: dict[str, Any]) -> Any:
    # The checked fields of a frozen attrs class (not slotted, no validators), set as
    # its __init__ would: the structs hold the converted types already.
    obj = _new(cls)
    _set(obj, "__dict__", fields)
    return obj


def _requirement(struct: _Requirement) -> Requirement:
    fields = _asdict(struct)
    fields["tool_call"] = _built(ToolCall, _asdict(struct.tool_call))
    return Requirement(**fields)


#: What builds a run's messages from their list's JSON text when they are first read.
MessagesBuilder = Callable[[Run, msgspec.Raw], tuple[Message, ...]]


def fast_messages(
    texts: msgspec.Raw | Sequence[str | bytes | msgspec.Raw],
) -> list[Message] | None:
    """The messages of a JSON list's text, or of each message's text; or ``None``
    (decode them the strict way).

    msgspec builds the messages itself (faster than through a struct); it fills a
    missing ``created_at`` with the current time where the strict decoder reads 0, so a
    message dated from this decode on is left to the strict decoder.
    """
    before = time.time()
    try:
        if isinstance(texts, msgspec.Raw):
            messages = _MESSAGE_LIST.decode(texts)
        else:
            decode = _MESSAGE.decode
            messages = [decode(text) for text in texts]
    except msgspec.MsgspecError:
        return None
    return _undated(messages, before)


def _undated(messages: list[Message], before: float) -> list[Message] | None:
    """``messages``, or ``None`` if one is dated from ``before`` on: msgspec gave it the
    clock's time for a missing ``created_at`` (see :func:`fast_messages`)."""
    for message in messages:
        if message.created_at >= before:
            return None
    return messages


def last_of(items: list[T], last_n: int | None) -> list[T]:
    """The last ``last_n`` of ``items`` (all of them with ``None``)."""
    return items if last_n is None else items[max(0, len(items) - last_n) :]


class RunReader:
    """Decodes runs' JSON text in one pass, each run built when first read and its
    messages, by ``messages``, when they are.

    Every method returns ``None`` where msgspec refuses a record (decode it the strict
    way, which says what is wrong).
    """

    def __init__(self, messages: MessagesBuilder) -> None:
        self._messages = messages
        self._build = self._fields  # one bound method, shared by every lazy run

    def _fields(self, struct: _Run) -> dict[str, Any]:
        # A run's __dict__, from its checked struct; its messages wait under
        # LAZY_MESSAGES for their first read.
        fields = _asdict(struct)
        text = struct.messages
        if len(text) > 2:  # (not "[]")
            del fields["messages"]
            fields[LAZY_MESSAGES] = (self._messages, text)
        else:
            fields["messages"] = ()
        requirements = struct.requirements
        fields["requirements"] = (
            tuple([_requirement(r) for r in requirements]) if requirements else ()
        )
        changes = struct.state_changes
        fields["state_changes"] = (
            NO_CHANGES
            if changes is None
            else StateChanges(set=changes.set, removed=changes.removed)
        )
        fields["metrics"] = _built(RunMetrics, _asdict(struct.metrics))
        fields["session_state"] = None
        return fields

    def _run(self, struct: _Run) -> Run:
        if _view(struct.messages)[0] != _OPEN_LIST:
            raise msgspec.ValidationError("messages must be a list")
        run = _new(Run)
        if struct.requirements or struct.state_changes is not None:
            _set(run, "__dict__", self._fields(struct))  # (the changes are checked here)
        else:
            _set(run, "__dict__", {LAZY_FIELDS: (self._build, struct)})
        return run

    def run(self, text: str | bytes) -> Run | None:
        """The run of a run's JSON text, or ``None``."""
        runs = self.runs([text])
        return None if runs is None else runs[0]

    def runs(self, texts: Iterable[str | bytes]) -> list[Run] | None:
        """The runs of runs' JSON texts, or ``None`` if one is refused."""
        decode, build = _RUN.decode, self._run
        try:
            return [build(decode(text)) for text in texts]
        except (msgspec.MsgspecError, InvalidInputError, TypeError):  # (TypeError: not text)
            return None


def fast_message(text: str | bytes | msgspec.Raw) -> Message | None:
    """The message of a message's JSON text, or ``None`` (decode it the strict way);
    built by msgspec, as :func:`fast_messages` builds them."""
    messages = fast_messages([text])
    return None if messages is None else messages[0]


#: A run's JSON text of up to this many characters is decoded whole by a message-level
#: read: one pass is cheaper than splitting it and decoding the messages wanted one by
#: one, and decodes at most this much that was not asked for. A longer run is split, so
#: a read of its last few messages decodes only those.
WHOLE_RUN = 4096


def last_messages(text: str | bytes, last_n: int | None) -> list[Message] | None:
    """The last ``last_n`` messages (all with ``None``) of a run's JSON text; or ``None``
    (decode it the strict way). The rest of a long run is checked as JSON, not decoded."""
    if last_n is None or len(text) <= WHOLE_RUN:
        messages = whole_messages(text)
        return None if messages is None else last_of(messages, last_n)
    try:
        texts = _RUN_MESSAGES.decode(text).messages
    except msgspec.MsgspecError:
        return None
    wanted: list[msgspec.Raw] = last_of(texts, last_n)
    return fast_messages(wanted)


def whole_messages(text: str | bytes) -> list[Message] | None:
    """Every message of a run's JSON text, in one pass; or ``None`` (decode it the strict
    way). The rest of the run is checked as JSON, not decoded."""
    before = time.time()
    try:
        messages = _RUN_MESSAGE_LIST.decode(text).messages
    except msgspec.MsgspecError:
        return None
    return _undated(messages, before)
