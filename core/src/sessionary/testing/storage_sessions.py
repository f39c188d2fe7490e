"""Storage clauses about sessions: rename, state, deletion, trimming, users, listing, IDs."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    InvalidIdError,
    InvalidInputError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import BAD_IDS, HOSTILE_IDS, make_run

__all__ = ["SessionClauses"]


class SessionClauses(SuiteBase):
    """Storage clauses about sessions: rename, state, deletion, trimming, users, listing, IDs."""

    # ------------------------------------------------------------------ sessions

    def test_rename_bumps_the_version_and_keeps_the_source(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        info = store.update_session("s1", name="Product Launch Planning", name_source="manual")
        assert (info.name, info.name_source, info.version) == (
            "Product Launch Planning",
            "manual",
            2,
        )
        again = store.get_session_info("s1")
        assert again == info

    def test_compare_and_set_on_the_session_version(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        store.update_session("s1", name="Manual", name_source="manual", expected_version=1)
        with pytest.raises(ConflictError):
            store.update_session("s1", name="Auto", name_source="model", expected_version=1)
        info = store.get_session_info("s1")
        assert info is not None and info.name == "Manual"

    @pytest.mark.parametrize("bad", [True, False, "1", 1.0, -1, None], ids=repr)
    def test_expected_version_must_be_an_int_before_any_io(
        self, store: Store, bad: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store.append_run(make_run("s1"))
        before = store.get_session_info("s1")

        def no_io(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the backend was called with a bad expected_version")

        monkeypatch.setattr(store, "_update_session", no_io)
        monkeypatch.setattr(store, "_update_run", no_io)
        if bad is not None:  # None is "no compare-and-set" for update_session
            with pytest.raises(InvalidInputError, match="expected_version"):
                store.update_session("s1", name="x", name_source="manual", expected_version=bad)
        with pytest.raises(InvalidInputError, match="expected_version"):
            store.update_run(make_run("s1"), expected_version=bad)
        monkeypatch.undo()
        assert store.get_session_info("s1") == before

    def test_state_and_metadata_round_trip_including_odd_keys(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        metadata = {"$set": 1, "a.b": {"$gt": ".", "list": [1, "two", None]}, "ticket": "T-1"}
        store.update_session("s1", state={"step": 2}, metadata=metadata)
        info = store.get_session_info("s1")
        assert info is not None
        assert info.metadata == metadata
        assert info.state == {"step": 2}

    def test_update_session_rejects_bad_values_before_writing(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        with pytest.raises(InvalidInputError):
            store.update_session("s1", metadata={"x": object()})
        with pytest.raises(InvalidInputError):
            store.update_session("s1", name=42)  # type: ignore[arg-type]
        info = store.get_session_info("s1")
        assert info is not None and info.version == 1

    def test_update_of_a_missing_session_is_not_found(self, store: Store) -> None:
        with pytest.raises(SessionNotFoundError):
            store.update_session("nope", name="x", name_source="manual")

    def test_delete_session_deletes_its_runs(self, store: Store) -> None:
        run = make_run("s1")
        store.append_run(run)
        store.append_run(make_run("s2"))
        assert store.delete_session("s1") is True
        assert store.get_session("s1") is None
        assert store.get_run("s1", run.run_id) is None
        assert store.delete_session("s1") is False
        assert store.get_session("s2") is not None
        fresh = store.append_run(make_run("s1"))
        assert fresh.run_count == 1

    def test_erase_user_erases_only_that_users_sessions(self, store: Store) -> None:
        for sid in ("a1", "a2", "a3"):
            store.append_run(make_run(sid, user_id="alice"))
        store.append_run(make_run("b1", user_id="bob"))
        assert store.erase_user("alice") == 3
        assert store.list_sessions(user_id="alice").items == ()
        assert store.get_session("a1") is None
        assert store.get_session("b1") is not None
        assert store.erase_user("alice") == 0

    def test_trim_keeps_the_last_runs_and_an_exact_summary(self, store: Store) -> None:
        runs = [make_run("s1", user_id="alice", input_tokens=i, output_tokens=1) for i in range(6)]
        for run in runs:
            store.append_run(run)
        assert store.trim_runs("s1", keep_last=2, user_id="alice") == 4
        assert store.get_runs("s1") == runs[-2:]
        info = store.get_session_info("s1")
        assert info is not None
        assert (info.run_count, info.input_tokens, info.output_tokens) == (2, 4 + 5, 2)
        assert info.version == 7
        assert store.get_run("s1", runs[0].run_id) is None
        assert store.trim_runs("s1", keep_last=5) == 0
        assert store.get_session_info("s1") == info
        with pytest.raises(SessionNotFoundError):
            store.trim_runs("s1", keep_last=1, user_id="mallory")
        with pytest.raises(InvalidInputError):
            store.trim_runs("s1", keep_last=-1)
        follow = store.append_run(make_run("s1", user_id="alice"))
        assert follow.run_count == 3
        assert [r.run_id for r in store.get_runs("s1")][:2] == [r.run_id for r in runs[-2:]]

    # ------------------------------------------------------------------ user scoping

    def test_another_users_session_is_not_found(self, store: Store) -> None:
        run = make_run("s1", user_id="alice")
        store.append_run(run)
        assert store.get_session("s1", user_id="mallory") is None
        assert store.get_session_info("s1", user_id="mallory") is None
        assert store.get_run("s1", run.run_id, user_id="mallory") is None
        assert store.get_runs("s1", user_id="mallory") == []
        with pytest.raises(SessionNotFoundError):
            store.update_session("s1", user_id="mallory", name="pwned", name_source="manual")
        assert store.delete_session("s1", user_id="mallory") is False
        assert store.list_sessions(user_id="mallory").items == ()
        info = store.get_session_info("s1", user_id="alice")
        assert info is not None and info.name is None and info.version == 1

    def test_a_run_for_another_user_is_refused_before_writing(self, store: Store) -> None:
        # Refused as not found: the same type and message as for a session that does not
        # exist, so a write no more confirms that someone else's session exists than a read.
        paused = make_run("s1", user_id="alice", status=RunStatus.PAUSED)
        store.append_run(paused)
        intruder = make_run("s1", user_id="mallory")
        with pytest.raises(SessionNotFoundError) as taken:
            store.append_run(intruder)
        with pytest.raises(SessionNotFoundError) as missing:
            store.update_session("nowhere", user_id="mallory", name="x", name_source="manual")
        assert type(taken.value) is type(missing.value)
        assert str(taken.value) == str(missing.value).replace("'nowhere'", "'s1'")
        hijack = attrs.evolve(paused, user_id="mallory", content="pwned")
        with pytest.raises(RunNotFoundError) as taken_run:
            store.update_run(hijack, expected_version=1)
        with pytest.raises(RunNotFoundError) as missing_run:
            store.update_run(attrs.evolve(hijack, session_id="nowhere"), expected_version=1)
        assert type(taken_run.value) is type(missing_run.value)
        assert str(taken_run.value) == str(missing_run.value).replace("'nowhere'", "'s1'")
        info = store.get_session_info("s1")
        assert info is not None and (info.run_count, info.version, info.user_id) == (1, 1, "alice")
        assert store.get_run("s1", intruder.run_id) is None
        assert store.get_runs("s1") == [paused]

    def test_a_run_without_a_user_never_enters_an_owned_session(self, store: Store) -> None:
        # Checked in the write itself, not by a read before it: an unscoped caller that
        # found no session cannot append into one a user created in the meantime.
        paused = make_run("s1", user_id="alice", status=RunStatus.PAUSED)
        store.append_run(paused)
        with pytest.raises(SessionNotFoundError):
            store.append_run(make_run("s1"))
        with pytest.raises(RunNotFoundError):
            store.update_run(attrs.evolve(paused, user_id=None), expected_version=1)
        store.append_run(make_run("s2"))
        with pytest.raises(SessionNotFoundError):
            store.append_run(make_run("s2", user_id="alice"))
        info = store.get_session_info("s1")
        assert info is not None and (info.run_count, info.version) == (1, 1)
        assert store.get_runs("s1") == [paused]
        assert [r.user_id for r in store.get_runs("s2")] == [None]

    # ------------------------------------------------------------------ listing

    def test_listing_filters_and_orders_newest_first(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="alice", agent_id="support"))
        store.append_run(make_run("s2", user_id="alice", agent_id="sales"))
        store.append_run(make_run("s3", user_id="bob", agent_id="support"))
        store.append_run(
            make_run("t1", user_id="alice", agent_id=None, team_id="crew"),
            session_type=SessionType.TEAM,
        )
        store.update_session("s2", name="Quarterly Sales REVIEW", name_source="manual")

        def ids(page: SessionPage) -> list[str]:
            return [i.session_id for i in page.items]

        # By activity (the default), a rename moves nothing; by any write, it does.
        assert ids(store.list_sessions()) == ["t1", "s3", "s2", "s1"]
        assert ids(store.list_sessions(order_by="updated_at")) == ["s2", "t1", "s3", "s1"]
        assert ids(store.list_sessions(user_id="alice")) == ["t1", "s2", "s1"]
        assert ids(store.list_sessions(agent_id="support")) == ["s3", "s1"]
        assert ids(store.list_sessions(team_id="crew")) == ["t1"]
        assert ids(store.list_sessions(session_type="team")) == ["t1"]
        assert ids(store.list_sessions(name_contains="sales review")) == ["s2"]
        assert ids(store.list_sessions(user_id="alice", agent_id="support")) == ["s1"]
        assert all(type(i) is SessionInfo for i in store.list_sessions().items)

    def test_listing_pages_by_cursor_without_gaps_or_repeats(self, store: Store) -> None:
        for i in range(23):
            store.append_run(make_run(f"s{i:02d}", user_id="alice"))
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = store.list_sessions(user_id="alice", limit=5, cursor=cursor)
            seen.extend(i.session_id for i in page.items)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 5
        assert sorted(seen) == [f"s{i:02d}" for i in range(23)]
        assert len(set(seen)) == 23
        assert seen == [f"s{i:02d}" for i in reversed(range(23))]

    def test_name_search_folds_case_like_python_and_takes_wildcards_literally(
        self, store: Store
    ) -> None:
        for session_id, name in (
            ("s1", "Straße planning"),
            ("s2", "100% sure"),
            ("s3", "100 percent"),
            ("s4", "snake_case"),
            ("s5", "snakeXcase"),
            ("s6", "ΣΊΣΥΦΟΣ"),
            ("s7", None),
        ):
            store.append_run(make_run(session_id))
            if name is not None:
                store.update_session(session_id, name=name)

        def found(needle: str) -> list[str]:
            page = store.list_sessions(name_contains=needle)
            return sorted(i.session_id for i in page.items)

        assert found("STRASSE") == ["s1"]
        assert found("straße") == ["s1"]
        assert found("%") == ["s2"]
        assert found("0%") == ["s2"]
        assert found("_") == ["s4"]
        assert found("e_c") == ["s4"]
        assert found("σίσυφος") == ["s6"]
        assert found("\\") == []
        assert found("") == ["s1", "s2", "s3", "s4", "s5", "s6"]

    def test_equal_timestamps_list_in_code_point_order(self, store: Store) -> None:
        # Ties of updated_at order by session_id compared by code point, descending, in
        # every store: not by a collation ("a" before "B"), not by insertion order.
        ids = ["B", "a", "Z", "é", "_", "~", "a0", "ä"]
        for session_id in ids:
            run = make_run(session_id, created_at=1000.0)
            store.import_session(
                Session(session_id=session_id, created_at=1000.0, updated_at=1000.0, runs=(run,))
            )
        infos = store.list_sessions().items
        assert {i.updated_at for i in infos} == {1000.0}
        listed = [i.session_id for i in infos]
        assert listed == sorted(ids, reverse=True)
        first = store.list_sessions(limit=3)
        assert first.next_cursor is not None
        rest = store.list_sessions(limit=10, cursor=first.next_cursor)
        assert [i.session_id for i in (*first.items, *rest.items)] == listed
        assert rest.next_cursor is None

    def test_a_new_run_moves_a_session_to_the_top(self, store: Store) -> None:
        store.append_run(make_run("old"))
        store.append_run(make_run("new"))
        time.sleep(0.01)
        store.append_run(make_run("old"))
        assert [i.session_id for i in store.list_sessions().items] == ["old", "new"]

    def test_listing_rejects_bad_arguments(self, store: Store) -> None:
        for limit in (0, -1, 10_001, "5", True):
            with pytest.raises(InvalidInputError):
                store.list_sessions(limit=limit)  # type: ignore[arg-type]
        for cursor in ("not-a-cursor!", "", "e30"):
            with pytest.raises(InvalidInputError):
                store.list_sessions(cursor=cursor)
        with pytest.raises(InvalidInputError, match="session_type"):
            store.list_sessions(session_type="robot")

    # ------------------------------------------------------------------ IDs

    @pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
    def test_bad_ids_are_rejected_before_any_io(
        self, store: Store, bad: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def no_io(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the backend was called with an invalid ID")

        for method in (
            "_append_run",
            "_update_run",
            "_update_session",
            "_get_session",
            "_get_session_info",
            "_get_run",
            "_delete_session",
            "_erase_user",
            "_list_sessions",
        ):
            monkeypatch.setattr(store, method, no_io)
        calls: list[Callable[[], Any]] = [
            lambda: store.get_session(bad),
            lambda: store.get_session("ok", user_id=bad),
            lambda: store.get_session_info(bad),
            lambda: store.get_run("ok", bad),
            lambda: store.get_runs(bad),
            lambda: store.append_run(make_run(bad)),
            lambda: store.append_run(make_run("ok", user_id=bad)),
            lambda: store.append_run(make_run("ok", run_id=bad)),
            lambda: store.update_run(make_run(bad), expected_version=1),
            lambda: store.update_session(bad, name="x", name_source="manual"),
            lambda: store.delete_session(bad),
            lambda: store.erase_user(bad),
            lambda: store.list_sessions(user_id=bad),
            lambda: store.list_sessions(agent_id=bad),
        ]
        for call in calls:
            with pytest.raises(InvalidIdError):
                call()

    def test_hostile_ids_are_data_not_syntax(self, store: Store) -> None:
        for sid in HOSTILE_IDS:
            store.append_run(make_run(sid, text=f"in {sid}"))
        for sid in HOSTILE_IDS:
            session = store.get_session(sid)
            assert session is not None, sid
            assert [r.input for r in session.runs] == [f"in {sid}"], sid
        # (user "a:b", session "c") and (user "a", session "b:c") must stay apart
        store.append_run(make_run("c", user_id="a:b", text="first pair"))
        store.append_run(make_run("b:c2", user_id="a", text="second pair"))
        store.append_run(make_run("owned-by-star", user_id="*", text="star"))
        pair = store.get_session("c", user_id="a:b")
        assert pair is not None and pair.runs[0].input == "first pair"
        assert store.get_session("c", user_id="a") is None
        assert store.get_session("b:c2", user_id="a:b") is None
        assert [i.session_id for i in store.list_sessions(user_id="a:b").items] == ["c"]
        assert [i.session_id for i in store.list_sessions(user_id="a").items] == ["b:c2"]
        # a wildcard ID deletes itself only
        total = len(store.list_sessions(limit=1000).items)
        assert total == len(HOSTILE_IDS) + 3
        assert store.delete_session("*") is True
        assert len(store.list_sessions(limit=1000).items) == total - 1
        assert store.get_session("a:b") is not None
        assert store.erase_user("*") == 1
        assert len(store.list_sessions(limit=1000).items) == total - 2
        assert store.get_session("c", user_id="a:b") is not None
