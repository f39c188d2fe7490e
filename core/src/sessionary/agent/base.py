"""What agents and teams share: a store, session and user IDs, and the session API."""

from __future__ import annotations

from typing import Any, ClassVar

from sessionary.agent.naming import NamingMixin
from sessionary.caching import CacheStats, CachingStore, SessionCache, cached_store
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import InvalidIdError, InvalidInputError
from sessionary.flow import Flow
from sessionary.ids import new_id, validate_id, validate_optional_id
from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import resolve_db
from sessionary.storage.aio import AsyncStore
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb

__all__ = ["SessionOwner"]


class SessionOwner(NamingMixin):
    """Session handling common to :class:`~sessionary.Agent` and teams.

    With no ``db`` the sessions live in a private in-memory store for the owner's
    lifetime. ``session_id`` and ``user_id`` given here are the defaults of every call.
    """

    session_type: ClassVar[SessionType] = SessionType.AGENT

    def __init__(
        self,
        *,
        db: Store | str | None,
        id: str | None,
        name: str | None,
        session_id: str | None,
        user_id: str | None,
        cache_session: bool = False,
        session_cache: SessionCache | str | None = None,
        cache_trust_seconds: float = 0.0,
        cache_strict_check: bool = False,
    ) -> None:
        self.id = validate_optional_id(id if id is not None else name, "id")
        self.name = name
        self.session_id = validate_optional_id(session_id, "session_id")
        self.user_id = validate_optional_id(user_id, "user_id")
        resolved = resolve_db(db)
        self.db: Store = cached_store(
            resolved if resolved is not None else MemoryDb(),
            cache_session=cache_session,
            session_cache=session_cache,
            trust_seconds=cache_trust_seconds,
            strict=cache_strict_check,
        )
        self._events: Any = None
        self._adb: AsyncStore | None = None

    @property
    def adb(self) -> AsyncStore:
        """The async twin of :attr:`db`, which ``arun`` and the other ``a*`` methods use.

        Made on first use by ``db.to_async()``: native on Redis, MongoDB and SQLite, the
        store in worker threads otherwise (and with ``cache_session=True``, so the sync
        and async calls share one cache). Assign an :class:`~sessionary.AsyncStore` on the
        same data to use another one.
        """
        if self._adb is None:
            self._adb = self.db.to_async()
        return self._adb

    @adb.setter
    def adb(self, store: AsyncStore) -> None:
        if not isinstance(store, AsyncStore):
            raise InvalidInputError(f"adb must be an AsyncStore, got {type(store).__name__}")
        self._adb = store

    @property
    def cache_stats(self) -> CacheStats | None:
        """Session cache hits, misses, stale entries and evictions; ``None`` without caching."""
        return self.db.stats() if isinstance(self.db, CachingStore) else None

    # ------------------------------------------------------------------ IDs

    def _session_for_run(self, session_id: str | None) -> str:
        """The session a run goes to: the argument, the default, or a new UUID kept as default."""
        if session_id is not None:
            return validate_id(session_id, "session_id")
        if self.session_id is None:
            self.session_id = new_id()
        return self.session_id

    def _session_for_read(self, session_id: str | None) -> str:
        chosen = session_id if session_id is not None else self.session_id
        if chosen is None:
            raise InvalidIdError("no session_id given, and this agent has no default session_id")
        return validate_id(chosen, "session_id")

    def _user(self, user_id: str | None) -> str | None:
        if user_id is not None:
            return validate_id(user_id, "user_id")
        return self.user_id

    # ------------------------------------------------------------------ events

    @property
    def events(self) -> Any:
        """The plugin hooks, for firing event hooks (loaded on first use)."""
        if self._events is None:
            self._events = get_plugin_host().hook
        return self._events

    def _saved(self, run: Run, info: SessionInfo) -> Flow[None]:
        self.events.sessionary_run_saved(run=run, session=info)
        yield from self._autoname_after_run(run, info)

    # ------------------------------------------------------------------ sessions

    def get_session(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> Session | None:
        """The session with all its runs, or ``None`` if there is none (for that user).

        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hi!"), db="memory://")
        >>> _ = agent.run("Hello", session_id="s1")
        >>> [m.content for m in agent.get_session(session_id="s1").get_messages()]
        ['Hello', 'Hi!']
        """
        return self.db.get_session(self._session_for_read(session_id), user_id=self._user(user_id))

    def get_chat_history(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
    ) -> list[Message]:
        """The user and assistant messages with content, oldest first (empty if no session)."""
        session = self.db.get_session(
            self._session_for_read(session_id), user_id=self._user(user_id), last_n_runs=last_n_runs
        )
        return [] if session is None else session.get_chat_history()

    def get_messages(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> list[Message]:
        """Every message of every run of the session (empty if no session)."""
        session = self.get_session(session_id, user_id=user_id)
        return [] if session is None else session.get_messages()

    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        name_contains: str | None = None,
    ) -> SessionPage:
        """This agent's (or team's) sessions, newest first, one page at a time."""
        return self.db.list_sessions(
            user_id=self._user(user_id),
            limit=limit,
            cursor=cursor,
            name_contains=name_contains,
            session_type=self.session_type,
            **self._owner_filter(),
        )

    def delete_session(self, session_id: str | None = None, *, user_id: str | None = None) -> bool:
        """Delete the session and its runs; returns whether it existed (for that user)."""
        sid = self._session_for_read(session_id)
        user = self._user(user_id)
        deleted = self.db.delete_session(sid, user_id=user)
        if deleted:
            self.events.sessionary_session_deleted(session_id=sid, user_id=user)
        return deleted

    # ------------------------------------------------------------------ sessions, async

    async def aget_session(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> Session | None:
        """:meth:`get_session` for the event loop."""
        sid = self._session_for_read(session_id)
        return await self.adb.get_session(sid, user_id=self._user(user_id))

    async def aget_chat_history(
        self,
        session_id: str | None = None,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
    ) -> list[Message]:
        """:meth:`get_chat_history` for the event loop."""
        sid = self._session_for_read(session_id)
        session = await self.adb.get_session(
            sid, user_id=self._user(user_id), last_n_runs=last_n_runs
        )
        return [] if session is None else session.get_chat_history()

    async def aget_messages(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> list[Message]:
        """:meth:`get_messages` for the event loop."""
        session = await self.aget_session(session_id, user_id=user_id)
        return [] if session is None else session.get_messages()

    async def alist_sessions(
        self,
        *,
        user_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        name_contains: str | None = None,
    ) -> SessionPage:
        """:meth:`list_sessions` for the event loop."""
        return await self.adb.list_sessions(
            user_id=self._user(user_id),
            limit=limit,
            cursor=cursor,
            name_contains=name_contains,
            session_type=self.session_type,
            **self._owner_filter(),
        )

    async def adelete_session(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> bool:
        """:meth:`delete_session` for the event loop."""
        sid = self._session_for_read(session_id)
        user = self._user(user_id)
        deleted = await self.adb.delete_session(sid, user_id=user)
        if deleted:
            self.events.sessionary_session_deleted(session_id=sid, user_id=user)
        return deleted

    def _owner_filter(self) -> dict[str, Any]:
        if self.session_type is SessionType.TEAM:
            return {"team_id": self.id}
        return {"agent_id": self.id}
