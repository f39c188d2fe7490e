"""Redis operations that take several steps, with another writer between the steps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sessionary_redis import RedisDb
from sessionary_redis.calls import Request

from sessionary.storage.driving import drive_sync
from sessionary.testing.storage import make_run


@pytest.fixture
def db(redis_url: str, prefix: str) -> Iterator[RedisDb]:
    store = RedisDb(redis_url, prefix=prefix)
    yield store
    store.close()


def test_a_run_appended_while_erase_user_runs_is_erased_not_left_unlisted(db: RedisDb) -> None:
    for sid in ("s1", "s2"):
        db.append_run(make_run(sid, user_id="alice"))
    returned = [make_run("s1", user_id="alice", text="I am back")]

    def send(request: Request) -> Any:
        reply = db._send(request)
        if request.what == "delete session 's1'" and returned:
            # Alice appends to s1 right after erase deleted it, before erase clears
            # her index: the run must not survive unlisted, out of reach of the next erase.
            db.append_run(returned.pop())
        return reply

    drive_sync(db._erase_user_op("alice"), send)
    assert db.list_sessions(user_id="alice").items == ()
    assert db.get_session("s1") is None, "a run appended during erase_user survived, unlisted"
    assert db.erase_user("alice") == 0


def test_a_session_recreated_after_its_delete_stays_listed(db: RedisDb) -> None:
    db.append_run(make_run("s1", user_id="alice"))
    again = make_run("s1", user_id="alice", text="new")

    def send(request: Request) -> Any:
        reply = db._send(request)
        if request.what == "delete session 's1'":
            db.append_run(again)  # between the delete and taking it out of the indexes
        return reply

    assert drive_sync(db._delete_op("s1", "alice", None), send) is True
    listed = [info.session_id for info in db.list_sessions(user_id="alice").items]
    assert listed == ["s1"], "the new session was taken out of its user's listing"
