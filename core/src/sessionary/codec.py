"""The one JSON codec for messages, runs and sessions.

Every store serialises through these functions, so a session exported from one
backend imports into any other. ``encode_*`` return plain JSON-compatible dicts and
``decode_*`` take them back; :func:`dumps` and :func:`loads` wrap an object in an
envelope that names its kind and stamps :data:`SCHEMA_VERSION`.

Decoding is strict: a record that is not what it claims raises :class:`CodecError`
(a :class:`ValueError`) that says which field was wrong. Stores turn that into a
:class:`~sessionary.errors.CorruptRecordError` that names the session.

A run read from JSON text is checked at once but built when first read, its messages
when they are (a corrupt message is then a ``CorruptRecordError``).

Values in ``metadata`` and ``state`` must be JSON-compatible; tuples come back as lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from sessionary.codec_fast import RunReader, fast_message, fast_messages, last_messages, last_of
from sessionary.codec_fields import (
    CodecError,
    _dict,
    _int,
    _list,
    _number,
    _opt_dict,
    _opt_float,
    _opt_str,
    _require_dict,
    _str,
)
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Requirement, RequirementKind, Run, RunMetrics, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.domain.state import NO_CHANGES, StateChanges
from sessionary.errors import CorruptRecordError, InvalidInputError

__all__ = [
    "SCHEMA_VERSION",
    "CodecError",
    "decode_message",
    "decode_messages",
    "decode_run",
    "decode_run_json",
    "decode_runs_json",
    "decode_session",
    "decode_session_columns",
    "decode_session_info",
    "dump_json",
    "dump_run",
    "dumps",
    "encode_message",
    "encode_run",
    "encode_session",
    "encode_session_info",
    "loads",
]

#: Version of the encoded form. Bump it when the shape changes, and teach ``decode_*``
#: to read the older shape.
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------- messages


def _encode_tool_call(call: ToolCall) -> dict[str, Any]:
    data: dict[str, Any] = {"id": call.id, "name": call.name, "arguments": call.arguments}
    if call.raw_arguments is not None:
        data["raw_arguments"] = call.raw_arguments
    return data


def _decode_tool_call(data: Any) -> ToolCall:
    return ToolCall(
        id=_str(data, "id"),
        name=_str(data, "name"),
        arguments=_dict(data, "arguments"),
        raw_arguments=_opt_str(data, "raw_arguments"),
    )


def encode_message(message: Message) -> dict[str, Any]:
    """A message as a JSON-compatible dict; fields at their default are left out."""
    data: dict[str, Any] = {"role": message.role.value, "created_at": message.created_at}
    if message.content is not None:
        data["content"] = message.content
    if message.tool_calls:
        data["tool_calls"] = [_encode_tool_call(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        data["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        data["name"] = message.name
    if message.metadata:
        data["metadata"] = message.metadata
    if message.payload is not None:
        data["payload"] = message.payload
    return data


def decode_message(data: Any) -> Message:
    """The inverse of :func:`encode_message`.

    Also takes a message's JSON text (``str``, ``bytes`` or ``msgspec.Raw``), decoded
    in one pass as :func:`decode_run_json` decodes a run, with the same result.
    """
    if isinstance(data, (str, bytes, msgspec.Raw)):
        message = fast_message(data)
        if message is not None:
            return message
        data = _loads(bytes(memoryview(data)) if isinstance(data, msgspec.Raw) else data)
    _require_dict(data, "message")
    try:
        role = Role(data["role"])
    except (KeyError, ValueError) as exc:
        raise CodecError(f"message has no valid role: {data.get('role')!r}") from exc
    return Message(
        role=role,
        content=_opt_str(data, "content"),
        tool_calls=tuple(_decode_tool_call(c) for c in _list(data, "tool_calls")),
        tool_call_id=_opt_str(data, "tool_call_id"),
        name=_opt_str(data, "name"),
        created_at=_number(data, "created_at"),
        metadata=_dict(data, "metadata"),
        payload=_opt_dict(data, "payload"),
    )


def decode_messages(data: Any, last_n: int | None = None) -> list[Message]:
    """The messages of an encoded run (only its last ``last_n``), decoding nothing else.

    A message-level tail read's: ``data`` is the run's JSON value, or its JSON text (the
    rest of which is skipped unparsed). :class:`CodecError` if it is not a run's shape.

    >>> run = {"messages": [{"role": "user", "content": str(i)} for i in range(5)]}
    >>> [m.content for m in decode_messages(run, 2)]
    ['3', '4']
    >>> [m.content for m in decode_messages(dump_json(run), 2)]
    ['3', '4']
    """
    if isinstance(data, (str, bytes)):
        messages = last_messages(data, last_n)
        if messages is not None:
            return messages
        data = _loads(data)  # not a run's text as msgspec reads it: the strict way says
    return [
        decode_message(item)
        for item in last_of(_list(_require_dict(data, "run"), "messages"), last_n)
    ]


def _loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:  # (TypeError: not text at all)
        raise CodecError(f"not JSON: {exc}") from exc


# --------------------------------------------------------------------------- runs


def _encode_requirement(req: Requirement) -> dict[str, Any]:
    return {
        "id": req.id,
        "kind": req.kind.value,
        "tool_call": _encode_tool_call(req.tool_call),
        "user_input_fields": list(req.user_input_fields),
        "resolution": req.resolution,
        "note": req.note,
        "user_input": req.user_input,
        "external_result": req.external_result,
    }


def _decode_requirement(data: Any) -> Requirement:
    _require_dict(data, "requirement")
    try:
        kind = RequirementKind(data["kind"])
    except (KeyError, ValueError) as exc:
        raise CodecError(f"requirement has no valid kind: {data.get('kind')!r}") from exc
    fields = _list(data, "user_input_fields")
    if not all(isinstance(f, str) for f in fields):
        raise CodecError("requirement user_input_fields must be strings")
    return Requirement(
        id=_str(data, "id"),
        kind=kind,
        tool_call=_decode_tool_call(_require_dict(data.get("tool_call"), "tool_call")),
        user_input_fields=tuple(fields),
        resolution=_opt_str(data, "resolution"),
        note=_opt_str(data, "note"),
        user_input=_dict(data, "user_input"),
        external_result=_opt_str(data, "external_result"),
    )


def encode_run(run: Run) -> dict[str, Any]:
    """A run as a JSON-compatible dict."""
    metrics = run.metrics
    data: dict[str, Any] = {
        "run_id": run.run_id,
        "session_id": run.session_id,
        "user_id": run.user_id,
        "agent_id": run.agent_id,
        "team_id": run.team_id,
        "parent_run_id": run.parent_run_id,
        "status": run.status.value,
        "input": run.input,
        "messages": [encode_message(m) for m in run.messages],
        "content": run.content,
        "requirements": [_encode_requirement(r) for r in run.requirements],
        "metrics": {
            "input_tokens": metrics.input_tokens,
            "output_tokens": metrics.output_tokens,
            "duration": metrics.duration,
            "model_calls": metrics.model_calls,
        },
        "error": run.error,
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "version": run.version,
        "metadata": run.metadata,
    }
    changes = run.state_changes
    if changes:
        data["state_changes"] = {"set": changes.set, "removed": list(changes.removed)}
    return data


def _decode_state_changes(data: Any) -> StateChanges:
    if data is None:
        return NO_CHANGES
    _require_dict(data, "state_changes")
    removed = _list(data, "removed")
    if not all(isinstance(k, str) for k in removed):
        raise CodecError("state_changes removed must be strings")
    try:
        return StateChanges(set=_dict(data, "set"), removed=removed)
    except InvalidInputError as exc:
        raise CodecError(f"state_changes: {exc}") from exc


def decode_run(data: Any) -> Run:
    """The inverse of :func:`encode_run`."""
    _require_dict(data, "run")
    try:
        status = RunStatus(data["status"])
    except (KeyError, ValueError) as exc:
        raise CodecError(f"run has no valid status: {data.get('status')!r}") from exc
    metrics = _require_dict(data.get("metrics", {}), "metrics")
    return Run(
        run_id=_str(data, "run_id"),
        session_id=_str(data, "session_id"),
        user_id=_opt_str(data, "user_id"),
        agent_id=_opt_str(data, "agent_id"),
        team_id=_opt_str(data, "team_id"),
        parent_run_id=_opt_str(data, "parent_run_id"),
        status=status,
        input=_opt_str(data, "input"),
        messages=tuple(decode_message(m) for m in _list(data, "messages")),
        content=_opt_str(data, "content"),
        requirements=tuple(_decode_requirement(r) for r in _list(data, "requirements")),
        metrics=RunMetrics(
            input_tokens=_int(metrics, "input_tokens"),
            output_tokens=_int(metrics, "output_tokens"),
            duration=_number(metrics, "duration"),
            model_calls=_int(metrics, "model_calls"),
        ),
        error=_opt_str(data, "error"),
        created_at=_number(data, "created_at"),
        updated_at=_number(data, "updated_at"),
        version=_int(data, "version", default=1),
        metadata=_dict(data, "metadata"),
        state_changes=_decode_state_changes(data.get("state_changes")),
    )


def _run_messages(run: Run, text: msgspec.Raw) -> tuple[Message, ...]:
    try:
        messages = fast_messages(text) or decode_messages({"messages": _loads(bytes(text))})
        return tuple(messages)
    except CodecError as exc:
        raise CorruptRecordError(run.session_id, f"run {run.run_id!r}: {exc}") from exc


_READER = RunReader(_run_messages)


def decode_run_json(text: str | bytes) -> Run:
    """A run from the JSON text :func:`encode_run` and :func:`dump_json` wrote.

    The result of ``decode_run(json.loads(text))``, faster: msgspec checks the text in
    one pass (:mod:`sessionary.codec_fast`); a record it refuses is decoded again by
    :func:`decode_run`, which says what is wrong.

    >>> run = Run(run_id="r1", session_id="s1", created_at=1.0, updated_at=1.0)
    >>> decode_run_json(dump_run(run)) == run
    True
    """
    run = _READER.run(text)
    return decode_run(_loads(text)) if run is None else run


def decode_runs_json(texts: Iterable[str | bytes]) -> list[Run]:
    """The runs of JSON texts, as :func:`decode_run_json` decodes each, with less work
    per run: a store's read of many runs. Raises :class:`CodecError` for the first text
    that is not a run (a store that must name it decodes the texts one by one then).
    """
    texts = list(texts)
    runs = _READER.runs(texts)
    return [decode_run_json(text) for text in texts] if runs is None else runs


# --------------------------------------------------------------------------- sessions


def encode_session_info(info: SessionInfo) -> dict[str, Any]:
    """A session's metadata and summary (no runs) as a JSON-compatible dict."""
    return {
        "session_id": info.session_id,
        "session_type": info.session_type.value,
        "user_id": info.user_id,
        "agent_id": info.agent_id,
        "team_id": info.team_id,
        "name": info.name,
        "name_source": info.name_source,
        "state": info.state,
        "metadata": info.metadata,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "version": info.version,
        "run_count": info.run_count,
        "last_run_status": info.last_run_status.value if info.last_run_status else None,
        "last_message_preview": info.last_message_preview,
        "input_tokens": info.input_tokens,
        "output_tokens": info.output_tokens,
        "last_run_at": info.last_run_at,
        "paused_runs": info.paused_runs,
    }


