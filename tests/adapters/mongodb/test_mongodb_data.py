"""IDs and metadata are data, never query syntax; the document size limit.

Tests that take ``store`` or ``factory`` run on mongomock, or on the real server when
``SESSIONARY_MONGODB_URL`` is set; those that take ``mock`` or ``mock_factory`` always
use mongomock (they inspect stored documents, count operations or inject faults).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from mongodb_support import StoreFactory
from sessionary_mongodb import DocumentTooLargeError, MongoDb

from sessionary.domain.runs import RunMetrics, RunStatus
from sessionary.errors import (
    InvalidIdError,
    InvalidInputError,
)
from sessionary.testing.storage import make_run

MiB = 1024 * 1024


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
