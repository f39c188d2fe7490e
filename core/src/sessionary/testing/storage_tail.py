"""Storage clauses about the tail of a session: appends at a seen version, and replacing
(or removing) the last runs in one write with the summary recomputed exactly."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from sessionary.domain.messages import Message, Role
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session
from sessionary.errors import ConflictError, InvalidInputError, SessionNotFoundError
from sessionary.storage.base import Store, preview_of
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["TailClauses", "assert_summary_of_runs"]


def assert_summary_of_runs(session: Session | None) -> None:
    """The session's summary is what its runs make: count, tokens, last status, preview."""
    assert session is not None
    runs = session.runs
    previews = [p for p in (preview_of(run) for run in runs) if p is not None]
    assert session.run_count == len(runs)
    assert session.input_tokens == sum(run.metrics.input_tokens for run in runs)
    assert session.output_tokens == sum(run.metrics.output_tokens for run in runs)
    assert session.last_run_status == (runs[-1].status if runs else None)
    assert session.last_message_preview == (previews[-1] if previews else None)


def _three(store: Store, session_id: str = "s1", **kwargs: Any) -> list[Run]:
    runs = [
        make_run(session_id, text=f"turn {i}", input_tokens=i + 1, output_tokens=10 * i, **kwargs)
        for i in range(3)
    ]
    for run in runs:
        store.append_run(run)
    return runs


