"""Storage clauses of the inbox: ordering by activity, filters, counts and history paging.

``last_run_at`` moves only when a run is appended or continued; ``paused_runs`` counts
the paused runs exactly after every write; ``list_sessions`` filters and orders on
them, ``count_sessions`` counts what it would list, and ``get_session(before_run=)``
reads the page of history before a run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import pytest

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import InvalidIdError, InvalidInputError, RunNotFoundError
from sessionary.storage.base import Store
from sessionary.storage.listing import ORDERS, count_arguments
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["InboxClauses"]

#: The time the inbox data set starts at (seconds since the epoch, well in the past).
T0 = 1_700_000_000.0

P, C, E = RunStatus.PAUSED, RunStatus.COMPLETED, RunStatus.ERROR


def imported(
    store: Store,
    session_id: str,
    *,
    created: float,
    runs: Sequence[tuple[float, RunStatus]] = (),
    user_id: str | None = None,
    agent_id: str | None = "support",
    team_id: str | None = None,
    name: str | None = None,
) -> SessionInfo:
    """Import a session created at ``T0 + created`` with runs at ``T0 + t`` of each status."""
    kind = SessionType.TEAM if team_id is not None else SessionType.AGENT
    stored = tuple(
        make_run(
            session_id,
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            status=status,
            created_at=T0 + at,
            text=f"turn {i}",
        )
        for i, (at, status) in enumerate(runs)
    )
    session = Session.from_info(
        SessionInfo(
            session_id=session_id,
            session_type=kind,
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            name=name,
            created_at=T0 + created,
            updated_at=T0 + created,
        ),
        stored,
    )
    return store.import_session(session)


def inbox(store: Store) -> None:
    """Six sessions: active and created at known times, paused and not, with and without runs.

    ======  =====  =======  =====  ========  ================  ===================
    id      user   owner    made   activity  last status       paused runs
    ======  =====  =======  =====  ========  ================  ===================
    a       alice  support  10     20        completed         0
    b       alice  sales    30     40        paused            1
    c       bob    support  50     70        completed         1 (the user went on)
    d       alice  crew     80     90        error             0 (a team session)
    e       bob    support  100    none      none              0 (no runs)
    f       alice  support  5      200       completed         0
    ======  =====  =======  =====  ========  ================  ===================
    """
    imported(store, "a", created=10, runs=[(20, C)], user_id="alice", name="Refund A-1001")
    imported(store, "b", created=30, runs=[(40, P)], user_id="alice", agent_id="sales")
    imported(store, "c", created=50, runs=[(60, P), (70, C)], user_id="bob", name="refund later")
    imported(store, "d", created=80, runs=[(90, E)], user_id="alice", agent_id=None, team_id="crew")
    imported(store, "e", created=100, user_id="bob")
    imported(store, "f", created=5, runs=[(200, C)], user_id="alice")


def ids(store: Store, **arguments: Any) -> list[str]:
    """The session IDs ``list_sessions`` gives with these arguments, every page."""
    listed: list[str] = []
    cursor = None
    while True:
        page = store.list_sessions(**arguments, cursor=cursor)
        listed.extend(info.session_id for info in page.items)
        cursor = page.next_cursor
        if cursor is None:
            return listed


#: Filters alone and together, each checked in every order against the reference.
FILTERS: tuple[dict[str, Any], ...] = (
    {},
    {"user_id": "alice"},
    {"agent_id": "support"},
    {"team_id": "crew"},
    {"session_type": "team"},
    {"name_contains": "REFUND"},
    {"status": "paused"},
    {"status": RunStatus.COMPLETED},
    {"status": "error"},
    {"status": "running"},
    {"has_paused": True},
    {"has_paused": False},
    {"active_after": T0 + 40},
    {"active_before": T0 + 90},
    {"active_after": T0 + 40, "active_before": T0 + 90},
    {"created_after": T0 + 30},
    {"created_before": T0 + 50},
    {"created_after": T0 + 10, "created_before": T0 + 80},
    {"user_id": "alice", "has_paused": True},
    {"user_id": "bob", "status": "completed", "has_paused": True},
    {"agent_id": "support", "active_after": T0 + 20, "created_before": T0 + 60},
    {"user_id": "alice", "status": "completed", "name_contains": "refund"},
    {"has_paused": False, "created_after": T0 + 5, "active_before": T0 + 100},
    {"session_type": "agent", "has_paused": False, "status": "completed", "user_id": "alice"},
)


class InboxClauses(SuiteBase):
    """``last_run_at``, ``paused_runs``, the inbox filters, ``count_sessions``, ``before_run``."""

    # ------------------------------------------------------------------ activity

    def test_activity_order_is_unchanged_by_rename_state_and_trim(self, store: Store) -> None:
        for session_id in ("a", "b", "c"):
            store.append_run(make_run(session_id, user_id="u"))
            store.append_run(make_run(session_id, user_id="u"))
        before = {i.session_id: i.last_run_at for i in store.list_sessions().items}
        assert ids(store) == ["c", "b", "a"]
        store.update_session("a", user_id="u", name="Renamed", name_source="manual")
        store.update_session("a", user_id="u", state={"k": 1}, metadata={"m": 2})
        assert store.trim_runs("a", keep_last=1, user_id="u") == 1
        assert ids(store) == ["c", "b", "a"]
        assert ids(store, order_by="updated_at") == ["a", "c", "b"]
        assert {i.session_id: i.last_run_at for i in store.list_sessions().items} == before
        store.replace_last_runs("b", 1, [make_run("b", user_id="u", text="shorter")], user_id="u")
        assert store.get_session_info("b").last_run_at == before["b"]  # type: ignore[union-attr]
        assert ids(store) == ["c", "b", "a"]

    def test_append_and_continue_move_a_session_up(self, store: Store) -> None:
        paused = make_run("a", user_id="u", status=P)
        store.append_run(paused)
        store.append_run(make_run("b", user_id="u"))
        store.append_run(make_run("c", user_id="u"))
        assert ids(store) == ["c", "b", "a"]
        first = store.get_session_info("a")
        info = store.update_run(attrs.evolve(paused, status=C), expected_version=1)
        assert first is not None and first.last_run_at is not None
        assert info.last_run_at is not None and info.last_run_at >= first.last_run_at
        assert ids(store) == ["a", "c", "b"]
        assert store.append_run(make_run("b", user_id="u")).last_run_at is not None
        assert ids(store) == ["b", "a", "c"]

    def test_sessions_without_runs_order_by_creation_and_match_no_activity_bound(
        self, store: Store
    ) -> None:
        inbox(store)
        info = store.get_session_info("e")
        assert info is not None and (info.last_run_at, info.paused_runs) == (None, 0)
        assert info.run_count == 0 and info.last_run_status is None
        assert ids(store) == ["f", "e", "d", "c", "b", "a"]
        assert "e" not in ids(store, active_after=0)
        assert "e" not in ids(store, active_before=T0 + 10_000)
        assert "e" in ids(store, has_paused=False) and "e" not in ids(store, status="completed")

    def test_imported_activity_is_kept_or_taken_from_the_newest_run(self, store: Store) -> None:
        inbox(store)
        expected = {"a": 20, "b": 40, "c": 70, "d": 90, "f": 200}
        for session_id, at in expected.items():
            info = store.get_session_info(session_id)
            assert info is not None and info.last_run_at == T0 + at, session_id
        a = store.get_session("a")
        assert a is not None
        given = Session.from_info(
            attrs.evolve(a.info, session_id="g", last_run_at=T0 + 15),
            [attrs.evolve(r, session_id="g") for r in a.runs],
        )
        assert store.import_session(given).last_run_at == T0 + 15
        assert store.get_session_info("g").last_run_at == T0 + 15  # type: ignore[union-attr]
        with pytest.raises(InvalidInputError, match="last_run_at"):
            store.import_session(attrs.evolve(given, session_id="h", runs=(), last_run_at=math.nan))

    # ------------------------------------------------------------------ filters

    def test_each_filter_and_combination_lists_and_counts_what_matches(self, store: Store) -> None:
        inbox(store)
        infos = [store.get_session_info(s) for s in "abcdef"]
        assert all(info is not None for info in infos)
        for arguments in FILTERS:
            reference = count_arguments(**arguments)
            matching = [i for i in infos if i is not None and reference.matches(i)]
            for order in ORDERS:
                ordered = attrs.evolve(reference, order_by=order)
                expected = [
                    i.session_id for i in sorted(matching, key=ordered.sort_key, reverse=True)
                ]
                listed = ids(store, **arguments, order_by=order, limit=2)
                assert listed == expected, (arguments, order)
            assert store.count_sessions(**arguments) == len(matching), arguments

    def test_the_filters_mean_what_they_say(self, store: Store) -> None:
        inbox(store)
        assert ids(store, status="paused") == ["b"]
        assert ids(store, has_paused=True) == ["c", "b"]
        assert ids(store, has_paused=False) == ["f", "e", "d", "a"]
        assert ids(store, user_id="alice", has_paused=True) == ["b"]
        assert ids(store, name_contains="refund") == ["c", "a"]
        assert ids(store, order_by="created_at") == ["e", "d", "c", "b", "a", "f"]
        assert ids(store, order_by="updated_at") == ["f", "e", "d", "c", "b", "a"]
        assert store.count_sessions() == 6
        assert store.count_sessions(user_id="alice", status="completed") == 2
        assert store.count_sessions(user_id="nobody") == 0

    def test_time_bounds_are_inclusive_after_and_exclusive_before(self, store: Store) -> None:
        inbox(store)
        assert ids(store, active_after=T0 + 40) == ["f", "d", "c", "b"]
        assert ids(store, active_before=T0 + 40) == ["a"]
        assert ids(store, active_after=T0 + 40, active_before=T0 + 40) == []
        assert ids(store, active_after=T0 + 70, active_before=T0 + 90.5) == ["d", "c"]
        assert ids(store, created_after=T0 + 50) == ["e", "d", "c"]
        assert ids(store, created_before=T0 + 50) == ["f", "b", "a"]
        assert ids(store, created_after=int(T0) + 10, created_before=int(T0) + 11) == ["a"]
        assert store.count_sessions(active_after=T0 + 40, active_before=T0 + 90) == 2
        assert store.count_sessions(created_after=T0 + 100) == 1

    # ------------------------------------------------------------------ paused runs

    def test_paused_runs_stay_exact_after_every_write(self, store: Store) -> None:
        def paused(session_id: str = "s") -> int:
            info = store.get_session_info(session_id, user_id="u")
            return -1 if info is None else info.paused_runs

        first = make_run("s", user_id="u", status=P)
        store.append_run(first)
        assert paused() == 1 and ids(store, status="paused") == ["s"]
        store.append_run(make_run("s", user_id="u", text="another message"))
        assert paused() == 1  # the user went on: still waiting for its approval
        assert ids(store, status="paused") == [] and ids(store, has_paused=True) == ["s"]
        second = make_run("s", user_id="u", status=P)
        store.append_run(second)
        assert paused() == 2 and store.count_sessions(has_paused=True) == 1
        store.update_run(attrs.evolve(first, status=C), expected_version=1)
        assert paused() == 1
        store.update_run(attrs.evolve(second, status=P, content="still"), expected_version=1)
        assert paused() == 1
        store.replace_last_runs("s", 1, [make_run("s", user_id="u")], user_id="u")
        assert paused() == 0 and ids(store, has_paused=False) == ["s"]
        store.replace_last_runs("s", 0, [make_run("s", user_id="u", status=P)], user_id="u")
        store.append_run(make_run("s", user_id="u"))
        assert paused() == 1
        store.trim_runs("s", keep_last=1, user_id="u")
        assert paused() == 0 and store.count_sessions(has_paused=True) == 0
        whole = store.get_session("s", user_id="u")
        assert whole is not None
        runs = [attrs.evolve(make_run("t", user_id="u", status=P), created_at=1.0) for _ in "ab"]
        told = attrs.evolve(whole.info, session_id="t", paused_runs=7)
        assert store.import_session(Session.from_info(told, runs)).paused_runs == 2
        assert paused("t") == 2 and ids(store, has_paused=True) == ["t"]
        assert store.delete_session("t", user_id="u")
        assert store.count_sessions(has_paused=True) == 0 and ids(store, has_paused=True) == []

    # ------------------------------------------------------------------ paging

    def test_cursor_paging_in_each_order_breaks_ties_by_session_id(self, store: Store) -> None:
        tied = ["B", "a", "Z", "é", "_", "a0"]
        for session_id in tied:
            imported(store, session_id, created=1, runs=[(2, C)])
        imported(store, "later", created=3, runs=[(4, C)])
        for order in ORDERS:
            expected = ["later", *sorted(tied, reverse=True)]
            first = store.list_sessions(order_by=order, limit=2)
            assert first.next_cursor is not None
            assert ids(store, order_by=order, limit=2) == expected, order
            assert ids(store, order_by=order, limit=3) == expected, order

    def test_a_cursor_of_another_order_is_refused(self, store: Store) -> None:
        inbox(store)
        for issued, other in itertools.permutations(ORDERS, 2):
            cursor = store.list_sessions(order_by=issued, limit=1).next_cursor
            assert cursor is not None
            with pytest.raises(InvalidInputError, match="order"):
                store.list_sessions(order_by=other, cursor=cursor)
            follows = store.list_sessions(order_by=issued, cursor=cursor, limit=100)
            assert len(follows.items) == 5

    def test_history_pages_before_a_run(self, store: Store) -> None:
        runs = [make_run("s", user_id="u", text=f"turn {i}") for i in range(5)]
        for run in runs:
            store.append_run(run)

        def inputs(session: Session | None) -> list[str | None]:
            assert session is not None
            return [run.input for run in session.runs]

        page = store.get_session("s", user_id="u", before_run=runs[3].run_id)
        assert inputs(page) == ["turn 0", "turn 1", "turn 2"]
        assert page is not None and page.run_count == 5
        page = store.get_session("s", user_id="u", before_run=runs[3].run_id, last_n_runs=2)
        assert inputs(page) == ["turn 1", "turn 2"]
        assert inputs(store.get_session("s", before_run=runs[0].run_id)) == []
        walked: list[str | None] = []
        oldest = None
        while True:  # newest page first, back to the start
            page = store.get_session("s", user_id="u", last_n_runs=2, before_run=oldest)
            assert page is not None
            if not page.runs:
                break
            walked[:0] = inputs(page)
            oldest = page.runs[0].run_id
        assert walked == [f"turn {i}" for i in range(5)]
        with pytest.raises(RunNotFoundError):
            store.get_session("s", user_id="u", before_run="no-such-run")
        store.append_run(make_run("other", user_id="u"))
        with pytest.raises(RunNotFoundError):
            store.get_session("other", before_run=runs[1].run_id)
        assert store.get_session("s", user_id="v", before_run=runs[1].run_id) is None
        assert store.get_session("missing", before_run=runs[1].run_id) is None

    # ------------------------------------------------------------------ bad arguments

    def test_bad_inbox_arguments_are_refused_before_any_read(
        self, store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        inbox(store)
        cursor = store.list_sessions(limit=1).next_cursor

        def no_io(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("the backend was called with a bad argument")

        for method in ("_list_sessions", "_count_sessions", "_get_session"):
            monkeypatch.setattr(store, method, no_io)
        bad: list[dict[str, Any]] = [
            {"status": "sleeping"},
            {"status": 3},
            {"has_paused": "yes"},
            {"has_paused": 1},
            {"session_type": "robot"},
            {"name_contains": 5},
        ]
        for bound in ("active_after", "active_before", "created_after", "created_before"):
            bad.extend({bound: value} for value in (math.nan, math.inf, -math.inf, "1", True))
        for arguments in bad:
            with pytest.raises(InvalidInputError):
                store.list_sessions(**arguments)
            with pytest.raises(InvalidInputError):
                store.count_sessions(**arguments)
        for order in ("name", "", None, "LAST_RUN_AT", 1):
            with pytest.raises(InvalidInputError, match="order_by"):
                store.list_sessions(order_by=order)  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError):
            store.list_sessions(order_by="created_at", cursor=cursor)
        calls: list[Callable[[], Any]] = [
            lambda: store.get_session("s", before_run=""),
            lambda: store.get_session("s", before_run=5),  # type: ignore[arg-type]
            lambda: store.get_session("s", before_run="a\nb"),
        ]
        for call in calls:
            with pytest.raises(InvalidIdError):
                call()
