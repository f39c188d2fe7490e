"""MongoDB-specific behaviour: layout, injection, size limits, server errors, costs.

Tests that take a ``factory`` run on mongomock, or on the real server when
``SESSIONARY_MONGODB_URL`` is set. Tests that take ``mock_factory`` always use
mongomock, because they inspect stored documents or count operations, or inject faults.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError, NotPrimaryError, OperationFailure
from sessionary_mongodb import DocumentTooLargeError, MongoDb
from sessionary_mongodb.mockserver import MockMongoServer
from sessionary_mongodb.store import DEFAULT_SERVER_SELECTION_TIMEOUT_MS
from sessionary_mongodb.testing import StoreFactory, url_with_db

from sessionary import Agent, open_db
from sessionary.domain.runs import RunMetrics, RunStatus
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidIdError,
    InvalidInputError,
    OwnershipError,
    SchemaVersionError,
    StorageError,
    StoreUnavailableError,
)
from sessionary.plugins.manager import get_plugin_host
from sessionary.testing import ScriptedModel
from sessionary.testing.storage import make_run

MiB = 1024 * 1024


@pytest.fixture
def store(factory: StoreFactory) -> MongoDb:
    return factory.new_store()


@pytest.fixture
def mock(mock_factory: StoreFactory) -> MongoDb:
    return mock_factory.new_store()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so a race between operations shows."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


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
        store.append_run(first)
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


# --------------------------------------------------------------------------- injection


def test_operator_and_dotted_keys_round_trip_and_are_stored_as_text(store: MongoDb) -> None:
    store.append_run(make_run("s1"))
    hostile = {
        "$set": {"$inc": {"version": 100}},
        "a.b": {"$where": "sleep(1000)", "c.d": [1, {"$gt": ""}]},
        "$": "",
        ".": None,
    }
    store.update_session("s1", state={"$unset": {"run_count": ""}}, metadata=hostile)
    info = store.get_session_info("s1")
    assert info is not None
    assert info.metadata == hostile
    assert info.state == {"$unset": {"run_count": ""}}
    assert (info.version, info.run_count) == (2, 1)  # nothing was interpreted


def test_raw_metadata_is_json_text(mock: MongoDb) -> None:
    mock.append_run(make_run("s1"))
    mock.update_session("s1", metadata={"$set": 1, "a.b": 2})
    doc = mock._sessions.find_one({"_id": "s1"})
    assert doc is not None
    assert isinstance(doc["metadata"], str)
    assert json.loads(doc["metadata"]) == {"$set": 1, "a.b": 2}
    assert "$set" not in doc and "a" not in doc


@pytest.mark.parametrize("bad", [{"$ne": None}, {"$gt": ""}, ["s1"], 1, None, b"s1"], ids=repr)
def test_non_string_ids_are_rejected_before_any_query(store: MongoDb, bad: Any) -> None:
    store.append_run(make_run("s1", user_id="alice"))
    with pytest.raises(InvalidIdError):
        store.get_session(bad)
    with pytest.raises(InvalidIdError):
        store.delete_session("s1", user_id=bad if bad is not None else 0)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdError):
        store.erase_user(bad)
    assert store.get_session("s1") is not None


def test_operator_shaped_string_ids_match_only_themselves(store: MongoDb) -> None:
    store.append_run(make_run("real", user_id="alice"))
    for sid in ("$ne", "$gt", "$where", "$regex", ".*", "this.user_id"):
        assert store.get_session(sid) is None
        assert store.delete_session(sid) is False
    assert store.get_session("real", user_id="$ne") is None
    assert store.erase_user("$exists") == 0
    assert store.get_session("real") is not None


def test_name_search_is_literal_not_a_regex(store: MongoDb) -> None:
    for sid, name in (("s1", "Alpha"), ("s2", "a.*b (draft)"), ("s3", "Plain")):
        store.append_run(make_run(sid))
        store.update_session(sid, name=name, name_source="manual")

    def found(text: str) -> list[str]:
        return [i.session_id for i in store.list_sessions(name_contains=text).items]

    assert found(".*") == ["s2"]
    assert found("(DRAFT)") == ["s2"]
    assert found("^a") == []
    assert found("a") == ["s3", "s2", "s1"]


# --------------------------------------------------------------------------- size limits


def test_a_long_session_never_hits_the_document_limit(mock_factory: StoreFactory) -> None:
    store = mock_factory.new_store(max_document_bytes=64 * 1024)
    for i in range(60):  # 60 x 4 KiB: several times the per-document limit in total
        store.append_run(make_run("long", text=f"{i}:" + "x" * 4096))
    session = store.get_session("long")
    assert session is not None and len(session.runs) == 60
    assert session.run_count == 60


def test_many_megabyte_runs_exceed_16_mib_in_total(store: MongoDb) -> None:
    for i in range(18):  # 18 MiB of runs in one session
        store.append_run(make_run("huge", text=f"{i}" + "y" * MiB))
    tail = store.get_session("huge", last_n_runs=2)
    assert tail is not None and tail.run_count == 18
    assert [r.input[:2] for r in tail.runs if r.input] == ["16", "17"]


def test_a_run_over_16_mib_is_refused_before_writing(store: MongoDb) -> None:
    store.append_run(make_run("s1"))
    big = make_run("s1", text="z" * (16 * MiB))
    with pytest.raises(DocumentTooLargeError) as caught:
        store.append_run(big)
    error = caught.value
    assert isinstance(error, InvalidInputError)
    assert (error.session_id, error.run_id) == ("s1", big.run_id)
    assert error.size > 16 * MiB and error.limit == 16 * MiB
    message = str(error)
    assert "'s1'" in message and big.run_id in message and f"{error.size:,}" in message
    info = store.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (1, 1)
    assert store.get_run("s1", big.run_id) is None
    with pytest.raises(DocumentTooLargeError):
        store.append_run(make_run("new-session", text="z" * (16 * MiB)))
    assert store.get_session_info("new-session") is None


def test_updates_and_imports_over_the_limit_are_refused(mock_factory: StoreFactory) -> None:
    store = mock_factory.new_store(max_document_bytes=8 * 1024)
    paused = make_run("s1", status=RunStatus.PAUSED)
    store.append_run(paused)
    with pytest.raises(DocumentTooLargeError, match=paused.run_id):
        store.update_run(attrs.evolve(paused, content="c" * 9000), expected_version=1)
    with pytest.raises(DocumentTooLargeError, match="session 's1'"):
        store.update_session("s1", metadata={"blob": "m" * 9000})
    stored = store.get_run("s1", paused.run_id)
    assert stored == paused
    session = store.get_session("s1")
    assert session is not None and session.version == 1
    assert store.delete_session("s1")
    oversized = attrs.evolve(session, runs=(attrs.evolve(paused, content="c" * 9000),))
    with pytest.raises(DocumentTooLargeError):
        store.import_session(oversized)
    assert store.get_session("s1") is None


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
    assert append == {"operations": 3, "read": 2, "written": 3}
    assert tail == {"operations": 2, "read": 1 + 5, "written": 0}


# --------------------------------------------------------------------------- opening


def test_urls_and_agents_open_mongodb_without_io() -> None:
    store = open_db("mongodb://127.0.0.1:1/app")
    assert isinstance(store, MongoDb) and store.db_name == "app"
    store.close()
    assert get_plugin_host().storage_by_scheme().get("mongodb+srv") is MongoDb
    agent = Agent(model=ScriptedModel(), db="mongodb://127.0.0.1:1/agents")
    assert isinstance(agent.db, MongoDb) and agent.db.db_name == "agents"
    agent.db.close()
    default = MongoDb()
    assert default.db_name == "sessionary"
    default.close()
    srv = open_db("mongodb+srv://user:pw@cluster0.example.invalid/app")
    assert isinstance(srv, MongoDb) and srv.db_name == "app"
    assert srv._client is None  # no client, so no DNS lookup, until the first operation
    srv.close()


def test_a_malformed_url_is_refused_at_once_without_its_password() -> None:
    with pytest.raises(InvalidInputError, match="not a valid MongoDB URL") as caught:
        MongoDb(db_url="mongodb://admin:hunter2@host:notaport/app")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "options",
    [
        {"db_url": "http://localhost/x"},
        {"db_url": "mongodb://localhost/a.b"},
        {"db_url": "mongodb://localhost", "db_name": "has space"},
        {"db_url": "mongodb://localhost", "db_name": "$where"},
        {"db_url": "mongodb://localhost", "db_name": ""},
        {"db_url": "mongodb://localhost", "db_name": "x" * 64},
        {"db_url": "mongodb://localhost", "client": object()},
        {"db_url": "mongodb://localhost", "ttl": -1},
        {"db_url": "mongodb://localhost", "ttl": "60"},
        {"db_url": "mongodb://localhost", "max_document_bytes": 10},
    ],
    ids=repr,
)
def test_bad_options_are_refused_clearly(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        MongoDb(**options)


def test_the_plugin_module_does_not_import_pymongo() -> None:
    code = (
        "import sys, sessionary_mongodb.plugin, sessionary_mongodb; "
        "assert 'pymongo' not in sys.modules, 'pymongo imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_url_with_db_keeps_hosts_and_options() -> None:
    assert url_with_db("mongodb://h:1", "d") == "mongodb://h:1/d"
    assert url_with_db("mongodb://h:1/?w=1", "d") == "mongodb://h:1/d?w=1"
    assert url_with_db("mongodb://h:1?w=1", "d") == "mongodb://h:1/d?w=1"


def test_an_agent_keeps_its_conversation_in_mongodb(mock: MongoDb) -> None:
    agent = Agent(model=ScriptedModel(), db=mock)
    for text in ("one", "two", "three"):
        agent.run(text, session_id="chat", user_id="alice")
    history = agent.get_chat_history(session_id="chat", user_id="alice", last_n_runs=2)
    assert [m.content for m in history] == ["two", "echo: two", "three", "echo: three"]
    assert agent.get_session(session_id="chat", user_id="bob") is None


def test_the_real_server_harness_fails_loudly_when_unreachable() -> None:
    url = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200"
    made = StoreFactory(url)
    assert made.mode == "real"
    for _ in range(2):  # the second time from the remembered reason, without waiting again
        with pytest.raises(StoreUnavailableError, match="SESSIONARY_MONGODB_URL"):
            made.new_store()
    made.cleanup()


@pytest.mark.parametrize(
    "change",
    [
        {"metrics": RunMetrics(input_tokens=10**20)},
        {"content": "lone surrogate \ud800"},
    ],
    ids=["int-too-wide", "surrogate"],
)
def test_values_bson_cannot_hold_are_refused_before_writing(
    store: MongoDb, change: dict[str, Any]
) -> None:
    store.append_run(make_run("s1"))
    bad = attrs.evolve(make_run("s1"), **change)
    with pytest.raises(InvalidInputError, match="s1"):
        store.append_run(bad)
    info = store.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (1, 1)
    assert store.get_run("s1", bad.run_id) is None


def test_numbers_bson_cannot_hold_round_trip_inside_json_text(store: MongoDb) -> None:
    run = attrs.evolve(make_run("s1"), metadata={"n": 2**70, "$x": -(2**80)})
    store.append_run(run)
    assert store.get_run("s1", run.run_id) == run
    store.update_session("s1", metadata={"big": 10**30})
    info = store.get_session_info("s1")
    assert info is not None and info.metadata == {"big": 10**30}


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


def test_update_run_for_another_user_is_refused(store: MongoDb) -> None:
    paused = make_run("s1", user_id="alice", status=RunStatus.PAUSED)
    store.append_run(paused)
    with pytest.raises(OwnershipError):
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
    with pytest.raises(ConflictError, match="already exists"):
        store.append_run(run)
    with pytest.raises(OwnershipError):
        store.append_run(make_run("s1", user_id="mallory"))
    paused = make_run("s1", user_id="alice", status=RunStatus.PAUSED)
    store.append_run(paused)
    store.update_run(attrs.evolve(paused, content="a"), expected_version=1)
    with pytest.raises(ConflictError, match="version 2, not 1"):
        store.update_run(attrs.evolve(paused, content="b"), expected_version=1)
    info = store.get_session_info("s1")
    assert info is not None and (info.run_count, info.version) == (2, 3)