def decode_session_info(data: Any) -> SessionInfo:
    """The inverse of :func:`encode_session_info`."""
    _require_dict(data, "session")
    try:
        session_type = SessionType(data.get("session_type", "agent"))
        status = data.get("last_run_status")
        last_status = None if status is None else RunStatus(status)
    except ValueError as exc:
        raise CodecError(f"session has an invalid type or status: {exc}") from exc
    return SessionInfo(
        session_id=_str(data, "session_id"),
        session_type=session_type,
        user_id=_opt_str(data, "user_id"),
        agent_id=_opt_str(data, "agent_id"),
        team_id=_opt_str(data, "team_id"),
        name=_opt_str(data, "name"),
        name_source=_opt_str(data, "name_source"),
        state=_dict(data, "state"),
        metadata=_dict(data, "metadata"),
        created_at=_number(data, "created_at"),
        updated_at=_number(data, "updated_at"),
        version=_int(data, "version"),
        run_count=_int(data, "run_count"),
        last_run_status=last_status,
        last_message_preview=_opt_str(data, "last_message_preview"),
        input_tokens=_int(data, "input_tokens"),
        output_tokens=_int(data, "output_tokens"),
        last_run_at=_opt_float(data, "last_run_at"),
        paused_runs=_int(data, "paused_runs"),
    )


