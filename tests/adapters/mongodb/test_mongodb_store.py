"""MongoDB-specific behaviour: document layout, indexes, ordering, expiry, costs.

Tests that take ``store`` or ``factory`` run on mongomock, or on the real server when
``SESSIONARY_MONGODB_URL`` is set; those that take ``mock`` or ``mock_factory`` always
use mongomock (they inspect stored documents, count operations or inject faults).
"""

from __future__ import annotations

import datetime
import json
import threading
from typing import Any

import attrs
import pymongo
import pytest
from mongodb_support import StoreFactory
from mongodb_wire import MockMongoServer
from pymongo import monitoring
from sessionary_mongodb import MongoDb

from sessionary.domain.runs import RunStatus
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    RunNotFoundError,
    SchemaVersionError,
)
from sessionary.testing.storage import make_run

# --------------------------------------------------------------------------- layout


def test_one_document_per_run_and_one_per_session(mock: MongoDb) -> None:
    for i in range(5):
        mock.append_run(make_run("s1", user_id="alice", text=f"m{i}"))
    sessions = list(mock._sessions.find({}))
    runs = list(mock._runs.find({}, sort=[("seq", 1)]))
    assert [s["_id"] for s in sessions] == ["s1"]
    assert [r["seq"] for r in runs] == [1, 2, 3, 4, 5]
    assert {r["session_key"] for r in runs} == {sessions[0]["key"]}
    assert all(json.loads(r["data"])["session_id"] == "s1" for r in runs)
    assert sessions[0]["run_count"] == 5 and sessions[0]["seq"] == 5


def test_indexes_are_created_once_and_idempotently(mock: MongoDb) -> None:
    mock.append_run(make_run("s1"))
    again = MongoDb(client=mock.client, db_name=mock.db_name)
    again.append_run(make_run("s1"))  # a second store on the same database
    runs = mock._runs.index_information()
    assert runs["session_seq"]["key"] == [("session_key", 1), ("seq", 1)]
    assert runs["session_seq"]["unique"] is True
    assert runs["session_run"]["unique"] is True
    sessions = mock._sessions.index_information()
    assert sessions["user"]["key"] == [("user_id", 1), ("updated_at", -1)]
    assert sessions["agent"]["key"] == [("agent_id", 1), ("updated_at", -1)]
    assert sessions["team"]["key"] == [("team_id", 1), ("updated_at", -1)]
    assert "expires_at" not in sessions  # no TTL index unless expiry is configured


def test_ttl_index_when_expiry_is_configured(mock_factory: StoreFactory) -> None:
    store = mock_factory.new_store(ttl=60)
    store.append_run(make_run("s1"))
    index = store._sessions.index_information()["expires_at"]
    assert index["key"] == [("expires_at", 1)]
    assert index["expireAfterSeconds"] == 0
    doc = store._sessions.find_one({"_id": "s1"})
    assert doc is not None and doc["expires_at"] is not None


def test_a_failed_append_leaves_a_gap_and_order_holds(store: MongoDb) -> None:
    first, second = make_run("s1", text="a"), make_run("s1", text="b")
    store.append_run(first)
    with pytest.raises(ConflictError):
        store.append_run(attrs.evolve(first, content="another"))
    store.append_run(second)
    assert [r.input for r in store.get_runs("s1")] == ["a", "b"]
    info = store.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (2, 2)


def test_runs_left_by_an_interrupted_delete_never_reappear(mock: MongoDb) -> None:
    mock.append_run(make_run("s1", text="old"))
    mock._sessions.delete_one({"_id": "s1"})  # the runs' delete never happened
    mock.append_run(make_run("s1", text="new"))
    assert [r.input for r in mock.get_runs("s1")] == ["new"]


