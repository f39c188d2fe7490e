"""Storage clauses about runs: appending, reading, exact round trips, optimistic updates."""

from __future__ import annotations

import threading

import attrs
import pytest

from sessionary.domain.runs import RunMetrics, RunStatus
from sessionary.domain.sessions import Session, SessionType
from sessionary.errors import (
    ConflictError,
    InvalidInputError,
    RunNotFoundError,
)
from sessionary.ids import new_id
from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run, rich_run

__all__ = ["RunClauses"]


class RunClauses(SuiteBase):
    """Storage clauses about runs: appending, reading, exact round trips, optimistic updates."""

    # ------------------------------------------------------------------ appending and reading

    def test_first_append_creates_the_session(self, store: Store) -> None:
        run = make_run("s1", user_id="u1", text="Hi there")
        info = store.append_run(run)
        assert info.session_id == "s1"
        assert info.user_id == "u1"
        assert info.agent_id == "agent-1"
        assert info.session_type is SessionType.AGENT
        assert info.run_count == 1
        assert info.version == 1
        assert info.last_run_status is RunStatus.COMPLETED
        assert info.last_message_preview == "re: Hi there"
        session = store.get_session("s1")
        assert isinstance(session, Session)
        assert session.info == info
        assert session.runs == (run,)

    def test_missing_session_reads_as_none(self, store: Store) -> None:
        assert store.get_session("nope") is None
        assert store.get_session_info("nope") is None
        assert store.get_run("nope", "r") is None
        assert store.get_runs("nope") == []

    def test_runs_come_back_in_append_order(self, store: Store) -> None:
        runs = [make_run("s1", text=f"m{i}") for i in range(12)]
        for run in runs:
            store.append_run(run)
        session = store.get_session("s1")
        assert session is not None
        assert [r.run_id for r in session.runs] == [r.run_id for r in runs]
        assert session.run_count == 12
        assert session.version == 12

    def test_last_n_runs_reads_only_the_tail(self, store: Store) -> None:
        runs = [make_run("s1", text=f"m{i}") for i in range(7)]
        for run in runs:
            store.append_run(run)
        tail = store.get_session("s1", last_n_runs=3)
        assert tail is not None
        assert [r.run_id for r in tail.runs] == [r.run_id for r in runs[-3:]]
        assert tail.run_count == 7
        assert store.get_runs("s1", last_n=2) == runs[-2:]
        assert store.get_runs("s1", last_n=100) == runs
        empty = store.get_session("s1", last_n_runs=0)
        assert empty is not None and empty.runs == ()

    def test_every_last_n_reads_exactly_that_tail(self, store: Store) -> None:
        # Every n from 0 to 2 * len + 1: a store that slices from len - n goes wrong between
        # len and 2 * len (a negative start counts from the end), one that caps n at len does not.
        runs = [make_run("s1", text=f"m{i}") for i in range(6)]
        for run in runs:
            store.append_run(run)
        ids = [r.run_id for r in runs]
        for n in range(2 * len(runs) + 2):
            expected = ids[len(ids) - min(n, len(ids)) :]
            assert [r.run_id for r in store.get_runs("s1", last_n=n)] == expected, n
            tail = store.get_session("s1", last_n_runs=n)
            assert tail is not None and [r.run_id for r in tail.runs] == expected, n
            assert tail.run_count == len(runs)

    def test_every_field_round_trips_exactly(self, store: Store) -> None:
        run = rich_run("s1", user_id="u1")
        store.append_run(run)
        assert store.get_run("s1", run.run_id) == run
        session = store.get_session("s1")
        assert session is not None and session.runs == (run,)

    def test_large_run_round_trips(self, store: Store) -> None:
        run = make_run("big", text="x" * 1_000_000)
        store.append_run(run)
        assert store.get_run("big", run.run_id) == run

    def test_team_session_records_team_and_member_runs(self, store: Store) -> None:
        team_run_id = new_id()
        member = make_run("t1", agent_id="member-a", team_id="team-1", parent_run_id=team_run_id)
        team = make_run("t1", agent_id=None, team_id="team-1", run_id=team_run_id)
        store.append_run(member, session_type=SessionType.TEAM)
        info = store.append_run(team, session_type=SessionType.TEAM)
        assert info.session_type is SessionType.TEAM
        assert info.team_id == "team-1"
        assert info.agent_id is None
        session = store.get_session("t1")
        assert session is not None
        assert type(session).__name__ == "TeamSession"
        assert [r.run_id for r in session.runs] == [member.run_id, team.run_id]
        assert [m.content for m in session.get_chat_history()] == [team.input, team.content]

    def test_summary_totals_equal_the_sum_of_runs(self, store: Store) -> None:
        for i in range(5):
            store.append_run(make_run("s1", input_tokens=i, output_tokens=2 * i))
        info = store.get_session_info("s1")
        assert info is not None
        assert (info.input_tokens, info.output_tokens) == (10, 20)

    def test_a_run_id_is_appended_once(self, store: Store) -> None:
        # Appending the same run again (a retry after an ambiguous failure) is a no-op that
        # returns the summary; another run under the same ID is a conflict.
        run = make_run("s1", user_id="u1")
        first = store.append_run(run)
        assert store.append_run(run) == first
        with pytest.raises(ConflictError):
            store.append_run(attrs.evolve(run, content="something else"))
        info = store.get_session_info("s1")
        assert info == first and info.run_count == 1 and info.version == 1
        assert store.get_runs("s1") == [run]

    def test_unserialisable_run_is_refused_and_nothing_is_written(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        bad = attrs.evolve(make_run("s1"), metadata={"obj": object()})
        with pytest.raises(InvalidInputError):
            store.append_run(bad)
        info = store.get_session_info("s1")
        assert info is not None and info.run_count == 1 and info.version == 1

    # ------------------------------------------------------------------ optimistic updates

    def test_update_run_replaces_it_in_place(self, store: Store) -> None:
        first, paused = make_run("s1"), make_run("s1", status=RunStatus.PAUSED, output_tokens=1)
        store.append_run(first)
        store.append_run(paused)
        done = attrs.evolve(
            paused,
            status=RunStatus.COMPLETED,
            content="done",
            metrics=RunMetrics(input_tokens=3, output_tokens=9),
        )
        info = store.update_run(done, expected_version=1)
        assert info.run_count == 2
        assert info.version == 3
        assert info.last_run_status is RunStatus.COMPLETED
        assert info.output_tokens == 5 + 9
        stored = store.get_run("s1", paused.run_id)
        assert stored == attrs.evolve(done, version=2)
        assert [r.run_id for r in store.get_runs("s1")] == [first.run_id, paused.run_id]

    def test_update_run_with_a_stale_version_conflicts(self, store: Store) -> None:
        paused = make_run("s1", status=RunStatus.PAUSED)
        store.append_run(paused)
        store.update_run(attrs.evolve(paused, content="a"), expected_version=1)
        with pytest.raises(ConflictError):
            store.update_run(attrs.evolve(paused, content="b"), expected_version=1)
        stored = store.get_run("s1", paused.run_id)
        assert stored is not None and stored.content == "a" and stored.version == 2

    def test_update_of_an_unknown_run_is_not_found(self, store: Store) -> None:
        store.append_run(make_run("s1"))
        with pytest.raises(RunNotFoundError):
            store.update_run(make_run("s1"), expected_version=1)
        with pytest.raises(RunNotFoundError):
            store.update_run(make_run("other"), expected_version=1)

    def test_racing_updates_have_exactly_one_winner(self, store: Store) -> None:
        paused = make_run("s1", status=RunStatus.PAUSED)
        store.append_run(paused)
        outcomes: list[str] = []
        barrier = threading.Barrier(8)

        def contend(index: int) -> None:
            barrier.wait()
            try:
                store.update_run(attrs.evolve(paused, content=f"w{index}"), expected_version=1)
                outcomes.append("won")
            except ConflictError:
                outcomes.append("lost")

        threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["lost"] * 7 + ["won"]
        stored = store.get_run("s1", paused.run_id)
        assert stored is not None and stored.version == 2
