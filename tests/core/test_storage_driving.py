"""Backends written once: the operation drivers and stores, PerLoop, DelegatingAsyncStore."""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import StorageError, StoreUnavailableError
from sessionary.storage.aio import DelegatingAsyncStore
from sessionary.storage.base import ListFilters, SchemaStatus, Store
from sessionary.storage.driving import (
    AsyncOperationStore,
    Operation,
    OperationStore,
    drive_async,
    drive_sync,
    run_whole,
)
from sessionary.storage.memory import MemoryDb
from sessionary.storage.per_loop import PerLoop
from sessionary.testing.storage_data import make_run

T = TypeVar("T")
Op = Operation[tuple[str, Any], Any]


def _recovering() -> Op:
    """Asks twice; the first failure is handled where it asked, as in plain code."""
    try:
        first = yield ("get", "missing")
    except KeyError:
        first = "fallback"
    second = yield ("get", "a")
    return [first, second]


def _send(request: tuple[str, Any]) -> Any:
    return {"a": 1}[request[1]]


async def _asend(request: tuple[str, Any]) -> Any:
    await asyncio.sleep(0)
    return _send(request)


# ---------------------------------------------------------------------- drivers


def _drive_async(op: Op, send: Callable[[tuple[str, Any]], Any]) -> Any:
    async def awaited(request: tuple[str, Any]) -> Any:
        return send(request)

    return asyncio.run(drive_async(op, awaited))


DRIVERS: dict[str, Callable[[Op, Callable[[tuple[str, Any]], Any]], Any]] = {
    "sync": drive_sync,
    "async": _drive_async,
}


@pytest.mark.parametrize("drive", list(DRIVERS))
def test_replies_and_errors_go_back_where_the_operation_asked(drive: str) -> None:
    sent: list[tuple[str, Any]] = []

    def send(request: tuple[str, Any]) -> Any:
        sent.append(request)
        return _send(request)

    assert DRIVERS[drive](_recovering(), send) == ["fallback", 1]
    assert sent == [("get", "missing"), ("get", "a")]


@pytest.mark.parametrize("drive", list(DRIVERS))
def test_an_error_the_operation_does_not_handle_is_raised(drive: str) -> None:
    def unhandled() -> Op:
        yield ("get", "missing")
        raise AssertionError("not reached")

    with pytest.raises(KeyError, match="missing"):
        DRIVERS[drive](unhandled(), _send)


@pytest.mark.parametrize("drive", list(DRIVERS))
def test_an_operation_that_asks_nothing_returns_its_result(drive: str) -> None:
    def nothing() -> Op:
        yield from ()  # a generator all the same
        return "done"

    assert DRIVERS[drive](nothing(), _send) == "done"


@pytest.mark.parametrize("drive", list(DRIVERS))
def test_a_base_exception_is_not_thrown_into_the_operation(drive: str) -> None:
    seen: list[BaseException] = []

    def catching_everything() -> Op:
        try:
            yield ("get", "a")
        except KeyboardInterrupt as exc:  # the driver must not hand it this
            seen.append(exc)
        return "swallowed"

    def interrupted(request: tuple[str, Any]) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        DRIVERS[drive](catching_everything(), interrupted)
    assert seen == []


# ---------------------------------------------------------------------- run_whole


