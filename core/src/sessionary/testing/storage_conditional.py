"""Storage clauses about conditional deletes: delete only the session that was seen."""

from __future__ import annotations

import pytest

from sessionary.errors import ConflictError, InvalidInputError
from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["ConditionalClauses"]


class ConditionalClauses(SuiteBase):
    """``delete_session(..., expected_version=)``: a session that changed is not deleted.

    This is what ``sessionary sessions prune`` relies on: it lists idle sessions, then
    deletes each only if it is still at the version it listed, so a run appended in
    between is never acknowledged and then deleted.
    """

    def test_delete_at_the_seen_version_deletes(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        seen = store.get_session_info("s1")
        assert seen is not None
        assert store.delete_session("s1", expected_version=seen.version) is True
        assert store.get_session("s1") is None

    def test_delete_at_a_stale_version_deletes_nothing_and_says_so(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        seen = store.get_session_info("s1")
        assert seen is not None
        late = make_run("s1")
        store.append_run(late)  # the user came back after the session was seen
        with pytest.raises(ConflictError):
            store.delete_session("s1", expected_version=seen.version)
        session = store.get_session("s1")
        assert session is not None, "a delete at a stale version deleted the session"
        assert [run.run_id for run in session.runs][-1] == late.run_id
        assert store.get_run("s1", late.run_id) is not None

    def test_a_newer_version_than_stored_deletes_nothing(self, store: Store) -> None:
        # A store that compared with <= or >= instead of equality would delete here.
        store.append_run(make_run("s1"))
        seen = store.get_session_info("s1")
        assert seen is not None
        with pytest.raises(ConflictError):
            store.delete_session("s1", expected_version=seen.version + 1)
        assert store.get_session("s1") is not None

    def test_conditional_delete_of_a_missing_or_foreign_session_is_false(
        self, store: Store
    ) -> None:
        assert store.delete_session("nope", expected_version=1) is False
        store.append_run(make_run("s1", user_id="alice"))
        assert store.delete_session("s1", user_id="bob", expected_version=1) is False
        assert store.get_session("s1") is not None
        assert store.delete_session("s1", user_id="alice", expected_version=1) is True

    @pytest.mark.parametrize("bad", [True, "1", 1.0, -1], ids=repr)
    def test_expected_version_of_a_delete_is_checked_before_any_io(
        self, store: Store, bad: object
    ) -> None:
        store.append_run(make_run("s1"))
        with pytest.raises(InvalidInputError):
            store.delete_session("s1", expected_version=bad)  # type: ignore[arg-type]
        assert store.get_session("s1") is not None

    def test_trim_at_the_seen_version_trims(self, store: Store) -> None:
        for _ in range(3):
            store.append_run(make_run("s1"))
        seen = store.get_session_info("s1")
        assert seen is not None
        assert store.trim_runs("s1", keep_last=1, expected_version=seen.version) == 2
        assert len(store.get_runs("s1")) == 1

    def test_trim_at_a_stale_version_trims_nothing_and_says_so(self, store: Store) -> None:
        for _ in range(3):
            store.append_run(make_run("s1"))
        seen = store.get_session_info("s1")
        assert seen is not None
        store.append_run(make_run("s1"))  # a run the trimmer never saw
        before = [run.run_id for run in store.get_runs("s1")]
        with pytest.raises(ConflictError):
            store.trim_runs("s1", keep_last=1, expected_version=seen.version)
        with pytest.raises(ConflictError):
            store.trim_runs("s1", keep_last=1, expected_version=seen.version + 2)
        assert [run.run_id for run in store.get_runs("s1")] == before, "a stale trim deleted runs"
        info = store.get_session_info("s1")
        assert info is not None and (info.run_count, info.version) == (4, seen.version + 1)
