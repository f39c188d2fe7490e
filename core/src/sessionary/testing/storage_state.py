"""Storage clauses about session state: a run's state changes are stored with the run.

A run carries :class:`~sessionary.domain.state.StateChanges` (keys set, keys removed).
The store applies them to the session's state inside the write that stores the run:
per key, last writer wins, and a key one writer did not touch keeps what another
wrote. Nothing is applied for a run that is not stored, nor twice for a retried one.
"""

from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest

from sessionary.domain.runs import RunStatus
from sessionary.domain.state import StateChanges
from sessionary.errors import ConflictError, SessionNotFoundError
from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["StateClauses"]


def _changes(removed: tuple[str, ...] = (), **values: Any) -> StateChanges:
    return StateChanges(set=values, removed=removed)


def _state(store: Store, session_id: str) -> dict[str, Any]:
    info = store.get_session_info(session_id)
    assert info is not None, f"session {session_id!r} is missing"
    return info.state


class StateClauses(SuiteBase):
    """``Run.state_changes`` is applied to the session's state in the run's own write."""

    def test_the_first_run_of_a_new_session_stores_its_state(self, store: Store) -> None:
        run = attrs.evolve(make_run("s1"), state_changes=_changes(cart=["tea"], n=1))
        info = store.append_run(run)
        assert info.state == {"cart": ["tea"], "n": 1}
        assert _state(store, "s1") == {"cart": ["tea"], "n": 1}

    def test_runs_changing_different_keys_keep_each_others_changes(self, store: Store) -> None:
        store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(a=1, shared="x")))
        store.update_session("s1", state={"a": 1, "shared": "x", "outside": True})
        store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(b=2)))
        info = store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(shared="y")))
        assert info.state == {"a": 1, "b": 2, "shared": "y", "outside": True}
        assert _state(store, "s1") == info.state

    def test_a_removed_key_goes_and_only_that_key(self, store: Store) -> None:
        store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(a=1, b=2)))
        info = store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(("a",))))
        assert info.state == {"b": 2}
        assert _state(store, "s1") == {"b": 2}

    def test_a_run_without_changes_leaves_the_state_alone(self, store: Store) -> None:
        store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(a={"deep": [1]})))
        info = store.append_run(make_run("s1"))
        assert info.state == {"a": {"deep": [1]}}
        assert _state(store, "s1") == {"a": {"deep": [1]}}

    def test_state_changes_round_trip_in_the_run_record(self, store: Store) -> None:
        run = attrs.evolve(
            make_run("s1"), state_changes=_changes(("gone",), v=[1, {"k": "é"}], n=None)
        )
        store.append_run(run)
        stored = store.get_run("s1", run.run_id)
        assert stored is not None
        assert stored.state_changes == run.state_changes

    def test_a_run_refused_for_another_user_changes_no_state(self, store: Store) -> None:
        store.append_run(attrs.evolve(make_run("s1", user_id="alice"), state_changes=_changes(a=1)))
        intruder = attrs.evolve(make_run("s1", user_id="bob"), state_changes=_changes(a=666))
        with pytest.raises(SessionNotFoundError):
            store.append_run(intruder)
        assert _state(store, "s1") == {"a": 1}

    def test_a_refused_duplicate_run_id_changes_no_state(self, store: Store) -> None:
        first = attrs.evolve(make_run("s1"), state_changes=_changes(a=1))
        store.append_run(first)
        other = attrs.evolve(make_run("s1", text="other"), run_id=first.run_id)
        with pytest.raises(ConflictError):
            store.append_run(attrs.evolve(other, state_changes=_changes(a=2, b=3)))
        assert _state(store, "s1") == {"a": 1}

    def test_a_retried_run_is_not_applied_again(self, store: Store) -> None:
        # A store that re-applied a retried append would set "a" back to 1 here.
        first = attrs.evolve(make_run("s1"), state_changes=_changes(a=1))
        store.append_run(first)
        store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(a=2)))
        store.append_run(first)  # the retry after an ambiguous failure
        assert _state(store, "s1") == {"a": 2}

    def test_update_run_applies_what_the_run_gained_since_the_stored_version(
        self, store: Store
    ) -> None:
        paused = attrs.evolve(
            make_run("s1", status=RunStatus.PAUSED), state_changes=_changes(a=1, keep="p")
        )
        store.append_run(paused)
        store.append_run(attrs.evolve(make_run("s1"), state_changes=_changes(a=2)))
        finished = attrs.evolve(
            paused,
            status=RunStatus.COMPLETED,
            state_changes=paused.state_changes.then(_changes(("keep",), b=3)),
        )
        info = store.update_run(finished, expected_version=paused.version)
        # "a" was set by the paused part and changed since by another run: kept at 2.
        assert info.state == {"a": 2, "b": 3}
        assert _state(store, "s1") == {"a": 2, "b": 3}

    def test_update_run_at_a_stale_version_changes_no_state(self, store: Store) -> None:
        paused = attrs.evolve(make_run("s1", status=RunStatus.PAUSED))
        store.append_run(paused)
        first = attrs.evolve(paused, status=RunStatus.RUNNING, state_changes=_changes(a=1))
        store.update_run(first, expected_version=paused.version)
        late = attrs.evolve(paused, status=RunStatus.COMPLETED, state_changes=_changes(a=9, b=9))
        with pytest.raises(ConflictError):
            store.update_run(late, expected_version=paused.version)
        assert _state(store, "s1") == {"a": 1}

    def test_concurrent_writers_of_different_keys_lose_nothing(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        writers, each = 4, 5
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for i in range(each):
                    changes = StateChanges(set={f"w{worker}_{i}": i, f"last_{worker}": i})
                    store.append_run(attrs.evolve(make_run("s1"), state_changes=changes))
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        state = _state(store, "s1")
        expected = {f"w{w}_{i}": i for w in range(writers) for i in range(each)}
        expected.update({f"last_{w}": each - 1 for w in range(writers)})
        assert state == expected
