"""The fast run decoder (issue 21) reads exactly what the strict one reads, and refuses alike."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from test_codec import runs

from sessionary import codec
from sessionary.domain.runs import Run, RunStatus


@settings(max_examples=80, deadline=None)
@given(runs)
def test_the_fast_decoder_reads_every_run_as_the_strict_one(run: Run) -> None:
    text = codec.dump_run(run)
    fast = codec.decode_run_json(text)
    assert fast == run == codec.decode_run(json.loads(text))
    assert codec.decode_run_json(text.encode()) == run
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
        ({"messages": [{"role": "user", "content": 3}]}, "content"),
        ({"metrics": {"input_tokens": 1.5}}, "input_tokens"),
    ],
)
def test_the_fast_decoder_says_what_is_wrong(fields: dict[str, object], message: str) -> None:
    with pytest.raises(codec.CodecError, match=message):
        codec.decode_run_json(_record(**fields))


def test_text_that_is_not_json_is_a_codec_error() -> None:
    with pytest.raises(codec.CodecError, match="not JSON"):
        codec.decode_run_json(b"\x00\xff\x10")
