"""The JSON codec round-trips every domain object exactly and refuses what it cannot read."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import math
import pickle
import threading
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessionary import codec
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Requirement, RequirementKind, Run, RunMetrics, RunStatus
from sessionary.domain.sessions import AgentSession, Session, SessionInfo, TeamSession
from sessionary.errors import CorruptRecordError
from sessionary.storage.tails import decode_each

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(), json_values, max_size=4)
texts = st.text(max_size=40)
opt_texts = st.none() | texts
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)

tool_calls = st.builds(
    ToolCall,
    id=texts,
    name=texts,
    arguments=json_objects,
    raw_arguments=opt_texts,
)
messages = st.builds(
    Message,
    role=st.sampled_from(Role),
    content=opt_texts,
    tool_calls=st.lists(tool_calls, max_size=2).map(tuple),
    tool_call_id=opt_texts,
    name=opt_texts,
    created_at=times,
    metadata=json_objects,
)
requirements = st.builds(
    Requirement,
    id=texts,
    kind=st.sampled_from(RequirementKind),
    tool_call=tool_calls,
    user_input_fields=st.lists(texts, max_size=2).map(tuple),
    resolution=opt_texts,
    note=opt_texts,
    user_input=json_objects,
    external_result=opt_texts,
)
runs = st.builds(
    Run,
    run_id=texts,
    session_id=texts,
    user_id=opt_texts,
    agent_id=opt_texts,
    team_id=opt_texts,
    parent_run_id=opt_texts,
    status=st.sampled_from(RunStatus),
    input=opt_texts,
    messages=st.lists(messages, max_size=3).map(tuple),
    content=opt_texts,
    requirements=st.lists(requirements, max_size=2).map(tuple),
    metrics=st.builds(
        RunMetrics,
        input_tokens=st.integers(0, 10**9),
        output_tokens=st.integers(0, 10**9),
        duration=st.floats(0, 1e6),
        model_calls=st.integers(0, 100),
    ),
    error=opt_texts,
    created_at=times,
    updated_at=times,
    version=st.integers(1, 10**6),
    metadata=json_objects,
)


@settings(max_examples=80, deadline=None)
@given(runs)
def test_runs_round_trip_exactly(run: Run) -> None:
    assert codec.decode_run(json.loads(json.dumps(codec.encode_run(run)))) == run
    assert codec.loads(codec.dumps(run)) == run


@settings(max_examples=30, deadline=None)
@given(st.lists(runs, max_size=3), st.sampled_from(["agent", "team"]), json_objects, opt_texts)
def test_sessions_round_trip_exactly(
    run_list: list[Run], kind: str, metadata: dict[str, Any], name: str | None
) -> None:
    info = SessionInfo(
        session_id="s",
        session_type=kind,
        user_id="u",
        name=name,
        name_source="manual",
        metadata=metadata,
        state={"k": [1, 2]},
        version=3,
        run_count=len(run_list),
        last_run_status=RunStatus.PAUSED,
        created_at=1.5,
        updated_at=2.5,
    )
    session = Session.from_info(info, run_list)
    assert isinstance(session, TeamSession if kind == "team" else AgentSession)
    back = codec.loads(codec.dumps(session))
    assert back == session
    assert type(back) is type(session)
    assert codec.loads(codec.dumps(info)) == info


def test_messages_round_trip() -> None:
    message = Message(role="tool", content="ok", tool_call_id="c1", name="t", created_at=1.0)
    assert codec.loads(codec.dumps(message)) == message


def test_the_envelope_is_stamped_with_the_schema_version() -> None:
    data = json.loads(codec.dumps(Message(role="user", content="x", created_at=0.0)))
    assert data["schema"] == codec.SCHEMA_VERSION
    assert data["kind"] == "message"


def test_a_newer_schema_is_refused_with_a_clear_message() -> None:
    text = json.dumps({"schema": codec.SCHEMA_VERSION + 1, "kind": "message", "data": {}})
    with pytest.raises(codec.CodecError, match="newer than this sessionary"):
        codec.loads(text)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "envelope must be a JSON object"),
        ('{"kind": "run", "data": {}}', "schema"),
        ('{"schema": 1, "kind": "robot", "data": {}}', "unknown record kind"),
        ('{"schema": 1, "kind": "run", "data": {"status": "weird"}}', "status"),
        ('{"schema": 1, "kind": "run", "data": {"status": "completed", "run_id": 5}}', "run_id"),
        ('{"schema": 1, "kind": "message", "data": {"role": "user", "content": 3}}', "content"),
        (
            '{"schema": 1, "kind": "run", "data": {"status": "completed", "run_id": "r", '
            '"session_id": "s", "messages": "nope"}}',
            "messages",
        ),
    ],
)
def test_undecodable_records_say_what_is_wrong(record: str, message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.loads(record)


def test_unknown_objects_are_not_serialised() -> None:
    with pytest.raises(TypeError):
        codec.dumps(object())  # type: ignore[arg-type]


# ------------------------------------------------- the fast run decoder (issue 21)


@settings(max_examples=80, deadline=None)
@given(runs)
def test_the_fast_decoder_reads_every_run_as_the_strict_one(run: Run) -> None:
    text = codec.dump_run(run)
    fast = codec.decode_run_json(text)
    assert fast == run == codec.decode_run(json.loads(text))
    assert codec.decode_run_json(text.encode()) == run
    assert codec.decode_runs_json([text, text.encode()]) == [run, run]
    assert type(fast.messages) is tuple
    assert all(type(m.metadata) is dict for m in fast.messages)


def _record(**fields: object) -> str:
    data = codec.encode_run(Run(run_id="r", session_id="s", created_at=1.0, updated_at=2.0))
    data.update(fields)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


def test_a_run_without_a_status_is_refused_not_completed() -> None:
    with pytest.raises(codec.CodecError, match="status"):
        codec.decode_run_json(_record(status=...))


def test_missing_timestamps_read_as_zero_not_as_now() -> None:
    message = {"role": "user", "content": "hi"}
    run = codec.decode_run_json(_record(created_at=..., updated_at=..., messages=[message]))
    assert (run.created_at, run.updated_at, run.messages[0].created_at) == (0.0, 0.0, 0.0)
    assert run.status is RunStatus.COMPLETED


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "weird"}, "status"),
        ({"run_id": 5}, "run_id"),
        ({"version": True}, "version"),
        ({"messages": "nope"}, "messages"),
        ({"metrics": {"input_tokens": 1.5}}, "input_tokens"),
    ],
)
def test_the_fast_decoder_says_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.decode_run_json(_record(**fields))


def test_a_corrupt_message_is_refused_when_the_messages_are_first_read() -> None:
    """A read checks a run's record; its messages are built (and checked) when first
    read, and a corrupt one is then a CorruptRecordError naming the session and run."""
    bad = [{"role": "user", "content": "fine"}, {"role": "user", "content": 3}]
    run = codec.decode_run_json(_record(messages=bad))
    assert (run.run_id, run.status, run.updated_at) == ("r", RunStatus.COMPLETED, 2.0)
    with pytest.raises(CorruptRecordError, match=r"'s'.*'r'.*content") as caught:
        run.messages  # noqa: B018
    assert caught.value.session_id == "s"
    with pytest.raises(CorruptRecordError):
        run.messages  # noqa: B018 (still refused: nothing half-built is kept)
    decoded, skipped = decode_each("s", [("r", _record(messages=bad))], codec.decode_run_json, True)
    assert (decoded, skipped) == ([], ("r",))


def test_a_lazily_decoded_run_behaves_as_a_built_one() -> None:
    message = Message(role="user", content="hi", created_at=1.0, metadata={"k": [1]})
    run = Run(run_id="r", session_id="s", messages=(message,), created_at=1.0, updated_at=2.0)
    text = codec.dump_run(run)
    assert codec.decode_run_json(text) == run
    assert pickle.loads(pickle.dumps(codec.decode_run_json(text))) == run
    assert copy.deepcopy(codec.decode_run_json(text)) == run
    assert attrs.evolve(codec.decode_run_json(text), content="x").messages == (message,)
    lazy = codec.decode_run_json(text)
    assert not hasattr(lazy, "no_such_field")
    assert lazy.is_paused is False and lazy.last_assistant_message is None
    assert "_lazy" not in repr(lazy) and repr(lazy) == repr(run)


def test_a_batch_the_fast_pass_refuses_is_read_by_the_strict_decoder() -> None:
    """msgspec refuses NaN, json.loads reads it: the batch answers as the strict decoder."""
    good, odd = _record(), _record(metadata={"x": float("nan")})
    runs = codec.decode_runs_json([good, odd])
    assert runs[0] == codec.decode_run_json(good)
    assert math.isnan(runs[1].metadata["x"])
    with pytest.raises(codec.CodecError, match="run_id"):
        codec.decode_runs_json([good, _record(run_id=5)])
    with pytest.raises(codec.CodecError, match="not JSON"):
        codec.decode_runs_json([good, 5])  # type: ignore[list-item]


def test_threads_reading_one_lazy_run_all_see_it_whole() -> None:
    """A cache hands one decoded run to many threads: each first read builds the fields
    (perhaps twice, never half), and every thread sees the same values."""
    message = Message(role="user", content="hi", created_at=1.0)
    run = Run(run_id="r", session_id="s", messages=(message,), created_at=1.0, updated_at=2.0)
    for _ in range(20):
        lazy = codec.decode_run_json(codec.dump_run(run))
        start = threading.Barrier(8)

        def read(lazy: Run = lazy, start: threading.Barrier = start) -> tuple[Any, ...]:
            start.wait()
            return (lazy.messages, lazy.run_id, lazy.updated_at, lazy.metadata)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            seen = list(pool.map(lambda _: read(), range(8)))
        assert seen == [((message,), "r", 2.0, {})] * 8
        assert lazy == run


def test_text_that_is_not_json_is_a_codec_error() -> None:
    with pytest.raises(codec.CodecError, match="not JSON"):
        codec.decode_run_json(b"\x00\xff\x10")


def test_runs_without_state_changes_share_one_immutable_empty_instance() -> None:
    """Decoding builds no StateChanges for a run that changed nothing: every such run
    holds NO_CHANGES, which refuses to be filled (a change would reach every run)."""
    from sessionary.domain.state import NO_CHANGES, StateChanges

    run = Run(run_id="r", session_id="s", created_at=1.0, updated_at=1.0)
    decoded = codec.decode_run_json(codec.dump_run(run))
    assert run.state_changes is NO_CHANGES
    assert decoded.state_changes is NO_CHANGES
    assert codec.decode_run(codec.encode_run(run)).state_changes is NO_CHANGES
    assert StateChanges() == NO_CHANGES and not NO_CHANGES
    with pytest.raises(TypeError, match="shared"):
        NO_CHANGES.set["key"] = 1
    with pytest.raises(TypeError, match="shared"):
        NO_CHANGES.set.update(key=1)
    assert NO_CHANGES.apply({"a": 1}) == {"a": 1}


@settings(max_examples=60, deadline=None)
@given(runs, st.none() | st.integers(min_value=0, max_value=5))
def test_messages_from_json_text_are_the_strict_decoders(run: Run, last_n: int | None) -> None:
    """decode_messages and decode_message on JSON text give what they give on the
    decoded value (the fast pass is msgspec's, skipping the messages not asked for)."""
    text = codec.dump_run(run)
    strict = codec.decode_messages(json.loads(text), last_n)
    assert codec.decode_messages(text, last_n) == strict
    assert codec.decode_messages(text.encode(), last_n) == strict
    for message in run.messages:
        encoded = codec.dump_json(codec.encode_message(message))
        assert codec.decode_message(encoded) == message == codec.decode_message(json.loads(encoded))


def test_a_long_runs_messages_are_split_and_only_the_last_decoded() -> None:
    """A run longer than WHOLE_RUN is split: its last messages are decoded, the earlier
    ones only checked as JSON (a shorter run is decoded whole, in one pass); both give
    the strict decoder's answer."""
    from sessionary import codec_fast

    messages = tuple(Message(role="user", content=f"m{i}", created_at=1.0) for i in range(400))
    text = codec.dump_run(Run(run_id="r", session_id="s", messages=messages))
    assert len(text) > codec_fast.WHOLE_RUN
    for last_n in (None, 0, 1, 7, 400, 401):
        strict = codec.decode_messages(json.loads(text), last_n)
        assert codec.decode_messages(text, last_n) == strict
        assert codec.decode_messages(text.encode(), last_n) == strict
    built: list[int] = []
    real = codec_fast.fast_messages

    def counting(texts: Any) -> list[Message] | None:
        built.append(len(texts))
        return real(texts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codec_fast, "fast_messages", counting)
        assert [m.content for m in codec.decode_messages(text, 3)] == ["m397", "m398", "m399"]
    assert built == [3]
    # An earlier message that is not a message is outside what a read of the last
    # three decodes, the long way or the strict one.
    broken = text.replace('"content":"m1"', '"content":1', 1)
    assert [m.content for m in codec.decode_messages(broken, 3)] == ["m397", "m398", "m399"]
    with pytest.raises(codec.CodecError, match="content"):
        codec.decode_messages(broken)


def test_messages_from_json_text_are_checked_as_strictly() -> None:
    assert codec.decode_message('{"role": "user", "content": "hi"}').created_at == 0.0
    with pytest.raises(codec.CodecError, match="content"):
        codec.decode_message('{"role": "user", "content": 3, "created_at": 1.0}')
    with pytest.raises(codec.CodecError, match="role"):
        codec.decode_messages('{"messages": [{"role": "robot"}]}')
    with pytest.raises(codec.CodecError, match="messages"):
        codec.decode_messages('{"messages": "nope"}')
    with pytest.raises(codec.CodecError, match="not JSON"):
        codec.decode_messages("{nope")
