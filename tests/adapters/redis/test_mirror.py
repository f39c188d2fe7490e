"""The watcher's state machine alone: frames applied in arrival order, without a server.

Each test plays the frames a tracking connection could deliver, in an order the server
can produce, and checks what the mirror then knows.
"""

from __future__ import annotations

from typing import Any

import pytest
from sessionary_redis.mirror import Mirror, UnaskedReply
from sessionary_redis.records import info_pairs
from sessionary_redis.resp3 import Push, ReplyError
from sessionary_redis.scripts import INFO_FIELDS

from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import CorruptRecordError

KEY = b"app:s:{chat}"
OTHER = b"app:s:{other}"


def info(version: int, created: float = 1000.0, session_id: str = "chat") -> SessionInfo:
    return SessionInfo(
        session_id=session_id,
        session_type=SessionType.AGENT,
        user_id="alice",
        created_at=created,
        updated_at=created + version,
        version=version,
        run_count=version,
    )


def summary_reply(of: SessionInfo | None) -> list[Any]:
    """The reply of ``HMGET key <INFO_FIELDS>`` for a stored summary (``None``: no key)."""
    if of is None:
        return [None] * len(INFO_FIELDS)
    pairs = info_pairs(of, ["app:x:all"])
    fields = dict(zip(pairs[::2], pairs[1::2], strict=True))
    return [None if fields.get(f) is None else str(fields[f]).encode() for f in INFO_FIELDS]


def confirm_reply(of: SessionInfo) -> list[bytes]:
    return [str(of.version).encode(), repr(of.created_at).encode()]


def invalidate(*keys: bytes) -> Push:
    return Push([b"invalidate", list(keys)])


@pytest.fixture
def mirror() -> Mirror:
    return Mirror(max_sessions=3, ttl=False, server="Redis at test")


def test_a_read_is_remembered_and_answers(mirror: Mirror) -> None:
    request = mirror.read_sent(KEY, "chat", now=1.0)
    assert not mirror.knows(KEY, now=1.0)  # its reply has not come
    mirror.apply(summary_reply(info(3)))
    assert request.done and request.value == info(3)
    assert mirror.knows(KEY, now=2.0) and mirror.answer(KEY) == info(3)
    assert mirror.proven_at == 1.0


def test_a_missing_session_is_remembered_as_missing(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0)
    mirror.apply(summary_reply(None))
    assert mirror.knows(KEY, now=2.0) and mirror.answer(KEY) is None


def test_a_notice_before_the_reply_is_already_in_the_reply(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0)
    mirror.apply(invalidate(KEY))  # a write the read ran after
    mirror.apply(summary_reply(info(4)))
    assert mirror.knows(KEY, now=2.0) and mirror.answer(KEY) == info(4)


def test_a_notice_after_the_reply_drops_it(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0)
    mirror.read_sent(OTHER, "other", now=1.0)
    mirror.apply(summary_reply(info(4)))
    mirror.apply(summary_reply(info(1, session_id="other")))
    mirror.apply(invalidate(KEY))
    assert not mirror.knows(KEY, now=2.0) and mirror.knows(OTHER, now=2.0)


def test_a_flush_drops_everything(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0)
    mirror.apply(summary_reply(info(4)))
    mirror.apply(Push([b"invalidate", None]))
    assert len(mirror) == 0


def test_other_pushes_change_nothing(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0)
    mirror.apply(summary_reply(info(4)))
    mirror.apply(Push([b"MOVING", 1, b"elsewhere"]))
    assert mirror.knows(KEY, now=2.0)


def test_it_keeps_the_most_recently_used_within_its_bound(mirror: Mirror) -> None:
    for index in range(4):
        key = b"app:s:{s%d}" % index
        mirror.read_sent(key, f"s{index}", now=1.0)
        mirror.apply(summary_reply(info(1, session_id=f"s{index}")))
        if index == 2:
            mirror.answer(b"app:s:{s0}")  # s0 used again: s1 is now the oldest
    assert len(mirror) == 3
    assert not mirror.knows(b"app:s:{s1}", now=2.0) and mirror.knows(b"app:s:{s0}", now=2.0)


