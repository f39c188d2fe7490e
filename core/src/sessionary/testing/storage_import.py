"""Storage clauses about import: a session's summary is recomputed from its runs."""

from __future__ import annotations

import time

import attrs
import pytest

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import AgentSession
from sessionary.errors import InvalidInputError
from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["ImportClauses"]


class ImportClauses(SuiteBase):
    """Storage clauses about import: the stored summary is the one the runs make."""

    def test_import_recomputes_a_lying_summary(self, store: Store) -> None:
        runs = (
            make_run("s-lie", user_id="alice", text="first", input_tokens=3, output_tokens=5),
            make_run(
                "s-lie",
                user_id="alice",
                text="second",
                answer="the last answer",
                status=RunStatus.ERROR,
                input_tokens=7,
                output_tokens=11,
            ),
        )
        now = time.time()
        lying = AgentSession(
            session_id="s-lie",
            user_id="alice",
            agent_id="agent-1",
            runs=runs,
            created_at=now - 60,
            updated_at=now + 10**9,  # far in the future: it would top every inbox forever
            version=4,
            run_count=999,
            last_run_status=RunStatus.COMPLETED,
            input_tokens=10**9,
            output_tokens=10**9,
        )
        returned = store.import_session(lying)
        stored = store.get_session("s-lie")
        assert stored is not None
        for info in (returned, stored.info):
            assert info.run_count == 2
            assert (info.input_tokens, info.output_tokens) == (10, 16)
            assert info.last_run_status is RunStatus.ERROR
            assert info.last_message_preview == "the last answer"
            assert info.created_at == now - 60
            assert now - 60 <= info.updated_at <= time.time()
        assert [run.run_id for run in stored.runs] == [run.run_id for run in runs]
        listed = store.list_sessions(user_id="alice").items
        assert [(i.run_count, i.input_tokens) for i in listed] == [(2, 10)]
        follow = store.append_run(make_run("s-lie", user_id="alice", input_tokens=1))
        assert (follow.run_count, follow.input_tokens) == (3, 11)

    def test_import_of_an_empty_session_has_an_empty_summary(self, store: Store) -> None:
        lying = AgentSession(
            session_id="s-empty", run_count=5, input_tokens=9, last_run_status=RunStatus.PAUSED
        )
        info = store.import_session(lying)
        assert (info.run_count, info.input_tokens, info.last_run_status) == (0, 0, None)
        stored = store.get_session("s-empty")
        assert stored is not None and stored.run_count == 0 and stored.runs == ()

    def test_import_refuses_a_run_id_twice(self, store: Store) -> None:
        run = make_run("s-twice", user_id="alice")
        twice = AgentSession(session_id="s-twice", user_id="alice", runs=(run, run))
        with pytest.raises(InvalidInputError, match=run.run_id):
            store.import_session(twice)
        renamed = attrs.evolve(run, input="other")
        with pytest.raises(InvalidInputError, match=run.run_id):
            store.import_session(attrs.evolve(twice, runs=(run, renamed)))
        assert store.get_session("s-twice") is None
