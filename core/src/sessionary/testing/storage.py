"""The storage conformance suite: every clause of the storage contract, as pytest tests.

Subclass :class:`StorageConformance` in your adapter's tests and provide a ``store``
fixture that yields an empty store, plus :meth:`~StorageConformance.corrupt_session`.
Declare optional capabilities in ``capabilities``; the tests of a capability you do
not declare are skipped with a reason that says so, and the tests of one you do
declare need the matching fixtures (``store_url``, ``make_ttl_store``)::

    class TestMyStore(StorageConformance):
        capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(path=tmp_path / "db") as store:
                yield store

        @pytest.fixture
        def store_url(self, store):
            return store.url

        def corrupt_session(self, store, session_id):
            ...  # damage one stored record of that session, as a broken disk would

A subclass must not delete or weaken a suite test; one that cannot pass is marked
``xfail`` with the reason.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import attrs
import pytest

from sessionary import codec
from sessionary.domain.messages import Message, Role, ToolCall
from sessionary.domain.runs import Requirement, RequirementKind, Run, RunMetrics, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidIdError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.ids import new_id
from sessionary.storage.base import Capability, Store

__all__ = ["BAD_IDS", "HOSTILE_IDS", "StorageConformance", "make_run"]

#: IDs every store must reject before any I/O.
BAD_IDS: tuple[Any, ...] = (
    "",
    "x" * 257,
    123,
    4.5,
    b"bytes",
    ["list"],
    {"$gt": ""},
    "a\nb",
    "a\x00b",
    "tab\there",
)
#: IDs that look like syntax somewhere (Redis keys and patterns, MongoDB operators, SQL).
HOSTILE_IDS: tuple[str, ...] = (
    "a:b",
    "a",
    "b:c",
    "*",
    "?",
    "[a-z]",
    "{x}",
    "{",
    "$gt",
    "$where",
    "a.b",
    "%",
    "_",
    "'",
    '"',
    "\\",
    "'; DROP TABLE sessions; --",
    "x" * 256,
    "ünïcödé 会话 🚀",
)


def make_run(
    session_id: str,
    *,
    user_id: str | None = None,
    agent_id: str | None = "agent-1",
    team_id: str | None = None,
    parent_run_id: str | None = None,
    text: str = "hello",
    answer: str | None = None,
    status: RunStatus = RunStatus.COMPLETED,
    input_tokens: int = 3,
    output_tokens: int = 5,
    run_id: str | None = None,
    created_at: float | None = None,
) -> Run:
    """A small realistic run: a user message and an assistant answer."""
    now = time.time() if created_at is None else created_at
    return Run(
        run_id=run_id if run_id is not None else new_id(),
        session_id=session_id,
        user_id=user_id,
        agent_id=agent_id,
        team_id=team_id,
        parent_run_id=parent_run_id,
        status=status,
        input=text,
        messages=(
            Message(role=Role.USER, content=text, created_at=now),
            Message(role=Role.ASSISTANT, content=answer or f"re: {text}", created_at=now),
        ),
        content=answer or f"re: {text}",
        metrics=RunMetrics(input_tokens=input_tokens, output_tokens=output_tokens, duration=0.01),
        created_at=now,
        updated_at=now,
    )


def rich_run(session_id: str, user_id: str | None = None) -> Run:
    """A run that uses every field of the record, for exact round trips."""
    call = ToolCall(id="call_1", name="search", arguments={"q": "weather", "n": 2})
    bad = ToolCall(id="call_2", name="search", raw_arguments="{not json")
    return Run(
        run_id=new_id(),
        session_id=session_id,
        user_id=user_id,
        agent_id="agent-1",
        parent_run_id=None,
        status=RunStatus.PAUSED,
        input="What's the weather?",
        messages=(
            Message(role=Role.SYSTEM, content="Be brief.", created_at=1.5),
            Message(role=Role.USER, content="What's the weather? ünï 🚀", created_at=1.25),
            Message(
                role=Role.ASSISTANT,
                tool_calls=(call, bad),
                created_at=2.0,
                metadata={"response_id": "resp_1", "latency": 0.125},
            ),
            Message(
                role=Role.TOOL,
                content="Sunny",
                tool_call_id="call_1",
                name="search",
                created_at=2.5,
                metadata={"is_error": False},
            ),
        ),
        content=None,
        requirements=(
            Requirement(
                id="req_1",
                kind=RequirementKind.USER_INPUT,
                tool_call=call,
                user_input_fields=("q",),
            ),
        ),
        metrics=RunMetrics(
            input_tokens=11, output_tokens=7, duration=0.3333333333333333, model_calls=2
        ),
        error=None,
        created_at=1.0,
        updated_at=3.0000000000000004,
        version=1,
        metadata={"$weird": {"a.b": [1, 2.5, None, True]}, "nested": {"x": "y"}},
    )


def _append_worker(url: str, session_id: str, worker: int, count: int) -> None:
    from sessionary.resolve import open_db

    store = open_db(url)
    try:
        for index in range(count):
            store.append_run(
                make_run(
                    session_id,
                    user_id="mp-user",
                    text=f"{worker}:{index}",
                    input_tokens=worker + 1,
                    output_tokens=index,
                )
            )
    finally:
        store.close()


class StorageConformance:
    """The storage contract as tests. See the module documentation for how to use it."""

    #: Optional capabilities the backend under test has.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Runs each thread appends in the concurrency test.
    concurrent_runs_per_thread: ClassVar[int] = 25

    # ------------------------------------------------------------------ to override

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """An empty store. Override in the subclass."""
        raise NotImplementedError("override the 'store' fixture to return your backend")

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        """A URL that opens the same data as ``store`` (PERSISTENT and MULTIPROCESS)."""
        raise NotImplementedError("override 'store_url' when declaring PERSISTENT or MULTIPROCESS")

    def corrupt_session(self, store: Store, session_id: str) -> None:
        """Damage a stored record of the session so that it cannot be decoded."""
        raise NotImplementedError("override corrupt_session to damage one stored record")

    def make_ttl_store(self, ttl: float) -> Store:
        """An empty store whose sessions expire ``ttl`` seconds after their last write."""
        raise NotImplementedError("override make_ttl_store when declaring TTL")

    #: The TTL the expiry test uses, and how long past it expiry may take.
    ttl_seconds: ClassVar[float] = 2.0
    ttl_grace: ClassVar[float] = 0.5

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            pytest.skip(
                f"{type(self).__name__} does not declare the capability {capability.value!r}"
            )

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
        run = make_run("s1")
        store.append_run(run)
        with pytest.raises(ConflictError):
            store.append_run(run)
        info = store.get_session_info("s1")
        assert info is not None and info.run_count == 1
        assert len(store.get_runs("s1")) == 1

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
        store.append_run(make_run("s1", user_id="alice"))
        intruder = make_run("s1", user_id="mallory")
        with pytest.raises(OwnershipError):
            store.append_run(intruder)
        info = store.get_session_info("s1")
        assert info is not None and (info.run_count, info.version, info.user_id) == (1, 1, "alice")
        assert store.get_run("s1", intruder.run_id) is None

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

        assert ids(store.list_sessions()) == ["s2", "t1", "s3", "s1"]
        assert ids(store.list_sessions(user_id="alice")) == ["s2", "t1", "s1"]
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

    # ------------------------------------------------------------------ export and import

    def test_export_and_import_round_trip(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="alice", text="one"))
        store.append_run(rich_run("s1", user_id="alice"))
        store.update_session("s1", name="Exported", name_source="manual", metadata={"k": "v"})
        original = store.get_session("s1")
        assert original is not None
        exported = codec.dumps(original)
        json.loads(exported)  # it is plain JSON
        with pytest.raises(ConflictError):
            store.import_session(original)
        assert store.delete_session("s1")
        imported = codec.loads(exported)
        assert isinstance(imported, Session)
        store.import_session(imported)
        again = store.get_session("s1")
        assert again == original
        store.import_session(imported, replace=True)
        assert store.get_session("s1") == original
        follow = store.append_run(make_run("s1", user_id="alice"))
        assert follow.run_count == 3 and follow.version == original.version + 1

    # ------------------------------------------------------------------ concurrency

    def test_concurrent_appends_from_8_threads_all_persist(self, store: Store) -> None:
        per_thread = self.concurrent_runs_per_thread
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def writer(worker: int) -> None:
            barrier.wait()
            try:
                for index in range(per_thread):
                    store.append_run(
                        make_run(
                            "busy", text=f"{worker}:{index}", input_tokens=1, output_tokens=worker
                        )
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        runs = store.get_runs("busy")
        assert len(runs) == 8 * per_thread
        assert runs == store.get_runs("busy")  # the order is stable
        for worker in range(8):
            mine = [int(r.input.split(":")[1]) for r in runs if r.input.startswith(f"{worker}:")]  # type: ignore[union-attr]
            assert mine == list(range(per_thread))
        info = store.get_session_info("busy")
        assert info is not None
        assert info.run_count == 8 * per_thread
        assert info.input_tokens == 8 * per_thread
        assert info.output_tokens == per_thread * sum(range(8))

    # ------------------------------------------------------------------ corruption

    def test_a_corrupt_record_names_its_session_and_spares_the_others(self, store: Store) -> None:
        store.append_run(make_run("healthy", user_id="alice"))
        store.append_run(make_run("broken", user_id="alice"))
        self.corrupt_session(store, "broken")
        with pytest.raises(CorruptRecordError, match="broken"):
            store.get_session("broken")
        healthy = store.get_session("healthy")
        assert healthy is not None and healthy.run_count == 1
        listed = [i.session_id for i in store.list_sessions(user_id="alice").items]
        assert "healthy" in listed
        store.append_run(make_run("healthy", user_id="alice"))
        assert len(store.get_runs("healthy")) == 2

    # ------------------------------------------------------------------ schema and admin

    def test_a_fresh_store_is_at_the_latest_schema(self, store: Store) -> None:
        status = store.schema_status()
        assert status.current == status.latest
        assert not status.needs_migration
        assert isinstance(store.migrate(), list)
        store.ping()

    # ------------------------------------------------------------------ capabilities

    def test_data_survives_reopening(self, store: Store, request: pytest.FixtureRequest) -> None:
        self._require(Capability.PERSISTENT)
        from sessionary.resolve import open_db

        url: str = request.getfixturevalue("store_url")
        run = make_run("kept", user_id="alice")
        store.append_run(run)
        with open_db(url) as other:
            assert other.get_run("kept", run.run_id, user_id="alice") == run

    @pytest.mark.slow
    def test_four_processes_append_without_losing_a_run(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        self._require(Capability.MULTIPROCESS)
        url: str = request.getfixturevalue("store_url")
        per_process = 50
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=_append_worker, args=(url, "shared", w, per_process))
            for w in range(4)
        ]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=120)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]
        runs = store.get_runs("shared")
        assert len(runs) == 4 * per_process
        assert len({r.run_id for r in runs}) == 4 * per_process
        for worker in range(4):
            mine = [int(r.input.split(":")[1]) for r in runs if r.input.startswith(f"{worker}:")]  # type: ignore[union-attr]
            assert mine == list(range(per_process))
        info = store.get_session_info("shared")
        assert info is not None
        assert info.run_count == 4 * per_process
        assert info.input_tokens == sum(r.metrics.input_tokens for r in runs)
        assert info.output_tokens == sum(r.metrics.output_tokens for r in runs)

    @pytest.mark.slow
    def test_sessions_expire_with_their_index_entries(self) -> None:
        self._require(Capability.TTL)
        ttl = self.ttl_seconds
        store = self.make_ttl_store(ttl)
        try:
            store.append_run(make_run("short", user_id="alice"))
            store.append_run(make_run("kept", user_id="alice"))
            time.sleep(ttl * 0.6)
            store.append_run(make_run("kept", user_id="alice"))  # a write extends the expiry
            time.sleep(ttl * 0.4 + self.ttl_grace)
            assert store.get_session("short") is None
            assert store.get_session_info("short") is None
            kept = store.get_session("kept")
            assert kept is not None and kept.run_count == 2
            listed = [i.session_id for i in store.list_sessions(user_id="alice").items]
            assert listed == ["kept"]
        finally:
            store.close()