def test_a_confirming_read_keeps_the_summary_only_if_it_matches(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0, expected=info(5))
    mirror.apply(confirm_reply(info(5)))
    assert mirror.answer(KEY) == info(5)
    mirror.read_sent(KEY, "chat", now=2.0, expected=info(6))
    mirror.apply(confirm_reply(info(7)))  # somebody wrote in between
    assert not mirror.knows(KEY, now=3.0)


def test_a_write_sent_here_keeps_the_summary_it_returned(mirror: Mirror) -> None:
    write = mirror.write_sent(KEY, now=1.0)
    mirror.apply([b"ok", 1, []])  # the script's reply
    assert write.raw == [b"ok", 1, []]
    mirror.apply(invalidate(KEY))  # the write's own notice comes before the read behind it
    mirror.apply(confirm_reply(info(6)))
    assert not mirror.knows(KEY, now=2.0)  # the write's summary is not known yet
    assert mirror.claim(KEY, info(6))
    assert mirror.knows(KEY, now=2.0) and mirror.answer(KEY) == info(6)


def test_the_summary_may_be_told_before_the_read_behind_the_write_arrives(
    mirror: Mirror,
) -> None:
    mirror.write_sent(KEY, now=1.0)
    mirror.apply([b"ok", 1, []])
    assert mirror.claim(KEY, info(6))  # told first
    assert not mirror.knows(KEY, now=2.0)  # the read is still on the way
    mirror.apply(invalidate(KEY))
    mirror.apply(confirm_reply(info(6)))
    assert mirror.answer(KEY) == info(6)


def test_a_write_that_failed_or_was_overtaken_is_not_kept(mirror: Mirror) -> None:
    mirror.write_sent(KEY, now=1.0)
    mirror.apply(ReplyError("ERR owner"))
    mirror.apply(confirm_reply(info(5)))
    assert mirror.claim(KEY, None) and not mirror.knows(KEY, now=2.0)
    mirror.write_sent(KEY, now=2.0)
    mirror.apply([b"ok", 1, []])
    mirror.apply(confirm_reply(info(6)))
    mirror.apply(invalidate(KEY))  # another client wrote after the read behind the write
    assert not mirror.claim(KEY, info(6))  # nothing to claim: it must be read again
    assert not mirror.knows(KEY, now=3.0)


def test_with_a_ttl_a_summary_is_trusted_no_longer_than_its_key_lives() -> None:
    mirror = Mirror(max_sessions=3, ttl=True, server="Redis at test")
    mirror.read_sent(KEY, "chat", now=10.0)
    mirror.apply(summary_reply(info(2)))
    assert not mirror.knows(KEY, now=10.1)  # its time to live has not come yet
    mirror.apply(1500)  # PTTL: 1.5 s left when the read ran
    assert mirror.knows(KEY, now=11.4)
    assert not mirror.knows(KEY, now=11.5)  # expired: read it again
    mirror.read_sent(KEY, "chat", now=12.0)
    mirror.apply(summary_reply(None))
    mirror.apply(-2)  # no such key: nothing expires
    assert mirror.knows(KEY, now=1e9) and mirror.answer(KEY) is None


def test_a_damaged_or_refused_read_is_the_callers_error(mirror: Mirror) -> None:
    request = mirror.read_sent(KEY, "chat", now=1.0)
    mirror.apply(ReplyError("WRONGTYPE Operation against a key holding the wrong kind"))
    assert isinstance(request.error, CorruptRecordError) and "chat" in str(request.error)
    request = mirror.read_sent(KEY, "chat", now=2.0)
    mirror.apply([b"not a schema"] + [None] * (len(INFO_FIELDS) - 1))
    assert isinstance(request.error, CorruptRecordError)
    assert not mirror.knows(KEY, now=3.0)


def test_a_reply_nobody_asked_for_breaks_the_connection(mirror: Mirror) -> None:
    with pytest.raises(UnaskedReply):
        mirror.apply(b"PONG")


def test_clearing_forgets_what_was_on_the_way(mirror: Mirror) -> None:
    mirror.read_sent(KEY, "chat", now=1.0)
    mirror.write_sent(OTHER, now=1.0)
    mirror.clear()
    assert len(mirror) == 0 and not mirror.requests and not mirror.in_flight
    assert mirror.proven_at == float("-inf")
