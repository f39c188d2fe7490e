"""Server errors become storage errors that say what failed, and nothing is half-written.

Tests that take ``store`` or ``factory`` run on mongomock, or on the real server when
``SESSIONARY_MONGODB_URL`` is set; those that take ``mock`` or ``mock_factory`` always
use mongomock (they inspect stored documents, count operations or inject faults).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from mongodb_support import StoreFactory, stamp_schema
from mongodb_wire import MockMongoServer
from pymongo.errors import AutoReconnect, DuplicateKeyError, NotPrimaryError, OperationFailure
from sessionary_mongodb import MongoDb
from sessionary_mongodb.store import DEFAULT_SERVER_SELECTION_TIMEOUT_MS
from sessionary_mongodb.writes import STALE_RESERVATION

from sessionary.domain.runs import RunStatus
from sessionary.errors import (
    ConflictError,
    SchemaVersionError,
    SessionNotFoundError,
    StorageError,
    StoreUnavailableError,
)
from sessionary.testing.storage import make_run

# --------------------------------------------------------------------------- server errors


def _unreachable(timeout_ms: int = 200, credentials: str = "") -> MongoDb:
    return MongoDb(
        db_url=f"mongodb://{credentials}127.0.0.1:1/app?serverSelectionTimeoutMS={timeout_ms}"
    )


def test_an_unreachable_server_is_a_storage_error_naming_it() -> None:
    store = _unreachable(credentials="admin:hunter2@")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            store.append_run(make_run("s1", run_id="r1"))
        message = str(caught.value)
        assert "127.0.0.1:1" in message and "'app'" in message
        assert "could not be reached" in message
        assert "hunter2" not in message and "admin" not in message
        with pytest.raises(StoreUnavailableError, match="pinging"):
            store.ping()
        with pytest.raises(StoreUnavailableError):
            store.get_session("s1")
        with pytest.raises(StoreUnavailableError):
            store.list_sessions()
    finally:
        store.close()


def test_server_selection_fails_in_seconds_by_default() -> None:
    store = MongoDb(db_url="mongodb://127.0.0.1:1/app")
    assert DEFAULT_SERVER_SELECTION_TIMEOUT_MS <= 5000
    assert (
        store.client.options.server_selection_timeout == DEFAULT_SERVER_SELECTION_TIMEOUT_MS / 1000
    )
    custom = MongoDb(db_url="mongodb://127.0.0.1:1/app?serverSelectionTimeoutMS=750")
    assert custom.client.options.server_selection_timeout == 0.75
    tuned = MongoDb(db_url="mongodb://127.0.0.1:1/app", server_selection_timeout_ms=1500)
    assert tuned.client.options.server_selection_timeout == 1.5
    for s in (store, custom, tuned):
        s.close()


class _Faulty:
    """A collection that raises ``error`` from ``method`` and otherwise passes through."""

    def __init__(self, collection: Any, method: str, error: Exception) -> None:
        self._collection = collection
        self._method = method
        self._error = error

    def __getattr__(self, name: str) -> Any:
        if name == self._method:

            def fail(*args: Any, **kwargs: Any) -> Any:
                raise self._error

            return fail
        return getattr(self._collection, name)


def _break(
    monkeypatch: pytest.MonkeyPatch, store: MongoDb, which: str, method: str, error: Exception
) -> None:
    attr = {"runs": "_runs", "sessions": "_sessions"}[which]
    monkeypatch.setattr(store, attr, _Faulty(getattr(store, attr), method, error))


@pytest.mark.parametrize(
    ("error", "kind", "phrase"),
    [
        (NotPrimaryError("not primary"), StoreUnavailableError, "not primary"),
        (AutoReconnect("connection reset"), StoreUnavailableError, "connection failed"),
        (DuplicateKeyError("E11000"), StorageError, "duplicate key"),
        (OperationFailure("disk full"), StorageError, "disk full"),
    ],
    ids=["not-primary", "connection-lost", "duplicate-key", "operation-failure"],
)
def test_server_errors_become_storage_errors_and_nothing_is_half_written(
    mock: MongoDb,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    kind: type[StorageError],
    phrase: str,
) -> None:
    mock.append_run(make_run("s1", text="kept"))
    with monkeypatch.context() as patch:
        _break(patch, mock, "runs", "insert_one", error)
        with pytest.raises(kind, match=phrase) as caught:
            mock.append_run(make_run("s1", run_id="r-lost"))
        assert "'s1'" in str(caught.value) and "'r-lost'" in str(caught.value)
        with pytest.raises(kind):
            mock.append_run(make_run("fresh", run_id="r-new"))
    info = mock.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (1, 1)
    assert mock.get_session_info("fresh") is None  # the session it would have made is gone
    assert [r.input for r in mock.get_runs("s1")] == ["kept"]
    _nothing_in_flight(mock, "s1")


def test_a_failed_summary_update_takes_the_run_back(
    mock: MongoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.append_run(make_run("s1", text="kept"))
    real = mock._sessions
    calls = {"n": 0}

    class SummaryFails:
        def __getattr__(self, name: str) -> Any:
            attr = getattr(real, name)
            if name != "find_one_and_update":
                return attr

            def second_call_fails(*args: Any, **kwargs: Any) -> Any:
                calls["n"] += 1
                if calls["n"] == 2:  # 1: reserve the sequence, 2: fold into the summary
                    raise AutoReconnect("primary stepped down")
                return attr(*args, **kwargs)

            return second_call_fails

    with monkeypatch.context() as patch:
        patch.setattr(mock, "_sessions", SummaryFails())
        with pytest.raises(StoreUnavailableError):
            mock.append_run(make_run("s1", text="lost"))
    assert [r.input for r in mock.get_runs("s1")] == ["kept"]
    info = mock.get_session_info("s1")
    assert info is not None and info.run_count == 1
    _nothing_in_flight(mock, "s1")


def _nothing_in_flight(mock: MongoDb, session_id: str) -> None:
    """A failed append took back its ``pending`` mark and its ``inflight`` token."""
    doc = mock._sessions.find_one({"_id": session_id})
    assert doc is not None and (doc["pending"], doc["inflight"]) == (0, [])


def test_the_store_recovers_when_the_server_comes_back(
    mock: MongoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.append_run(make_run("s1", user_id="alice"))
    with monkeypatch.context() as patch:
        _break(patch, mock, "sessions", "find_one", AutoReconnect("gone"))
        with pytest.raises(StoreUnavailableError, match="reading session 's1'"):
            mock.get_session("s1")
    session = mock.get_session("s1", user_id="alice")
    assert session is not None and session.run_count == 1


def test_the_real_server_harness_fails_loudly_when_unreachable() -> None:
    url = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"
    made = StoreFactory(url)
    assert made.mode == "real"
    for _ in range(2):  # the second time from the remembered reason, without waiting again
        with pytest.raises(StoreUnavailableError, match="SESSIONARY_MONGODB_URL"):
            made.new_store()
    made.cleanup()


def test_an_import_that_fails_halfway_leaves_nothing(
    mock: MongoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    mock.append_run(make_run("s1", user_id="alice", text="one"))
    mock.append_run(make_run("s1", user_id="alice", text="two"))
    exported = mock.get_session("s1")
    assert exported is not None and mock.delete_session("s1")
    with monkeypatch.context() as patch:
        _break(patch, mock, "sessions", "insert_one", AutoReconnect("gone mid-import"))
        with pytest.raises(StoreUnavailableError, match="importing session 's1'"):
            mock.import_session(exported)
    assert mock.get_session("s1") is None
    assert list(mock._runs.find({"session_id": "s1"})) == []  # the runs went with it
    mock.import_session(exported)
    assert mock.get_session("s1") == exported


# --------------------------------------------------------------------------- over the wire


def test_a_server_that_goes_away_and_comes_back() -> None:
    with MockMongoServer() as server:
        # The default 3 s selection timeout: once the server is back, pymongo's monitor
        # (at most one check per 500 ms) has time to find it within one selection.
        url = f"mongodb://127.0.0.1:{server.port}/app"
        store = MongoDb(db_url=url)
        try:
            store.append_run(make_run("s1", user_id="alice", text="before"))
            server.stop()
            with pytest.raises(StoreUnavailableError, match="127.0.0.1") as caught:
                store.append_run(make_run("s1", user_id="alice", run_id="r-during"))
            assert "'r-during'" in str(caught.value) and "'s1'" in str(caught.value)
            with pytest.raises(StoreUnavailableError):
                store.get_session("s1")
            server.start()  # same port, same data
            store.append_run(make_run("s1", user_id="alice", text="after"))
            runs = store.get_runs("s1", user_id="alice")
            assert [r.input for r in runs] == ["before", "after"]
            info = store.get_session_info("s1")
            assert info is not None and (info.run_count, info.version) == (2, 2)
        finally:
            store.close()


def test_server_side_duplicate_keys_and_owners_over_the_wire(wire_factory: StoreFactory) -> None:
    store = wire_factory.new_store()
    run = make_run("s1", user_id="alice")
    store.append_run(run)
    assert store.append_run(run).run_count == 1  # the same run again is a no-op
    with pytest.raises(ConflictError, match="already exists"):
        store.append_run(attrs.evolve(run, content="another"))
    with pytest.raises(SessionNotFoundError):
        store.append_run(make_run("s1", user_id="mallory"))
    paused = make_run("s1", user_id="alice", status=RunStatus.PAUSED)
    store.append_run(paused)
    store.update_run(attrs.evolve(paused, content="a"), expected_version=1)
    with pytest.raises(ConflictError, match="version 2, not 1"):
        store.update_run(attrs.evolve(paused, content="b"), expected_version=1)
    info = store.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (2, 3)


def test_a_conditional_delete_never_takes_a_session_with_an_append_in_flight(
    mock: MongoDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prune lists a session idle at version 1, then deletes it "if still at version 1"
    # while a returning user's append has reserved its slot but not yet updated the
    # summary. The delete must see the change; the append must be stored.
    mock.append_run(make_run("s1", text="old"))
    listed = mock.get_session_info("s1")
    assert listed is not None
    version = listed.version
    real = mock._runs
    outcome: dict[str, Any] = {}

    class DeleteDuringInsert:
        def __getattr__(self, name: str) -> Any:
            attr = getattr(real, name)
            if name != "insert_one" or outcome:
                return attr

            def insert_after_a_prune(*args: Any, **kwargs: Any) -> Any:
                try:
                    outcome["deleted"] = mock.delete_session("s1", expected_version=version)
                except ConflictError as exc:
                    outcome["refused"] = exc
                return attr(*args, **kwargs)

            return insert_after_a_prune

    with monkeypatch.context() as patch:
        patch.setattr(mock, "_runs", DeleteDuringInsert())
        mock.append_run(make_run("s1", text="returning user"))
    assert "deleted" not in outcome and isinstance(outcome.get("refused"), ConflictError)
    assert [r.input for r in mock.get_runs("s1")] == ["old", "returning user"]
    info = mock.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (2, 2)


def test_an_append_that_died_between_its_steps_shields_its_session_only_for_a_while(
    mock: MongoDb,
) -> None:
    mock.append_run(make_run("s1"))
    listed = mock.get_session_info("s1")
    assert listed is not None
    mock._sessions.update_one({"_id": "s1"}, {"$set": {"pending": 1, "reserved_at": time.time()}})
    with pytest.raises(ConflictError, match="being appended"):
        mock.delete_session("s1", expected_version=listed.version)
    stale = time.time() - STALE_RESERVATION - 1
    mock._sessions.update_one({"_id": "s1"}, {"$set": {"reserved_at": stale}})
    assert mock.delete_session("s1", expected_version=listed.version) is True


@pytest.mark.parametrize("step", ["insert_one", "find_one_and_update"])
def test_a_migration_between_the_steps_of_a_write_leaves_nothing_written(
    mock: MongoDb, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # A newer sessionary migrates the session while this (older) store is between the
    # run write and the summary update of an append (insert_one) or a continue
    # (find_one_and_update on the run): the summary update's filter sees the new stamp,
    # the run is taken back, and the caller gets SchemaVersionError.
    paused = make_run("s1", status=RunStatus.PAUSED, text="kept")
    mock.append_run(paused)
    before = mock.get_session("s1")
    real = mock._runs
    done: list[bool] = []

    class MigrateDuringRunWrite:
        def __getattr__(self, name: str) -> Any:
            attr = getattr(real, name)
            if name != step or done:
                return attr

            def write_then_migrate(*args: Any, **kwargs: Any) -> Any:
                result = attr(*args, **kwargs)
                done.append(True)
                stamp_schema(mock._meta, mock._sessions, "s1", newer=True)
                return result

            return write_then_migrate

    finished = attrs.evolve(paused, status=RunStatus.COMPLETED, content="done")
    write: Callable[[], object] = {
        "insert_one": lambda: mock.append_run(make_run("s1", text="lost")),
        "find_one_and_update": lambda: mock.update_run(finished, expected_version=paused.version),
    }[step]
    with monkeypatch.context() as patch:
        patch.setattr(mock, "_runs", MigrateDuringRunWrite())
        with pytest.raises(SchemaVersionError):
            write()
    assert done
    stamp_schema(mock._meta, mock._sessions, "s1", newer=False)
    assert mock.get_session("s1") == before