def encode_session(session: Session) -> dict[str, Any]:
    """A whole session, runs included, as a JSON-compatible dict."""
    data = encode_session_info(session)
    data["runs"] = [encode_run(run) for run in session.runs]
    return data


def decode_session(data: Any) -> Session:
    """The inverse of :func:`encode_session`: an ``AgentSession`` or a ``TeamSession``."""
    info = decode_session_info(data)
    return Session.from_info(info, (decode_run(r) for r in _list(data, "runs")))


# --------------------------------------------------------------------------- envelopes


def dumps(obj: Message | Run | SessionInfo) -> str:
    """Serialise a message, run, session info or session to JSON with a schema stamp.

    >>> loads(dumps(Message(role="user", content="hi", created_at=1.0))).content
    'hi'
    """
    if isinstance(obj, Session):
        kind, data = "session", encode_session(obj)
    elif isinstance(obj, SessionInfo):
        kind, data = "session_info", encode_session_info(obj)
    elif isinstance(obj, Run):
        kind, data = "run", encode_run(obj)
    elif isinstance(obj, Message):
        kind, data = "message", encode_message(obj)
    else:
        raise TypeError(f"cannot serialise {type(obj).__name__}")
    return dump_json({"schema": SCHEMA_VERSION, "kind": kind, "data": data})