def test_appends_and_updates_race_under_fast_thread_switching(
    store: MongoDb, fast_switching: None
) -> None:
    paused = make_run("busy", status=RunStatus.PAUSED)
    store.append_run(paused)
    errors: list[BaseException] = []
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def work(worker: int) -> None:
        barrier.wait()
        try:
            try:
                store.update_run(attrs.evolve(paused, content=f"w{worker}"), expected_version=1)
                wins.append(worker)
            except ConflictError:
                pass
            for index in range(15):
                store.append_run(make_run("busy", text=f"{worker}:{index}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(wins) == 1
    runs = store.get_runs("busy")
    assert len(runs) == 1 + 8 * 15
    for worker in range(8):
        mine = [r.input for r in runs if r.input and r.input.startswith(f"{worker}:")]
        assert mine == [f"{worker}:{i}" for i in range(15)]
    info = store.get_session_info("busy")
    assert info is not None and info.run_count == 1 + 8 * 15
    assert info.version == 1 + 1 + 8 * 15


# --------------------------------------------------------------------------- corrupt records


def test_a_corrupt_session_document_names_it_and_spares_the_others(mock: MongoDb) -> None:
    mock.append_run(make_run("good", user_id="alice"))
    mock.append_run(make_run("bad", user_id="alice"))
    mock._sessions.update_one({"_id": "bad"}, {"$set": {"metadata": "{not json"}})
    with pytest.raises(CorruptRecordError, match="'bad'"):
        mock.get_session_info("bad")
    mock._sessions.update_one({"_id": "bad"}, {"$set": {"metadata": "{}", "version": "x"}})
    with pytest.raises(CorruptRecordError, match="'bad'"):
        mock.get_session("bad")
    listed = [i.session_id for i in mock.list_sessions(user_id="alice").items]
    assert listed == ["good"]
    assert mock.get_session("good") is not None


def test_a_newer_schema_is_refused_with_a_clear_message(mock: MongoDb) -> None:
    mock._meta.insert_one({"_id": "schema", "version": 99})
    with pytest.raises(SchemaVersionError, match="99"):
        mock.get_session("s1")


# --------------------------------------------------------------------------- costs


def _cost(store: MongoDb, action: Any) -> dict[str, int]:
    log = store.client.log
    log.clear()
    action()
    return dict(log.total())


def test_append_and_tail_reads_cost_the_same_at_any_length(mock: MongoDb) -> None:
    mock.append_run(make_run("s1"))
    costs = {}
    for length in (10, 300):
        while True:
            info = mock.get_session_info("s1")
            assert info is not None
            if info.run_count >= length:
                break
            mock.append_run(make_run("s1"))
        costs[length] = (
            _cost(mock, lambda: mock.append_run(make_run("s1"))),
            _cost(mock, lambda: mock.get_session("s1", last_n_runs=5)),
        )
    assert costs[10] == costs[300]
    append, tail = costs[300]
    # No read of the schema record: each write checks the session's own stamp in its
    # filter, each read the stamp of the document it got.
    assert append == {"operations": 3, "read": 2, "written": 3}
    assert tail == {"operations": 2, "read": 1 + 5, "written": 0}


def test_an_expired_session_is_gone_for_every_reader_before_the_ttl_monitor(
    factory: StoreFactory,
) -> None:
    with_ttl = factory.new_store(ttl=3600)
    without_ttl = MongoDb(client=with_ttl.client, db_name=with_ttl.db_name)
    without_ttl.append_run(make_run("no-expiry", user_id="alice"))
    with_ttl.append_run(make_run("expiring", user_id="alice", text="old"))
    listed = [i.session_id for i in with_ttl.list_sessions(user_id="alice").items]
    assert listed == ["expiring", "no-expiry"]  # one without expires_at is never expired
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    with_ttl._sessions.update_one({"_id": "expiring"}, {"$set": {"expires_at": past}})
    for reader in (with_ttl, without_ttl):
        assert reader.get_session("expiring") is None
        assert reader.get_session_info("expiring") is None
        assert reader.get_runs("expiring") == []
        assert [i.session_id for i in reader.list_sessions().items] == ["no-expiry"]
    assert without_ttl.delete_session("expiring") is False
    with_ttl.append_run(make_run("no-expiry", user_id="alice"))
    with_ttl.append_run(make_run("expiring", user_id="bob", text="new"))
    fresh = with_ttl.get_session("expiring")
    assert fresh is not None and fresh.user_id == "bob"
    assert [r.input for r in fresh.runs] == ["new"]


def test_update_run_for_another_user_is_refused(store: MongoDb) -> None:
    paused = make_run("s1", user_id="alice", status=RunStatus.PAUSED)
    store.append_run(paused)
    with pytest.raises(RunNotFoundError):
        store.update_run(attrs.evolve(paused, user_id="mallory", content="x"), expected_version=1)
    assert store.get_run("s1", paused.run_id) == paused


def test_concurrent_trims_keep_the_summary_exact(store: MongoDb, fast_switching: None) -> None:
    for i in range(40):
        store.append_run(make_run("s1", input_tokens=i, output_tokens=1))
    barrier = threading.Barrier(4)
    removed: list[int] = []

    def trim(keep: int) -> None:
        barrier.wait()
        removed.append(store.trim_runs("s1", keep_last=keep))

    threads = [threading.Thread(target=trim, args=(k,)) for k in (30, 20, 10, 25)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = store.get_runs("s1")
    assert sum(removed) == 40 - len(runs)
    info = store.get_session_info("s1")
    assert info is not None
    assert info.run_count == len(runs) == 10  # the newest 10, whichever trim ran last
    assert info.input_tokens == sum(r.metrics.input_tokens for r in runs)
    assert info.output_tokens == len(runs)


class _Commands(monitoring.CommandListener):
    """The commands pymongo sends, by name."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def test_pymongo_sends_the_same_commands_at_any_length(mock_server: MockMongoServer) -> None:
    listener = _Commands()
    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        mock_server.url, event_listeners=[listener]
    )
    store = MongoDb(client=client, db_name="commands_counted")
    try:
        seen = {}
        for length in (5, 150):
            while (
                store.get_session_info("s1") or store.append_run(make_run("s1"))
            ).run_count < length:
                store.append_run(make_run("s1"))
            listener.names.clear()
            store.append_run(make_run("s1"))
            append = list(listener.names)
            listener.names.clear()
            store.get_session("s1", last_n_runs=20)
            seen[length] = (append, list(listener.names))
        assert seen[5] == seen[150]
        # No read of the schema record: the session's own stamp is checked in each step.
        assert seen[150] == (
            ["findAndModify", "insert", "findAndModify"],
            ["find", "find"],
        )
    finally:
        client.drop_database("commands_counted")
        client.close()
