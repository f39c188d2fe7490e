"""The import clauses catch a store that stores the summary it is given, and the async
twin recomputes it too (issue 18, item 9)."""

from __future__ import annotations

import asyncio

import pytest

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import AgentSession, Session, SessionInfo
from sessionary.storage.memory import MemoryDb
from sessionary.testing.storage_data import make_run
from sessionary.testing.storage_import import ImportClauses


class TrustingDb(MemoryDb):
    """A plausible wrong store: it overrides import_session and stores the line as given."""

    def import_session(self, session: Session, *, replace: bool = False) -> SessionInfo:
        return self._import_session(session, replace)


@pytest.mark.parametrize(
    "clause",
    [
        ImportClauses.test_import_recomputes_a_lying_summary,
        ImportClauses.test_import_of_an_empty_session_has_an_empty_summary,
        ImportClauses.test_import_refuses_a_run_id_twice,
    ],
)
def test_the_import_clauses_fail_a_store_that_trusts_the_summary(clause: object) -> None:
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        clause(ImportClauses(), TrustingDb())  # type: ignore[operator]


def test_the_async_twin_recomputes_the_summary_too() -> None:
    run = make_run("s1", user_id="alice", input_tokens=2, output_tokens=3)
    lying = AgentSession(
        session_id="s1",
        user_id="alice",
        runs=(run,),
        run_count=999,
        input_tokens=10**9,
        last_run_status=RunStatus.PAUSED,
    )
    store = MemoryDb().to_async()

    async def scenario() -> SessionInfo:
        info = await store.import_session(lying)
        with pytest.raises(ValueError, match=run.run_id):
            await store.import_session(AgentSession(session_id="s2", runs=(run, run)))
        return info

    info = asyncio.run(scenario())
    assert (info.run_count, info.input_tokens, info.output_tokens) == (1, 2, 3)
    assert info.last_run_status is RunStatus.COMPLETED