class _Gate:
    """An async ``send`` that holds every request until the test opens it."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.open = asyncio.Event()
        self.asked = asyncio.Event()
        self.done: list[tuple[str, Any]] = []
        self.fail_with = fail_with

    async def send(self, request: tuple[str, Any]) -> Any:
        self.asked.set()
        await self.open.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.done.append(request)
        return request[1]


def _two_steps() -> Op:
    first = yield ("write", 1)
    second = yield ("write", 2)
    return first + second


def _driver(gate: _Gate) -> Callable[[Op], Awaitable[Any]]:
    return lambda op: drive_async(op, gate.send)


def test_run_whole_returns_the_result() -> None:
    async def scenario() -> Any:
        gate = _Gate()
        gate.open.set()
        return await run_whole(_two_steps(), _driver(gate), logging.getLogger("test"))

    assert asyncio.run(scenario()) == 3


def test_a_write_under_way_finishes_after_its_caller_is_cancelled() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        gate = _Gate()
        caller = asyncio.ensure_future(
            run_whole(_two_steps(), _driver(gate), logging.getLogger("test"))
        )
        await gate.asked.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        gate.open.set()
        while len(gate.done) < 2:
            await asyncio.sleep(0)
        return gate.done

    assert asyncio.run(scenario()) == [("write", 1), ("write", 2)]


def test_a_write_cancelled_before_it_asked_anything_never_runs() -> None:
    async def scenario() -> tuple[str, list[tuple[str, Any]]]:
        gate = _Gate()
        gate.open.set()
        ready = asyncio.Event()  # the driver has not reached the operation yet

        async def drive(op: Op) -> Any:
            await ready.wait()
            return await drive_async(op, gate.send)

        op = _two_steps()
        caller = asyncio.ensure_future(run_whole(op, drive, logging.getLogger("test")))
        await asyncio.sleep(0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        ready.set()
        for _ in range(5):
            await asyncio.sleep(0)
        return inspect.getgeneratorstate(op), gate.done

    assert asyncio.run(scenario()) == (inspect.GEN_CREATED, [])


def test_a_background_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        gate = _Gate(fail_with=StorageError("the server went away"))
        caller = asyncio.ensure_future(
            run_whole(_two_steps(), _driver(gate), logging.getLogger("test.background"))
        )
        await gate.asked.wait()
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        gate.open.set()
        for _ in range(10):
            await asyncio.sleep(0)

    with caplog.at_level(logging.WARNING, logger="test.background"):
        asyncio.run(scenario())
    [record] = [r for r in caplog.records if r.name == "test.background"]
    assert "failed in the background: the server went away" in record.getMessage()


# ---------------------------------------------------------------------- operation stores

INFO = SessionInfo(session_id="s", session_type=SessionType.AGENT)


class _RecordingOperations:
    """Each operation asks once for ``(its name, its arguments)`` and returns the reply."""

    def _op(self, name: str, *args: Any) -> Op:
        reply = yield (name, args)
        return reply

    def _append_op(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> Op:
        return self._op("append", run, session_type)

    def _update_run_op(self, run: Run, expected_version: int) -> Op:
        return self._op("update_run", run, expected_version)

    def _update_session_op(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> Op:
        return self._op("update_session", session_id, user_id, expected_version, changes)

    def _import_op(self, session: Session, replace: bool) -> Op:
        return self._op("import", session.session_id, replace)

    def _delete_op(self, session_id: str, user_id: str | None, expected_version: int | None) -> Op:
        return self._op("delete", session_id, user_id, expected_version)

    def _erase_user_op(self, user_id: str) -> Op:
        return self._op("erase_user", user_id)

    def _trim_op(
        self, session_id: str, keep_last: int, user_id: str | None, expected_version: int | None
    ) -> Op:
        return self._op("trim", session_id, keep_last, user_id, expected_version)

    def _get_session_op(
        self,
        session_id: str,
        user_id: str | None,
        last_n: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Op:
        return self._op("get_session", session_id, user_id, last_n)

    def _get_info_op(self, session_id: str, user_id: str | None) -> Op:
        return self._op("get_info", session_id, user_id)

    def _get_run_op(self, session_id: str, run_id: str, user_id: str | None) -> Op:
        return self._op("get_run", session_id, run_id, user_id)

    def _list_op(self, filters: ListFilters, limit: int, after: tuple[float, str] | None) -> Op:
        return self._op("list", filters.user_id, limit, after)

    def _schema_status_op(self) -> Op:
        return self._op("schema_status")

    def _ping_op(self) -> Op:
        return self._op("ping")


REPLIES: dict[str, Any] = {
    "append": INFO,
    "update_run": INFO,
    "update_session": INFO,
    "import": INFO,
    "delete": True,
    "erase_user": 2,
    "trim": 1,
    "get_session": None,
    "get_info": None,
    "get_run": None,
    "list": SessionPage(items=()),
    "schema_status": SchemaStatus(current=1, latest=1),
    "ping": None,
}


class _SyncStore(_RecordingOperations, OperationStore):
    name = "recording"

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[Any, ...]]] = []

    @classmethod
    def from_url(cls, url: str) -> _SyncStore:
        return cls()

    def _run(self, op: Operation[Any, Any]) -> Any:
        def send(request: tuple[str, tuple[Any, ...]]) -> Any:
            self.asked.append(request)
            return REPLIES[request[0]]

        return drive_sync(op, send)


class _AsyncStore(_RecordingOperations, AsyncOperationStore):
    name = "recording"

    def __init__(self) -> None:
        self.asked: list[tuple[str, tuple[Any, ...]]] = []
        self.writes = 0

    async def _run(self, op: Operation[Any, Any]) -> Any:
        async def send(request: tuple[str, tuple[Any, ...]]) -> Any:
            self.asked.append(request)
            return REPLIES[request[0]]

        return await drive_async(op, send)

    async def _write(self, op: Operation[Any, Any]) -> Any:
        self.writes += 1
        return await super()._write(op)


def _calls(store: Any) -> list[tuple[str, Callable[[], Any]]]:
    run = make_run("s", user_id="u")
    session = Session(session_id="s")
    return [
        ("append", lambda: store.append_run(run)),
        ("update_run", lambda: store.update_run(run, expected_version=3)),
        ("update_session", lambda: store.update_session("s", user_id="u", name="N")),
        ("import", lambda: store.import_session(session, replace=True)),
        ("delete", lambda: store.delete_session("s", user_id="u", expected_version=4)),
        ("erase_user", lambda: store.erase_user("u")),
        ("trim", lambda: store.trim_runs("s", keep_last=2, user_id="u", expected_version=3)),
        ("get_session", lambda: store.get_session("s", user_id="u", last_n_runs=4)),
        ("get_info", lambda: store.get_session_info("s")),
        ("get_run", lambda: store.get_run("s", "r", user_id="u")),
        ("list", lambda: store.list_sessions(user_id="u", limit=5)),
        ("schema_status", lambda: store.schema_status()),
        ("ping", lambda: store.ping()),
    ]


EXPECTED_ARGS: dict[str, tuple[Any, ...]] = {
    "update_session": ("s", "u", None),
    "import": ("s", True),
    "delete": ("s", "u", 4),
    "erase_user": ("u",),
    "trim": ("s", 2, "u", 3),
    "get_session": ("s", "u", 4),
    "get_info": ("s", None),
    "get_run": ("s", "r", "u"),
    "list": ("u", 5, None),
    "schema_status": (),
    "ping": (),
}


def _check_asked(asked: list[tuple[str, tuple[Any, ...]]]) -> None:
    assert [name for name, _ in asked] == list(REPLIES)
    by_name = dict(asked)
    assert by_name["append"][1] is SessionType.AGENT
    assert by_name["update_run"][1] == 3
    assert by_name["update_session"][3] == {"name": "N"}
    for name, expected in EXPECTED_ARGS.items():
        assert by_name[name][: len(expected)] == expected, name


def test_operation_store_runs_each_operation_with_its_arguments() -> None:
    store = _SyncStore()
    answers = [call() for _, call in _calls(store)]
    _check_asked(store.asked)
    assert answers == [None if name == "ping" else REPLIES[name] for name in REPLIES]


def test_async_operation_store_runs_each_operation_and_writes_whole() -> None:
    store = _AsyncStore()

    async def every_call() -> list[Any]:
        return [await call() for _, call in _calls(store)]

    answers = asyncio.run(every_call())
    _check_asked(store.asked)
    assert answers == [None if name == "ping" else REPLIES[name] for name in REPLIES]
    assert store.writes == 7  # append, update_run, update_session, import, delete, erase, trim


def test_the_public_methods_check_arguments_before_any_operation() -> None:
    store = _SyncStore()
    with pytest.raises(Exception, match="session_id"):
        store.get_session("")
    assert store.asked == []


# ---------------------------------------------------------------------- PerLoop


class _Client:
    def __init__(self) -> None:
        self.closed = False


def test_one_client_per_loop() -> None:
    clients: PerLoop[_Client] = PerLoop(_Client)

    async def twice() -> tuple[_Client, _Client]:
        return clients.here(), clients.here()

    first, again = asyncio.run(twice())
    assert first is again
    second, _ = asyncio.run(twice())
    assert second is not first


def test_loops_in_threads_at_once_get_their_own() -> None:
    clients: PerLoop[_Client] = PerLoop(_Client)
    barrier = threading.Barrier(2)
    got: list[_Client] = []

    def in_a_thread() -> None:
        async def take() -> _Client:
            client = clients.here()
            barrier.wait(timeout=10)  # both loops hold theirs at the same moment
            return client

        got.append(asyncio.run(take()))

    threads = [threading.Thread(target=in_a_thread) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 2 and got[0] is not got[1]


def test_release_here_returns_the_loops_client_and_forgets_it() -> None:
    clients: PerLoop[_Client] = PerLoop(_Client)

    async def scenario() -> tuple[_Client, _Client | None, _Client | None, _Client]:
        first = clients.here()
        released = clients.release_here()
        again = clients.release_here()
        return first, released, again, clients.here()

    first, released, again, fresh = asyncio.run(scenario())
    assert released is first
    assert again is None
    assert fresh is not first


def test_clients_of_closed_loops_are_let_go() -> None:
    made: list[_Client] = []

    def make() -> _Client:
        made.append(_Client())
        return made[-1]

    clients: PerLoop[_Client] = PerLoop(make)

    async def take() -> _Client:
        return clients.here()

    for _ in range(3):
        asyncio.run(take())

    async def release() -> _Client | None:
        clients.here()
        return clients.release_here()

    assert asyncio.run(release()) is made[-1]
    assert clients._by_loop == {}


def test_a_given_client_serves_its_first_loop_only() -> None:
    given = _Client()
    clients = PerLoop(_Client, given=given, given_name="the client given to this TestStore")

    async def here() -> _Client:
        return clients.here()

    async def release() -> _Client | None:
        return clients.release_here()

    assert asyncio.run(here()) is given
    assert clients.given is given
    with pytest.raises(StorageError, match="^the client given to this TestStore belongs to"):
        asyncio.run(here())
    assert asyncio.run(release()) is None  # an application's client is never handed back


def test_a_failing_make_keeps_nothing() -> None:
    attempts: list[int] = []

    def make() -> _Client:
        attempts.append(1)
        if len(attempts) == 1:
            raise StoreUnavailableError("cannot connect")
        return _Client()

    clients: PerLoop[_Client] = PerLoop(make)

    async def twice() -> _Client:
        with pytest.raises(StoreUnavailableError):
            clients.here()
        return clients.here()

    assert isinstance(asyncio.run(twice()), _Client)
    assert len(attempts) == 2


# ---------------------------------------------------------------------- DelegatingAsyncStore


class _Routed(DelegatingAsyncStore):
    """Runs the memory store's calls inline, noting whether each went as a read or a write."""

    name = "routed"

    def __init__(self) -> None:
        self.db = MemoryDb()
        self.routes: list[str] = []

    async def _run_write(self, call: Callable[[Store], T]) -> T:
        self.routes.append("write")
        return call(self.db)

    async def _run_read(self, call: Callable[[Store], T]) -> T:
        self.routes.append("read")
        return call(self.db)


