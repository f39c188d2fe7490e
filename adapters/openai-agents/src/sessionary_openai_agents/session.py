"""``SessionarySession``: the OpenAI Agents SDK's ``Session`` protocol on any Sessionary store."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, cast

import attrs
from agents.items import TResponseInputItem
from agents.memory.session import _CompactionSnapshot
from agents.memory.session_settings import (
    SessionSettings,
    coerce_session_settings,
    resolve_session_limit,
)

from sessionary import Message, Role, Run, Store
from sessionary.domain.sessions import Session
from sessionary.errors import (
    ConflictError,
    InvalidInputError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.ids import new_id, validate_id, validate_optional_id
from sessionary.resolve import open_db
from sessionary.storage.aio import AsyncStore
from sessionary_openai_agents.items import item_of, items_of, message_of

__all__ = ["SessionarySession"]

T = TypeVar("T")

#: How the items of one ``Runner.run`` are grouped into Sessionary runs.
Grouping = Literal["runner_run", "add_items"]


class SessionarySession:
    """The OpenAI Agents SDK's ``Session`` on a Sessionary store.

    ``db`` is a store URL (``"sqlite:///agents.db"``, ``"redis://localhost:6379/0"``, ...),
    a :class:`~sessionary.Store` or an :class:`~sessionary.storage.aio.AsyncStore`;
    sessions that should share an in-memory store share the store object. With
    ``user_id``, the session belongs to that user: another user's session of the same ID
    reads as empty and refuses writes. ``agent_id`` is recorded on every run (the inbox
    lists sessions by agent).

    Every item is stored as a :class:`~sessionary.Message` of a :class:`~sessionary.Run`
    that Sessionary's tools read (inbox, names, ``sessions show``, export) and that
    carries the item itself, exactly. With ``grouping="runner_run"`` (the default) the
    items one ``Runner.run`` adds are one run; with ``"add_items"`` each call is one.

    Writes are shielded from cancellation, like the SDK's own sessions: a cancelled
    caller still gets ``CancelledError``, after the write has finished.
    """

    session_settings: SessionSettings | None = None

    def __init__(
        self,
        session_id: str,
        db: str | Store | AsyncStore,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        session_settings: SessionSettings | dict[str, Any] | None = None,
        grouping: Grouping = "runner_run",
    ) -> None:
        self.session_id = validate_id(session_id, "session_id")
        self.user_id = validate_optional_id(user_id, "user_id")
        self.agent_id = validate_optional_id(agent_id, "agent_id")
        if grouping not in ("runner_run", "add_items"):
            raise InvalidInputError(
                f"grouping must be 'runner_run' or 'add_items', got {grouping!r}"
            )
        self.grouping = grouping
        self.session_settings = (
            SessionSettings()
            if session_settings is None
            else coerce_session_settings(session_settings)
        )
        self._owned: Store | None = None
        if isinstance(db, str):
            self._owned = open_db(db)
            db = self._owned
        if isinstance(db, Store):
            self.store: AsyncStore = db.to_async()
        elif isinstance(db, AsyncStore):
            self.store = db
        else:
            raise InvalidInputError(
                f"db must be a store URL, a Store or an AsyncStore, got {type(db).__name__}"
            )
        # The run each Runner.run writes into, by its run context (one per Runner.run).
        self._open: weakref.WeakKeyDictionary[Any, Run] = weakref.WeakKeyDictionary()
        self._closed = False

    def __repr__(self) -> str:
        return f"SessionarySession({self.session_id!r}, db={self.store!r})"

    # ------------------------------------------------------------------ the protocol

    async def get_items(
        self, limit: int | None = None, *, wrapper: Any = None
    ) -> list[TResponseInputItem]:
        """The latest ``limit`` items (all with ``None``), oldest first.

        Without ``limit``, ``session_settings.limit`` applies. ``limit=0`` gives none; a
        negative limit gives all, as the SDK's ``SQLiteSession`` does. A limit of 20
        reads and decodes about 20 messages, however long the session.
        """
        self._check_open()
        wanted = resolve_session_limit(limit, self.session_settings)
        if wanted == 0:
            return []
        if wanted is not None and wanted < 0:
            wanted = None
        get = self.store.get_messages
        if wanted is None:
            return cast(
                "list[TResponseInputItem]",
                items_of(await get(self.session_id, user_id=self.user_id)),
            )
        count = wanted
        while True:  # more than one read only for foreign messages that hold no item
            messages = await get(self.session_id, user_id=self.user_id, last_n=count)
            items = items_of(messages)
            if len(items) >= wanted or len(messages) < count:
                return cast("list[TResponseInputItem]", items[-wanted:])
            count *= 4

    async def add_items(self, items: list[TResponseInputItem], *, wrapper: Any = None) -> None:
        """Append items. Within one ``Runner.run`` they extend that run's record."""
        self._check_open()
        if not isinstance(items, list):
            raise InvalidInputError(f"items must be a list, got {type(items).__name__}")
        if not items:
            return
        now = time.time()
        messages = tuple(message_of(item, now) for item in items)
        await _settled(self._add(messages, wrapper, now))

    async def pop_item(self, *, wrapper: Any = None) -> TResponseInputItem | None:
        """Remove and return the newest item, or ``None`` when the session is empty."""
        self._check_open()
        return cast("TResponseInputItem | None", await _settled(self._pop(None)))

    async def clear_session(self, *, wrapper: Any = None) -> None:
        """Delete the session: its runs, its name, its state."""
        self._check_open()
        self._open.clear()
        await _settled(self.store.delete_session(self.session_id, user_id=self.user_id))

    # ------------------------------------------------------------------ the SDK's hooks

    async def _pop_item_with_validation(
        self, validate: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any] | None:
        """Pop the newest item only if ``validate(item)`` does not raise (``SQLiteSession``'s
        hook): a refused item stays where it was."""
        self._check_open()
        return await _settled(self._pop(validate))

    async def _get_compaction_snapshot(
        self,
        limit: int,
        *,
        prune_prefix: Callable[[dict[str, Any]], bool] | None = None,
    ) -> _CompactionSnapshot | None:
        """The latest ``limit`` items and a way to replace a suffix of them at once
        (``SQLiteSession``'s hook, which the SDK's compaction looks up by name).

        The replacement is one :meth:`~sessionary.Store.replace_last_runs`, made only
        while the session is at the version read (else ``False``, and the SDK keeps the
        history): the run holding the suffix's first item keeps the items before it and
        gets the output in place of the rest; the runs after it go. ``prune_prefix`` is
        not applied: expired items at the head stay stored (the encrypted session hides
        them on read).
        """
        self._check_open()
        if not self._own_storage():
            return None
        session = await self._tail(limit + 1, first=max(1, limit + 1))
        runs = session.runs if session is not None else ()
        pairs = [(at, index) for at, run in enumerate(runs) for index in range(len(run.messages))]
        items = items_of(m for run in runs for m in run.messages)
        if len(items) != len(pairs):  # foreign messages: no one-to-one positions
            return None
        complete = len(items) <= limit
        window = pairs[-limit:] if limit > 0 else []
        snapshot = cast("list[TResponseInputItem]", items[-limit:] if limit > 0 else [])

        async def replace_suffix(start: int, output: list[TResponseInputItem]) -> bool:
            if session is None or not window[start:]:
                return False
            at, first = window[start]
            base, index = session, at
            if prune_prefix is not None:  # the head is read only now, at the same version
                whole = await self.store.get_session(self.session_id, user_id=self.user_id)
                if whole is None or whole.version != session.version:
                    return False
                base, index = whole, len(whole.runs) - len(runs) + at
            heads = [run.messages for run in base.runs[:index]]
            heads.append(base.runs[index].messages[:first])
            begin = index if prune_prefix is None else _unexpired(heads, prune_prefix)
            now = time.time()
            heads[index] += tuple(message_of(item, now) for item in output)
            written = tuple(
                self._rewritten(run, heads[i], now) if heads[i] != run.messages else run
                for i, run in enumerate(base.runs[begin : index + 1], begin)
            )
            kept = tuple(run for run in written if run is not None)
            return await _settled(self._rewrite(base, begin, kept))

        return _CompactionSnapshot(snapshot, complete, replace_suffix)

    async def _atomic_replace_items(self, items: list[TResponseInputItem]) -> bool:
        """Replace the whole history with ``items`` in one version-checked write (the
        SDK's compaction looks this hook up by name): ``False`` when the session changed
        since it was read, and the SDK replaces it by clearing and adding, with its own
        recovery."""
        self._check_open()
        if not self._own_storage():
            return False
        now = time.time()
        messages = tuple(message_of(item, now) for item in items)

        async def replace() -> bool:
            info = await self.store.get_session_info(self.session_id, user_id=self.user_id)
            if info is None:
                if messages:
                    try:
                        await self.store.append_run(
                            self._new_run(messages, now), expected_version=0
                        )
                    except (ConflictError, SessionNotFoundError):
                        return False
                return True
            run = () if not messages else (self._new_run(messages, now),)
            try:
                await self.store.replace_last_runs(
                    self.session_id,
                    info.run_count,
                    run,
                    user_id=self.user_id,
                    expected_version=info.version,
                )
            except (ConflictError, SessionNotFoundError):
                return False
            self._open.clear()
            return True

        return await _settled(replace())

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Stop using the session; closes the store if this session opened it from a URL."""
        self._closed = True
        if self._owned is not None:
            self._owned.close()

    async def aclose(self) -> None:
        """:meth:`close`, closing the async store too if this session made it."""
        self._closed = True
        if self._owned is not None:
            await self.store.close()
            self._owned.close()

    # ------------------------------------------------------------------ internals

    def _own_storage(self) -> bool:
        """Whether reads and writes are this class's own: a subclass that changes them
        (to transform items, say) must not be bypassed by the replacement hooks."""
        cls = type(self)
        return all(
            getattr(cls, name) is getattr(SessionarySession, name)
            for name in ("get_items", "add_items", "pop_item", "clear_session")
        )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed")

    async def _tail(self, wanted: int, first: int = 1) -> Session | None:
        """The session with the fewest last runs that hold ``wanted`` messages (all its
        runs when it has fewer), read from ``first`` runs on; its version is the one
        those runs were read at."""
        count = first
        while True:
            session = await self.store.get_session(
                self.session_id, user_id=self.user_id, last_n_runs=count
            )
            if session is None or len(session.runs) < count:
                return session
            if sum(len(run.messages) for run in session.runs) >= wanted:
                return session
            count *= 4

    def _new_run(self, messages: tuple[Message, ...], now: float) -> Run:
        return Run(
            run_id=new_id(),
            session_id=self.session_id,
            user_id=self.user_id,
            agent_id=self.agent_id,
            input=next((m.content for m in messages if m.role is Role.USER), None),
            messages=messages,
            content=_last_text(messages),
            created_at=now,
            updated_at=now,
        )

    def _rewritten(self, run: Run, messages: tuple[Message, ...], now: float) -> Run | None:
        """``run`` holding ``messages`` instead (``None`` for none: no empty run is kept)."""
        if not messages:
            return None
        return attrs.evolve(
            run,
            messages=messages,
            input=next((m.content for m in messages if m.role is Role.USER), None),
            content=_last_text(messages),
            updated_at=now,
            version=run.version + 1,
        )

    async def _rewrite(self, session: Session, start: int, runs: tuple[Run, ...]) -> bool:
        """Replace ``session.runs[start:]`` by ``runs`` in one write, only while the
        session is at the version read; ``False`` when it changed meanwhile."""
        try:
            await self.store.replace_last_runs(
                self.session_id,
                len(session.runs) - start,
                runs,
                user_id=self.user_id,
                expected_version=session.version,
            )
        except (ConflictError, SessionNotFoundError):
            return False
        written = {run.run_id: run for run in runs}
        removed = {run.run_id for run in session.runs[start:]}
        for key, open_run in list(self._open.items()):
            if open_run.run_id in written:
                self._open[key] = written[open_run.run_id]
            elif open_run.run_id in removed:
                del self._open[key]
        return True

    async def _add(self, messages: tuple[Message, ...], wrapper: Any, now: float) -> None:
        key = wrapper if self.grouping == "runner_run" else None
        run = self._open.get(key) if key is not None else None
        while run is not None:
            grown = attrs.evolve(
                run,
                messages=run.messages + messages,
                content=_last_text(messages) or run.content,
                updated_at=now,
            )
            try:
                await self.store.update_run(grown, expected_version=run.version)
            except ConflictError:  # popped meanwhile: extend what is stored now
                run = await self.store.get_run(self.session_id, run.run_id, user_id=self.user_id)
                continue
            except RunNotFoundError:  # cleared meanwhile: start a new run
                run = None
                break
            self._remember(attrs.evolve(grown, version=run.version + 1), key)
            return
        first = self._new_run(messages, now)
        await self.store.append_run(first)
        self._remember(first, key)

    def _remember(self, run: Run, key: Any) -> None:
        if key is None:
            return
        with contextlib.suppress(TypeError):  # a context that cannot be weakly referenced
            self._open[key] = run

    async def _pop(
        self, validate: Callable[[dict[str, Any]], None] | None
    ) -> dict[str, Any] | None:
        while True:
            session = await self._tail(1)
            runs = () if session is None else session.runs
            at = next((i for i in range(len(runs) - 1, -1, -1) if runs[i].messages), None)
            if session is None or at is None:
                return None
            last = runs[at].messages[-1]
            items = items_of([last])
            if items and validate is not None:
                validate(items[-1])  # a refusal leaves the item where it was
            # A foreign message that held several items keeps the others, as items.
            rest = tuple(message_of(item, last.created_at) for item in items[:-1])
            shorter = self._rewritten(runs[at], runs[at].messages[:-1] + rest, time.time())
            if not await self._rewrite(session, at, (shorter,) if shorter else ()):
                continue  # another writer got there first: look again
            if items:
                return items[-1]


def _unexpired(heads: list[tuple[Message, ...]], expired: Callable[[dict[str, Any]], bool]) -> int:
    """Drop the leading messages whose items ``expired`` (in place: ``heads`` holds each
    run's messages). The index of the first run that changed: 0 when any message went,
    else the last one."""
    for index, messages in enumerate(heads):
        for position, message in enumerate(messages):
            item = item_of(message)
            if item is None or not expired(item):
                if index == 0 and position == 0:
                    return len(heads) - 1
                heads[index] = messages[position:]
                return 0
        heads[index] = ()
    return 0


def _last_text(messages: tuple[Message, ...]) -> str | None:
    for message in reversed(messages):
        if message.role is Role.ASSISTANT and message.content:
            return message.content
    return None


async def _settled(write: Awaitable[T]) -> T:
    """Finish a write even if the caller is cancelled, then pass the cancellation on.

    The SDK's own sessions do the same: a write cancelled half-way is never left to the
    chance of where the cancellation landed. The caller waits on a future of its own,
    which the write's task completes: cancelling the caller cancels that future, never
    the write (``asyncio.wait`` did the same with a set, a timeout and more callbacks,
    a few microseconds more on every write).
    """
    task = asyncio.ensure_future(write)
    cancelled: asyncio.CancelledError | None = None
    while not task.done():
        waiter = task.get_loop().create_future()
        task.add_done_callback(functools.partial(_wake, waiter))
        try:
            await waiter
        except asyncio.CancelledError as exc:
            cancelled = cancelled or exc
    if cancelled is not None:
        if not task.cancelled():
            task.exception()  # retrieved: a failed write is not also logged as unretrieved
        raise cancelled
    return task.result()


def _wake(waiter: asyncio.Future[None], task: object) -> None:
    if not waiter.done():  # a cancelled caller's waiter is done already
        waiter.set_result(None)