class TailClauses(SuiteBase):
    """``append_run(expected_version=)`` and ``replace_last_runs``."""

    # ------------------------------------------------------------------ conditional append

    def test_append_at_the_seen_version_appends(self, store: Store) -> None:
        seen = store.append_run(make_run("s1"))
        info = store.append_run(make_run("s1"), expected_version=seen.version)
        assert info.version == seen.version + 1 and info.run_count == 2

    def test_append_at_a_stale_version_writes_nothing(self, store: Store) -> None:
        seen = store.append_run(make_run("s1"))
        store.append_run(make_run("s1", text="in between"))
        late = make_run("s1", text="late")
        with pytest.raises(ConflictError):
            store.append_run(late, expected_version=seen.version)
        session = store.get_session("s1")
        assert session is not None and session.version == seen.version + 1
        assert [r.input for r in session.runs] == ["hello", "in between"]
        assert store.get_run("s1", late.run_id) is None
        with pytest.raises(ConflictError):  # newer than stored is stale too
            store.append_run(late, expected_version=seen.version + 5)

    def test_append_at_version_zero_only_creates(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="u"), expected_version=0)
        with pytest.raises(ConflictError):
            store.append_run(make_run("s1", user_id="u"), expected_version=0)
        with pytest.raises(ConflictError):
            store.append_run(make_run("s2"), expected_version=1)
        assert store.get_session("s2") is None
        assert store.get_session_info("s1", user_id="u").run_count == 1  # type: ignore[union-attr]

    def test_a_retried_conditional_append_is_a_no_op(self, store: Store) -> None:
        seen = store.append_run(make_run("s1"))
        run = make_run("s1", text="once")
        first = store.append_run(run, expected_version=seen.version)
        again = store.append_run(run, expected_version=seen.version)
        assert again.version == first.version and again.run_count == 2

    @pytest.mark.parametrize("bad", [True, "1", 1.5, -1], ids=repr)
    def test_append_expected_version_is_checked_before_any_io(
        self, store: Store, bad: object
    ) -> None:
        with pytest.raises(InvalidInputError):
            store.append_run(make_run("s1"), expected_version=bad)  # type: ignore[arg-type]
        assert store.get_session("s1") is None

    # ------------------------------------------------------------------ replace the tail

    def test_removing_the_last_run_recomputes_the_summary(self, store: Store) -> None:
        runs = _three(store)
        before = store.get_session_info("s1")
        assert before is not None
        info = store.replace_last_runs("s1", 1, expected_version=before.version)
        assert info.version == before.version + 1 and info.run_count == 2
        assert info.last_message_preview == "re: turn 1"
        session = store.get_session("s1")
        assert session is not None and [r.run_id for r in session.runs] == [
            r.run_id for r in runs[:2]
        ]
        assert_summary_of_runs(session)
        assert store.get_session_info("s1") == info
        assert store.get_run("s1", runs[2].run_id) is None

    def test_the_last_run_replaced_by_a_shorter_copy_of_itself(self, store: Store) -> None:
        runs = _three(store)
        last = runs[-1]
        shorter = attrs.evolve(last, messages=last.messages[:1], content=None)
        info = store.replace_last_runs("s1", 1, [shorter])
        assert info.run_count == 3 and info.last_message_preview == "turn 2"
        assert store.get_run("s1", last.run_id) == shorter
        assert_summary_of_runs(store.get_session("s1"))

    def test_replacing_several_runs_by_others(self, store: Store) -> None:
        runs = _three(store)
        paused = make_run("s1", text="new a", status=RunStatus.PAUSED, input_tokens=100)
        done = make_run("s1", text="new b", output_tokens=7)
        extra = make_run("s1", text="new c", status=RunStatus.ERROR)
        info = store.replace_last_runs("s1", 2, (paused, done, extra))
        assert info.run_count == 4 and info.last_run_status is RunStatus.ERROR
        session = store.get_session("s1")
        assert session is not None
        assert [r.run_id for r in session.runs] == [
            runs[0].run_id,
            paused.run_id,
            done.run_id,
            extra.run_id,
        ]
        assert_summary_of_runs(session)
        store.append_run(make_run("s1", text="after"))  # appends go on after the new tail
        after = store.get_session("s1")
        assert after is not None and after.runs[-1].input == "after"
        assert_summary_of_runs(after)

    def test_the_preview_falls_back_to_an_older_run(self, store: Store) -> None:
        _three(store)
        quiet = make_run("s1")
        quiet = attrs.evolve(quiet, messages=(Message(role=Role.SYSTEM, content="x"),))
        info = store.replace_last_runs("s1", 2, [quiet])
        assert info.last_message_preview == "re: turn 0"
        assert_summary_of_runs(store.get_session("s1"))

    def test_removing_every_run_leaves_an_empty_session(self, store: Store) -> None:
        _three(store, user_id="u")
        info = store.replace_last_runs("s1", 3, user_id="u")
        assert (info.run_count, info.input_tokens, info.output_tokens) == (0, 0, 0)
        assert info.last_run_status is None and info.last_message_preview is None
        session = store.get_session("s1", user_id="u")
        assert session is not None and session.runs == ()
        store.append_run(make_run("s1", user_id="u", text="again"))
        assert_summary_of_runs(store.get_session("s1"))

    def test_replacing_nothing_changes_nothing(self, store: Store) -> None:
        _three(store)
        before = store.get_session("s1")
        info = store.replace_last_runs("s1", 0)
        assert store.get_session("s1") == before
        assert before is not None and info.version == before.version

    def test_a_stale_replace_writes_nothing(self, store: Store) -> None:
        _three(store)
        seen = store.get_session("s1")
        assert seen is not None
        store.append_run(make_run("s1", text="in between"))
        now = store.get_session("s1")
        for count, runs in ((1, ()), (2, (make_run("s1"),))):
            with pytest.raises(ConflictError):
                store.replace_last_runs("s1", count, runs, expected_version=seen.version)
        assert store.get_session("s1") == now

    def test_removing_more_runs_than_stored_writes_nothing(self, store: Store) -> None:
        _three(store)
        before = store.get_session("s1")
        with pytest.raises(ConflictError):
            store.replace_last_runs("s1", 4, [make_run("s1")])
        assert store.get_session("s1") == before

    def test_a_kept_run_id_cannot_come_back_twice(self, store: Store) -> None:
        runs = _three(store)
        before = store.get_session("s1")
        with pytest.raises(ConflictError):
            store.replace_last_runs("s1", 1, [attrs.evolve(runs[0], input="twin")])
        assert store.get_session("s1") == before

    def test_replace_in_a_missing_or_foreign_session_is_not_found(self, store: Store) -> None:
        _three(store, user_id="alice")
        before = store.get_session("s1")
        with pytest.raises(SessionNotFoundError):
            store.replace_last_runs("nope", 0, [make_run("nope")])
        assert store.get_session("nope") is None
        with pytest.raises(SessionNotFoundError):
            store.replace_last_runs("s1", 1, user_id="bob")
        with pytest.raises(SessionNotFoundError):
            store.replace_last_runs("s1", 1, [make_run("s1", user_id="bob")])
        with pytest.raises(SessionNotFoundError):  # a run without a user is not alice's
            store.replace_last_runs("s1", 1, [make_run("s1")])
        assert store.get_session("s1") == before

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.replace_last_runs("s1", -1),
            lambda s: s.replace_last_runs("s1", True),
            lambda s: s.replace_last_runs("s1", "1"),
            lambda s: s.replace_last_runs("s1", 1, make_run("s1")),
            lambda s: s.replace_last_runs("s1", 1, [make_run("other")]),
            lambda s: s.replace_last_runs("s1", 1, ["not a run"]),
            lambda s: s.replace_last_runs("s1", 1, [make_run("s1", run_id="x")] * 2),
            lambda s: s.replace_last_runs("s1", 1, expected_version=-1),
            lambda s: s.replace_last_runs("s1", 1, user_id="u", runs=[make_run("s1", user_id="v")]),
            lambda s: s.replace_last_runs("", 1),
        ],
        ids=range(10),
    )
    def test_replace_arguments_are_checked_before_any_io(self, store: Store, call: Any) -> None:
        _three(store)
        before = store.get_session("s1")
        with pytest.raises(InvalidInputError):
            call(store)
        assert store.get_session("s1") == before