def test_delegating_store_sends_writes_and_reads_their_own_way() -> None:
    store = _Routed()

    async def scenario() -> list[Any]:
        info = await store.append_run(make_run("s", user_id="u"))
        await store.ping()
        return [
            info.run_count,
            await store.update_session("s", name="N"),
            await store.get_session("s"),
            await store.get_session_info("s"),
            await store.get_runs("s", last_n=1),
            await store.get_run("s", "nope"),
            await store.list_sessions(user_id="u"),
            await store.trim_runs("s", keep_last=1),
            await store.schema_status(),
            await store.migrate(),
            await store.erase_user("u"),
            await store.delete_session("s"),
        ]

    answers = asyncio.run(scenario())
    assert store.routes == ["write"] * 3 + ["read"] * 5 + ["write"] * 5
    assert answers[0] == 1 and answers[-2] == 1 and answers[-1] is False
    assert store.db.get_session("s") is None


def test_delegating_store_reads_default_to_where_writes_run() -> None:
    class WritesOnly(DelegatingAsyncStore):
        name = "writes-only"

        def __init__(self) -> None:
            self.db = MemoryDb()
            self.calls = 0

        async def _run_write(self, call: Callable[[Store], T]) -> T:
            self.calls += 1
            return call(self.db)

    store = WritesOnly()
    assert asyncio.run(store.get_session("s")) is None
    assert store.calls == 1
