"""Encoding runs and session summaries to Redis values, and decoding them back strictly."""

from __future__ import annotations

import json
from typing import Any

from sessionary.codec import CodecError, decode_run_json, dump_json
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import CorruptRecordError, InvalidInputError, SchemaVersionError
from sessionary_redis.scripts import INFO_FIELDS, STORE_SCHEMA

__all__ = [
    "MAX_TOKENS",
    "check_tokens",
    "decode_info",
    "decode_run_text",
    "info_pairs",
    "older_schema",
    "refuse_newer",
    "text",
]

#: Token counts are summed with HINCRBY, which is a signed 64-bit integer; a bound well
#: inside it keeps a sum of many runs from overflowing half-way through a script.
MAX_TOKENS = 2**40


def text(value: Any) -> str | None:
    """A reply value as ``str`` (clients may or may not decode responses)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def check_tokens(run: Run) -> None:
    """Token counts must be integers the server can add up (checked before any I/O)."""
    for what in ("input_tokens", "output_tokens"):
        value = getattr(run.metrics, what)
        if type(value) is not int or not -MAX_TOKENS < value < MAX_TOKENS:
            raise InvalidInputError(
                f"run {run.run_id!r}: metrics.{what} must be an int below {MAX_TOKENS}, "
                f"got {value!r}"
            )


def decode_run_text(session_id: str, value: Any) -> Run:
    """A stored run, or :class:`CorruptRecordError` naming the session."""
    try:
        return decode_run_json(value)
    except (CodecError, ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, f"a run cannot be decoded: {exc}") from exc


def _json_field(fields: dict[str, str | None], key: str) -> Any:
    raw = fields[key]
    if raw is None:
        raise ValueError(f"field {key!r} is missing")
    # What most sessions hold, without the decoder (a new dict each time, as it makes).
    if raw == "null":
        return None
    if raw == "{}":
        return {}
    return json.loads(raw)


def _opt_str(value: Any, key: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string or null")
    return value


def _dict(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"field {key!r} must be an object")
    return value


def _int(fields: dict[str, str | None], key: str) -> int:
    raw = fields[key]
    if raw is None:
        raise ValueError(f"field {key!r} is missing")
    return int(raw)


def _float(fields: dict[str, str | None], key: str) -> float:
    raw = fields[key]
    if raw is None:
        raise ValueError(f"field {key!r} is missing")
    return float(raw)


def decode_info(session_id: str, values: list[Any]) -> tuple[SessionInfo, list[str]] | None:
    """The session's summary and its index keys from the hash fields, ``None`` if absent.

    Anything malformed raises :class:`CorruptRecordError` naming the session; a record
    written by a newer schema raises :class:`SchemaVersionError`.
    """
    try:
        fields = dict(
            zip(
                INFO_FIELDS,
                [v.decode("utf-8") if type(v) is bytes else text(v) for v in values],
                strict=True,
            )
        )
    except UnicodeDecodeError as exc:
        raise CorruptRecordError(session_id, f"a field is not UTF-8: {exc}") from exc
    if fields["schema"] is None and all(v is None for v in fields.values()):
        return None
    try:
        schema = _int(fields, "schema")
    except ValueError as exc:
        raise CorruptRecordError(session_id, f"no schema version: {exc}") from exc
    if schema > STORE_SCHEMA:
        raise SchemaVersionError(
            f"session {session_id!r} was written with storage schema {schema}, newer than "
            f"this sessionary-redis's {STORE_SCHEMA}; upgrade sessionary to read it"
        )
    if schema < STORE_SCHEMA:
        raise older_schema(schema)
    try:
        status = fields["status"]
        info = SessionInfo(
            session_id=session_id,
            session_type=SessionType(fields["type"]),
            user_id=fields["user"],
            agent_id=fields["agent"],
            team_id=fields["team"],
            name=_opt_str(_json_field(fields, "name"), "name"),
            name_source=_opt_str(_json_field(fields, "name_source"), "name_source"),
            state=_dict(_json_field(fields, "state"), "state"),
            metadata=_dict(_json_field(fields, "metadata"), "metadata"),
            created_at=_float(fields, "created"),
            updated_at=_float(fields, "updated"),
            version=_int(fields, "version"),
            run_count=_int(fields, "runs"),
            last_run_status=None if status is None else RunStatus(status),
            last_message_preview=fields["preview"],
            input_tokens=_int(fields, "in"),
            output_tokens=_int(fields, "out"),
            last_run_at=None if fields["lra"] is None else _float(fields, "lra"),
            paused_runs=_int(fields, "paused"),
        )
    except (ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, f"the session summary is malformed: {exc}") from exc
    index_keys = (fields["idx"] or "").split("\n") if fields["idx"] else []
    return info, index_keys


def info_pairs(info: SessionInfo, index_keys: list[str]) -> list[str]:
    """The hash fields (flattened field/value pairs) that store ``info`` whole."""
    pairs = [
        "schema",
        str(STORE_SCHEMA),
        "type",
        info.session_type.value,
        "name",
        dump_json(info.name),
        "name_source",
        dump_json(info.name_source),
        "state",
        dump_json(info.state),
        "metadata",
        dump_json(info.metadata),
        "created",
        repr(info.created_at),
        "updated",
        repr(info.updated_at),
        "version",
        str(info.version),
        "runs",
        str(info.run_count),
        "in",
        str(info.input_tokens),
        "out",
        str(info.output_tokens),
        "paused",
        str(info.paused_runs),
        "idx",
        "\n".join(index_keys),
    ]
    for key, value in (
        ("user", info.user_id),
        ("agent", info.agent_id),
        ("team", info.team_id),
        ("status", info.last_run_status.value if info.last_run_status else None),
        ("preview", info.last_message_preview),
        ("lra", None if info.last_run_at is None else repr(info.last_run_at)),
    ):
        if value is not None:
            pairs += [key, value]
    return pairs


def older_schema(schema: object) -> SchemaVersionError:
    """The error for a session of an older storage schema: the store needs migrating."""
    return SchemaVersionError(
        f"a session was written with storage schema {schema}, older than this "
        f"sessionary-redis's {STORE_SCHEMA}; nothing was written or read: upgrade the "
        "store with 'sessionary migrate --db <url>' (back it up first)"
    )


def refuse_newer(reply: Any) -> Any:
    """A script's reply, or :class:`SchemaVersionError` if it found another schema.

    Every script on a session reads the session's ``schema`` field (one ``HGET``) before
    anything else and answers ``newer`` (past this code's) or ``older`` (not migrated
    yet) without writing.
    """
    if isinstance(reply, list) and reply and reply[0] in (b"newer", "newer"):
        raise SchemaVersionError(
            f"a session was written with storage schema {text(reply[1])}, newer than this "
            f"sessionary-redis's {STORE_SCHEMA}; nothing was written or read: upgrade "
            "sessionary to use it"
        )
    if isinstance(reply, list) and reply and reply[0] in (b"older", "older"):
        raise older_schema(text(reply[1]))
    return reply
