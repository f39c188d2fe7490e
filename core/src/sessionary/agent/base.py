"""What agents and teams share: a store, session and user IDs, and the session API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from typing import Any, ClassVar, Literal, overload

import attrs

from sessionary.agent.arguments import (
    _an_id,
    _bool,
    _int_from,
    _is,
    expiry_seconds,
    instructions_text,
    open_store,
    run_metadata,
    stream_async,
)
from sessionary.agent.background import Background
from sessionary.agent.naming import NamingMixin
from sessionary.agent.printing import PrintingMixin
from sessionary.agent.reads import SessionReads
from sessionary.agent.state import StateOptions, check_state
from sessionary.agent.sticky import GeneratedSessions
from sessionary.agent.summaries import SummaryOptions
from sessionary.caching import CacheStats, CachingStore, SessionCache, cached_store
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import InvalidIdError, InvalidInputError
from sessionary.flow import DbCall, Flow, iter_sync, run_async, run_sync, steps_sync
from sessionary.ids import validate_id
from sessionary.models.base import ContentDelta, Model
from sessionary.naming.pipeline import NamingPolicy
from sessionary.plugins.manager import get_plugin_host
from sessionary.resolve import resolve_model
from sessionary.storage.aio import AsyncStore
from sessionary.storage.checks import check_value

__all__ = ["SessionOwner", "expiry_seconds", "instructions_text", "open_store", "stream_async"]


@attrs.define(eq=False, slots=False)
class SessionOwner(SessionReads, NamingMixin, StateOptions, SummaryOptions, PrintingMixin):
    """What :class:`~sessionary.Agent` and :class:`~sessionary.Team` share, declared once.

    Every keyword argument below is an attribute of the agent or team, checked when it
    is made (an error names the argument). With no ``db`` the sessions live in a private
    in-memory store for the owner's lifetime; ``session_id`` and ``user_id`` given here
    are the defaults of every call, and ``id`` defaults to ``name``.

    History: with ``add_history_to_context=True`` the last ``num_history_runs``
    completed runs of the session are sent to the model before the new input; a run
    calls the model at most ``max_steps`` times; a paused run expires after
    ``pause_expires_after`` (seconds or a timedelta; ``None``: never).

    Caching: ``cache_session``, ``session_cache`` and ``cache_trust_seconds`` (see
    ``docs/guides/caching.md``).

    Naming: ``naming_model``, ``naming``, ``strict_naming`` and
    ``auto_name_after_runs`` (see ``docs/guides/naming.md``).
    """

    session_type: ClassVar[SessionType] = SessionType.AGENT

    # Identity and defaults of every call.
    id: str | None = attrs.field(default=None, kw_only=True, validator=_an_id)
    name: str | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_is("a str or None", lambda v: v is None or isinstance(v, str)),
    )
    session_id: str | None = attrs.field(default=None, kw_only=True, validator=_an_id)
    user_id: str | None = attrs.field(default=None, kw_only=True, validator=_an_id)
    #: Refuse every call, read or write, that has no ``user_id`` (nor a default one).
    require_user_id: bool = attrs.field(default=False, kw_only=True, validator=_bool)
    instructions: str | None = attrs.field(default=None, kw_only=True, converter=instructions_text)
    # History and the run loop.
    add_history_to_context: bool = attrs.field(default=False, kw_only=True, validator=_bool)
    num_history_runs: int = attrs.field(
        default=3, kw_only=True, validator=_is("a non-negative int", _int_from(0))
    )
    max_steps: int = attrs.field(
        default=10, kw_only=True, validator=_is("a positive int", _int_from(1))
    )
    pause_expires_after: float | None = attrs.field(
        default=None, kw_only=True, converter=expiry_seconds
    )
    # Caching: checked where the store is wrapped (sessionary.caching.cached_store).
    cache_session: bool = attrs.field(default=False, kw_only=True)
    session_cache: SessionCache | str | None = attrs.field(default=None, kw_only=True)
    cache_trust_seconds: float = attrs.field(default=0.0, kw_only=True)
    # Naming.
    naming_model: Model | None = attrs.field(default=None, kw_only=True, converter=resolve_model)
    naming: NamingPolicy | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_is("a NamingPolicy or None", lambda v: v is None or isinstance(v, NamingPolicy)),
    )
    strict_naming: bool = attrs.field(default=False, kw_only=True, validator=_bool)
    auto_name_after_runs: int | None = attrs.field(
        default=None,
        kw_only=True,
        validator=_is("a positive int or None", lambda v: v is None or _int_from(1)(v)),
    )
    _events: Any = attrs.field(default=None, init=False, repr=False)
    _adb: AsyncStore | None = attrs.field(default=None, init=False, repr=False)
    _background: Background = attrs.field(factory=Background, init=False, repr=False)
    _generated: GeneratedSessions = attrs.field(factory=GeneratedSessions, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.id is None and self.name is not None:
            self.id = self.name
        self.db = cached_store(
            self.db,
            cache_session=self.cache_session,
            session_cache=self.session_cache,
            trust_seconds=self.cache_trust_seconds,
        )
        if self.naming is not None:
            self.naming.resolve()  # an unknown guardrail or fallback name fails here, not later

    @overload
    def run(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[False] = False,
        metadata: Mapping[str, Any] | None = None,
        session_state: Mapping[str, Any] | None = None,
    ) -> Run: ...

    @overload
    def run(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[True],
        metadata: Mapping[str, Any] | None = None,
        session_state: Mapping[str, Any] | None = None,
    ) -> Iterator[ContentDelta | Run]: ...

    def run(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: bool = False,
        metadata: Mapping[str, Any] | None = None,
        session_state: Mapping[str, Any] | None = None,
    ) -> Run | Iterator[ContentDelta | Run]:
        """Run the agent or team on ``input`` in a session and store the run.

        Returns the run output (a :class:`~sessionary.Run`). With ``stream=True``,
        returns an iterator of :class:`~sessionary.models.ContentDelta` ending with the
        run output; the run is stored when the stream ends, with status ``cancelled``
        if the caller abandons it and ``error`` if it breaks.

        A failing model call stores the run with status ``error`` and raises a
        :class:`~sessionary.errors.ModelError`; runs stored before are untouched.

        ``metadata`` (a JSON-compatible dict, say a ticket ID or a channel) is stored on
        the run (:attr:`Run.metadata`) and, when the run starts the session, on the
        session (:attr:`SessionInfo.metadata`); an existing session's is left as it is.
        ``session_state`` sets those keys of the session's state (stored with the run).
        """
        flow = self._start(
            input, session_id, user_id, stream=stream, metadata=metadata, state=session_state
        )
        if stream:
            return iter_sync(steps_sync(flow, self.db))
        return run_sync(flow, self.db)

    @overload
    def arun(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[False] = False,
        metadata: Mapping[str, Any] | None = None,
        session_state: Mapping[str, Any] | None = None,
    ) -> Coroutine[Any, Any, Run]: ...

    @overload
    def arun(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: Literal[True],
        metadata: Mapping[str, Any] | None = None,
        session_state: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[ContentDelta | Run]: ...

    def arun(
        self,
        input: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        stream: bool = False,
        metadata: Mapping[str, Any] | None = None,
        session_state: Mapping[str, Any] | None = None,
    ) -> Coroutine[Any, Any, Run] | AsyncIterator[ContentDelta | Run]:
        """:meth:`run` for the event loop: the same run, stored the same way, never blocking.

        The store is the owner's async store (``db.to_async()``: native on Redis, MongoDB
        and SQLite; any other store in worker threads), the model is called with
        ``arespond``/``astream``, ``async def`` tools are awaited and sync tools run in a
        worker thread. ``await agent.arun(...)`` is the run output; with ``stream=True``,
        ``agent.arun(...)`` is an async iterator (``async for``) of
        :class:`~sessionary.models.ContentDelta` ending with the run output. The arguments
        are checked at the call, before anything is awaited.

        >>> import asyncio
        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel("Hello!"), db="memory://")
        >>> asyncio.run(agent.arun("Hi", session_id="s1")).content
        'Hello!'
        """
        flow = self._start(
            input, session_id, user_id, stream=stream, metadata=metadata, state=session_state
        )
        if stream:
            return stream_async(flow, self.adb)
        return run_async(flow, self.adb)

    def _start(
        self,
        input: str,
        session_id: str | None,
        user_id: str | None,
        *,
        stream: bool,
        metadata: Mapping[str, Any] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Flow[Run]:
        """Check a run's arguments (before any I/O) and return its flow."""
        if not isinstance(input, str):
            raise InvalidInputError(f"input must be a str, got {type(input).__name__}")
        check_value(input, "input")  # before the model sees it, not at the final write
        if self.model is None:
            kind = type(self).__name__
            raise InvalidInputError(f"this {kind.lower()} has no model; pass model=... to {kind}()")
        if not isinstance(stream, bool):
            raise InvalidInputError("stream must be a bool")
        extra = run_metadata(metadata)
        given, uid = check_state(state), self._user(user_id)
        sid = self._session_for_run(session_id, uid)
        return self._execute(input, sid, uid, stream=stream, metadata=extra, state=given)

    def _execute(
        self,
        input: str,
        session_id: str,
        user_id: str | None,
        *,
        stream: bool,
        metadata: dict[str, Any],
        state: Mapping[str, Any] | None = None,
    ) -> Flow[Run]:
        """The run itself: the model loop and the stored run (each owner has its own)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ store

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

    def _session_for_run(self, session_id: str | None, user_id: str | None) -> str:
        """The session a run goes to: the argument, the default, or the user's generated one
        (a new UUID on the user's first run; see :mod:`sessionary.agent.sticky`)."""
        if session_id is not None:
            return validate_id(session_id, "session_id")
        if self.session_id is not None:
            return self.session_id
        return self._generated.get_or_make(user_id)

    def _session_for_read(self, session_id: str | None, user_id: str | None = None) -> str:
        chosen = self.current_session_id(user_id) if session_id is None else session_id
        if chosen is None:
            raise InvalidIdError("no session_id given, and this agent has no default session_id")
        return validate_id(chosen, "session_id")

    def current_session_id(self, user_id: str | None = None) -> str | None:
        """The session a call without ``session_id`` uses for this user (or the default user).

        The owner's ``session_id`` if it has one; else the ID generated by this user's
        first run without one (each user gets their own, so one agent serves many
        users); else ``None``.

        >>> from sessionary import Agent
        >>> from sessionary.testing import ScriptedModel
        >>> agent = Agent(model=ScriptedModel(), db="memory://")
        >>> alice = agent.run("Hi", user_id="alice").session_id
        >>> agent.run("Hi", user_id="bob").session_id != alice
        True
        >>> again = agent.run("Again", user_id="alice")
        >>> again.session_id == alice == agent.current_session_id("alice")
        True
        """
        if self.session_id is not None:
            return self.session_id
        return self._generated.get(user_id if user_id is not None else self.user_id)

    def _user(self, user_id: str | None) -> str | None:
        if user_id is not None:
            return validate_id(user_id, "user_id")
        if self.user_id is None and self.require_user_id:
            kind = type(self).__name__.lower()
            raise InvalidInputError(f"this {kind} has require_user_id=True: pass user_id=...")
        return self.user_id

    def _owned_elsewhere(self, session_id: str, user_id: str | None) -> Flow[bool]:
        """Whether a call without a user aims at a session that has an owner.

        Such a write (a run, ``continue_run``, a rename, a delete) is refused as not found,
        as another user's session is: unscoped calls may read, never write, owned sessions.
        """
        if user_id is not None:
            return False
        info: SessionInfo | None = yield DbCall.of("get_session_info", session_id)
        return info is not None and info.user_id is not None

    def _delete(self, session_id: str | None, user_id: str | None) -> Flow[bool]:
        sid = self._session_for_read(session_id, user_id)
        user = self._user(user_id)
        if (yield from self._owned_elsewhere(sid, user)):
            return False
        deleted: bool = yield DbCall.of("delete_session", sid, user_id=user)
        if deleted:
            self.events.sessionary_session_deleted(session_id=sid, user_id=user)
        return deleted

    # ------------------------------------------------------------------ events

    @property
    def events(self) -> Any:
        """The plugin hooks, for firing event hooks (loaded on first use)."""
        if self._events is None:
            self._events = get_plugin_host().hook
        return self._events

    def _saved(self, run: Run, info: SessionInfo) -> Flow[None]:
        self.events.sessionary_run_saved(run=run, session=info)
        yield from self._summarise_after_run(run, info)
        yield from self._autoname_after_run(run, info)

    # ------------------------------------------------------------------ sessions

    def delete_session(self, session_id: str | None = None, *, user_id: str | None = None) -> bool:
        """Delete the session and its runs; returns whether it existed (for that user)."""
        return run_sync(self._delete(session_id, user_id), self.db)

    # ------------------------------------------------------------------ sessions, async

    async def adelete_session(
        self, session_id: str | None = None, *, user_id: str | None = None
    ) -> bool:
        """:meth:`delete_session` for the event loop."""
        return await run_async(self._delete(session_id, user_id), self.adb)
