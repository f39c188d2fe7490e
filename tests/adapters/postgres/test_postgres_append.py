"""An append to a session whose row the store saw last is one statement, and exact.

The store keeps the session row its last write returned; the next append computes the
summary from it and writes it only if the server still holds that very row (every
column), else it appends the locking way. These tests count the statements, and change
the row behind the store's back in every way that matters: another writer's append, a
session update, a trim, and the session deleted and made again with the same version.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from sessionary_postgres import PostgresDb, store

from sessionary.domain.runs import Run
from sessionary.domain.state import StateChanges
from sessionary.errors import ConflictError, SessionNotFoundError
from sessionary.testing.storage_data import make_run


@pytest.fixture
def db(database_url: str) -> Iterator[PostgresDb]:
    opened = PostgresDb(database_url)
    yield opened
    opened.close()


@pytest.fixture
def other(database_url: str) -> Iterator[PostgresDb]:
    """A second store on the same database: a writer this one does not know about."""
    opened = PostgresDb(database_url)
    yield opened
    opened.close()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement the stores send (BEGIN held back and COMMIT included)."""
    sent: list[str] = []
    real = store.Perform.__call__

    def counted(self: store.Perform, request: Any) -> Any:
        sent.append(request.query.split()[0] if request.query else "")
        return real(self, request)

    monkeypatch.setattr(store.Perform, "__call__", counted)
    return sent


def _setting(run: Run, **values: Any) -> Run:
    return attrs.evolve(run, state_changes=StateChanges(set=values))


def _totals(db: PostgresDb, session_id: str = "s1") -> tuple[int, int, int, int]:
    info = db.get_session_info(session_id)
    runs = db.get_runs(session_id)
    assert info is not None
    tokens = sum(r.metrics.input_tokens + r.metrics.output_tokens for r in runs)
    assert info.run_count == len(runs)
    return info.run_count, info.version, info.input_tokens + info.output_tokens, tokens


def test_the_next_append_to_a_session_is_one_statement(
    db: PostgresDb, statements: list[str]
) -> None:
    db.append_run(make_run("s1", user_id="u"))
    statements.clear()
    for index in range(3):
        db.append_run(make_run("s1", user_id="u", text=f"more {index}"))
    assert statements == ["WITH"] * 3  # no BEGIN, no lock, no COMMIT of its own
    count, version, stored, summed = _totals(db)
    assert (count, version, stored) == (4, 4, summed)


def test_a_row_changed_by_another_writer_is_appended_the_locking_way(
    db: PostgresDb, other: PostgresDb, statements: list[str]
) -> None:
    db.append_run(_setting(make_run("s1", user_id="u"), mine=1))
    other.append_run(_setting(make_run("s1", user_id="u"), theirs=2))
    other.update_session("s1", user_id="u", name="renamed")
    statements.clear()
    info = db.append_run(make_run("s1", user_id="u"))
    assert statements[0] == "WITH" and "BEGIN" in statements  # tried, then locked
    assert (info.run_count, info.version, info.name) == (3, 4, "renamed")
    assert info.state == {"mine": 1, "theirs": 2}
    count, version, stored, summed = _totals(db)
    assert (count, version, stored) == (3, 4, summed)


def test_a_session_made_again_with_the_same_version_is_not_mistaken_for_the_old_one(
    db: PostgresDb, other: PostgresDb
) -> None:
    db.append_run(make_run("s1", user_id="u", text="old"))
    assert other.delete_session("s1", user_id="u")
    # Made again by another writer: version 1, last run 1, as the row this store saw.
    other.append_run(make_run("s1", user_id="u", input_tokens=100))
    info = db.append_run(make_run("s1", user_id="u"))
    count, version, stored, summed = _totals(db)
    assert (count, version, stored) == (2, 2, summed)
    assert info.input_tokens + info.output_tokens == summed


def test_trims_ownership_versions_and_twins_still_hold(db: PostgresDb) -> None:
    first = make_run("s1", user_id="u")
    db.append_run(first)
    db.append_run(make_run("s1", user_id="u"))
    assert db.trim_runs("s1", keep_last=1, user_id="u") == 1
    db.append_run(make_run("s1", user_id="u"))
    count, version, stored, summed = _totals(db)
    assert (count, stored) == (2, summed)
    with pytest.raises(ConflictError):
        db.append_run(make_run("s1", user_id="u"), expected_version=version - 1)
    with pytest.raises(SessionNotFoundError):
        db.append_run(make_run("s1", user_id="intruder"))
    last = db.get_runs("s1")[-1]
    with pytest.raises(ConflictError, match="already exists"):
        db.append_run(attrs.evolve(last, input="another run under its ID"))
    assert db.append_run(last).run_count == 2  # the same run again: a retry, a no-op
    assert _totals(db)[:2] == (2, version)
    db.append_run(make_run("s1", user_id="u"), expected_version=version)
    assert _totals(db)[:2] == (3, version + 1)
