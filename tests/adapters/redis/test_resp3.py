"""The RESP3 reader the session watcher uses: every frame type, and frames cut anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sessionary_redis.resp3 import Incomplete, ProtocolError, Push, ReplyError, pack, parse

FRAMES: list[tuple[bytes, Any]] = [
    (b"+OK\r\n", "OK"),
    (b"-ERR unknown command\r\n", ReplyError("ERR unknown command")),
    (b":42\r\n", 42),
    (
        b"(3492890328409238509324850943850943825024385\r\n",
        3492890328409238509324850943850943825024385,
    ),
    (b",1.5\r\n", 1.5),
    (b"#t\r\n", True),
    (b"_\r\n", None),
    (b"$-1\r\n", None),
    (b"*-1\r\n", None),
    (b"$0\r\n\r\n", b""),
    (b"$5\r\nhe\r\no\r\n", b"he\r\no"),  # a bulk string may hold CRLF
    (b"=7\r\ntxt:abc\r\n", b"abc"),
    (b"!9\r\nERR boom!\r\n", ReplyError("ERR boom!")),
    (b"*3\r\n$7\r\nversion\r\n_\r\n:1\r\n", [b"version", None, 1]),
    (b"%1\r\n+proto\r\n:3\r\n", {"proto": 3}),
    (b"~2\r\n:1\r\n:2\r\n", [1, 2]),
    (b"|1\r\n+ttl\r\n:3\r\n:7\r\n", 7),  # attributes are skipped
    (
        b">2\r\n$10\r\ninvalidate\r\n*2\r\n$3\r\na:1\r\n$3\r\nb:2\r\n",
        Push([b"invalidate", [b"a:1", b"b:2"]]),
    ),
    (b">2\r\n$10\r\ninvalidate\r\n_\r\n", Push([b"invalidate", None])),  # FLUSHALL
]


@pytest.mark.parametrize(("data", "value"), FRAMES)
def test_each_frame_type_is_read(data: bytes, value: Any) -> None:
    parsed, end = parse(data + b"+next\r\n")
    assert parsed == value and type(parsed) is type(value)
    assert end == len(data)


@pytest.mark.parametrize(("data", "value"), FRAMES)
def test_a_frame_cut_anywhere_is_incomplete(data: bytes, value: Any) -> None:
    for cut in range(len(data)):
        with pytest.raises(Incomplete):
            parse(data[:cut])


def test_frames_follow_each_other_from_any_position() -> None:
    stream = b"".join(data for data, _ in FRAMES)
    pos, values = 0, []
    while pos < len(stream):
        value, pos = parse(stream, pos)
        values.append(value)
    assert values == [value for _, value in FRAMES]


@pytest.mark.parametrize("data", [b"?what\r\n", b":nan\r\n", b"$x\r\n", b"*two\r\n"])
def test_bytes_that_are_not_resp3_are_a_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse(data)


@given(st.lists(st.one_of(st.binary(max_size=30), st.text(max_size=10), st.integers())))
def test_a_packed_command_reads_back_as_its_arguments(args: list[Any]) -> None:
    command = ["HMGET", *args]
    parsed, end = parse(pack(*command))
    expected = [a if isinstance(a, bytes) else str(a).encode() for a in command]
    assert parsed == expected and end == len(pack(*command))