#: The summary columns of a SQL store's session row, in the order
#: :func:`decode_session_columns` reads them.
SESSION_INFO_COLUMNS = (
    "session_id",
    "session_type",
    "user_id",
    "agent_id",
    "team_id",
    "name",
    "name_source",
    "state",
    "metadata",
    "created_at",
    "updated_at",
    "version",
    "run_count",
    "last_run_status",
    "last_message_preview",
    "input_tokens",
    "output_tokens",
    "last_run_at",
    "paused_runs",
)


def decode_session_columns(values: Sequence[Any]) -> SessionInfo:
    """A session summary from a SQL row's columns, in :data:`SESSION_INFO_COLUMNS` order,
    with ``state`` and ``metadata`` as JSON text. Raises :class:`CodecError`."""
    data = dict(zip(SESSION_INFO_COLUMNS, values, strict=True))
    for column in ("state", "metadata"):
        data[column] = _json_column(data[column], column)
    return decode_session_info(data)


def _json_column(text: Any, column: str) -> Any:
    if text == "{}":
        return {}
    if not isinstance(text, (str, bytes)):
        raise CodecError(f"column {column!r} holds {type(text).__name__}, not JSON text")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CodecError(f"column {column!r} is not JSON: {exc}") from exc


def dump_json(value: Any) -> str:
    """Compact JSON text, as the stores write it: no NaN, no ASCII escapes.

    >>> dump_json({"a": [1, "é"]})
    '{"a":[1,"é"]}'
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dump_run(run: Run) -> str:
    """A run as compact JSON through :func:`encode_run`; an unserialisable run is bad input."""
    try:
        return dump_json(encode_run(run))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"run {run.run_id!r} is not JSON-serialisable: {exc}") from exc


def loads(text: str | bytes) -> Message | Run | SessionInfo:
    """Read what :func:`dumps` wrote. Refuses a newer schema with a clear error."""
    envelope = _loads(text)
    _require_dict(envelope, "envelope")
    schema = envelope.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise CodecError("envelope has no integer 'schema' stamp")
    if schema > SCHEMA_VERSION:
        raise CodecError(
            f"record has schema version {schema}, newer than this sessionary's "
            f"{SCHEMA_VERSION}; upgrade sessionary to read it"
        )
    kind, data = envelope.get("kind"), envelope.get("data")
    if kind == "session":
        return decode_session(data)
    if kind == "session_info":
        return decode_session_info(data)
    if kind == "run":
        return decode_run(data)
    if kind == "message":
        return decode_message(data)
    raise CodecError(f"unknown record kind {kind!r}")
