"""The storage contract, as a base class every backend subclasses.

The public methods of :class:`Store` are the contract (see ``docs/storage-contract.md``).
They validate their arguments before any I/O, then call the backend's protected
``_`` methods, so every backend rejects bad IDs the same way. A backend implements
the abstract ``_`` methods and declares its :attr:`Store.capabilities`.
"""

from __future__ import annotations

import abc
import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Final

import attrs

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import InvalidInputError, StorageError
from sessionary.ids import validate_id, validate_optional_id

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore

__all__ = [
    "MAX_LIST_LIMIT",
    "PREVIEW_LENGTH",
    "UNSET",
    "Capability",
    "DeferredCheck",
    "ListFilters",
    "SchemaStatus",
    "SessionWatcher",
    "Store",
    "check_owner",
    "decode_cursor",
    "encode_cursor",
    "new_session_info",
    "preview_of",
    "sort_key",
    "summary_after_append",
    "summary_after_trim",
    "summary_after_update",
]

#: Longest page :meth:`Store.list_sessions` returns.
MAX_LIST_LIMIT: Final = 1000
#: Characters of the last message kept in a session's summary.
PREVIEW_LENGTH: Final = 120


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


#: "Leave this field as it is" in :meth:`Store.update_session`.
UNSET: Final = _Unset.UNSET


class Capability(str, Enum):
    """Optional abilities a backend declares, so the conformance suite tests them."""

    #: Data survives the ``Store`` object; another ``Store`` on the same URL sees it.
    PERSISTENT = "persistent"
    #: Several processes may write to one store at once.
    MULTIPROCESS = "multiprocess"
    #: Sessions can expire after a time to live.
    TTL = "ttl"


@attrs.frozen
class SchemaStatus:
    """The schema version a store holds against the one this code writes."""

    current: int
    latest: int

    @property
    def needs_migration(self) -> bool:
        """True when ``sessionary migrate`` would upgrade the store."""
        return self.current < self.latest


class Store(abc.ABC):
    """Base class of every storage backend.

    Subclasses set :attr:`name`, :attr:`url_schemes` and :attr:`capabilities`,
    implement :meth:`from_url` and the abstract ``_`` methods.
    """

    #: Registry name of the backend (``"sqlite"``, ``"redis"``, ...).
    name: ClassVar[str]
    #: URL schemes :func:`sessionary.open_db` opens with this backend.
    url_schemes: ClassVar[tuple[str, ...]] = ()
    #: Optional capabilities this backend has.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str) -> Store:
        """Open the store a URL names. Does the I/O ``__init__`` must not do."""

    # ------------------------------------------------------------------ writes

    def append_run(self, run: Run, *, session_type: SessionType = SessionType.AGENT) -> SessionInfo:
        """Append a run to its session, creating the session on its first run.

        The run is stored whole or not at all, together with the session's summary,
        and earlier runs are never rewritten. If the session belongs to another user
        than ``run.user_id``, :class:`~sessionary.errors.OwnershipError` is raised and
        nothing is written. Returns the session's summary after the write.
        """
        check_run(run)
        return self._append_run(run, SessionType(session_type))

    def update_run(self, run: Run, *, expected_version: int) -> SessionInfo:
        """Replace a stored run in place, if its stored version is ``expected_version``.

        The stored run gets version ``expected_version + 1``. Another writer that got
        there first makes this raise :class:`~sessionary.errors.ConflictError`; an
        unknown run raises :class:`~sessionary.errors.RunNotFoundError`.
        """
        check_run(run)
        check_version(expected_version)
        return self._update_run(run, expected_version)

    def update_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        expected_version: int | None = None,
        name: str | _Unset | None = UNSET,
        name_source: str | _Unset | None = UNSET,
        state: Mapping[str, Any] | _Unset = UNSET,
        metadata: Mapping[str, Any] | _Unset = UNSET,
    ) -> SessionInfo:
        """Change a session's name, state or metadata; bumps its version.

        With ``expected_version``, the write happens only if the stored version is that
        one (compare-and-set), else :class:`~sessionary.errors.ConflictError`.
        A missing session (or one of another user) raises
        :class:`~sessionary.errors.SessionNotFoundError`.
        """
        changes = session_changes(
            session_id, user_id, name=name, name_source=name_source, state=state, metadata=metadata
        )
        return self._update_session(session_id, user_id, expected_version, changes)

    def import_session(self, session: Session, *, replace: bool = False) -> SessionInfo:
        """Write a whole session (from another store's export), runs in order.

        An existing session with that ID is an error unless ``replace`` is true, in which
        case it is deleted first.
        """
        check_import(session)
        return self._import_session(session, replace)

    def delete_session(self, session_id: str, *, user_id: str | None = None) -> bool:
        """Delete a session and its runs. Returns whether it existed (for that user)."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        return self._delete_session(session_id, user_id)

    def erase_user(self, user_id: str) -> int:
        """Delete every session of a user, with their runs. Returns how many."""
        validate_id(user_id, "user_id")
        return self._erase_user(user_id)

    def trim_runs(self, session_id: str, *, keep_last: int, user_id: str | None = None) -> int:
        """Delete all but the last ``keep_last`` runs of a session; returns how many went.

        The summary stays equal to the sum of the remaining runs (run count, tokens) and
        the version is bumped when anything was deleted. A missing session (or another
        user's) raises :class:`~sessionary.errors.SessionNotFoundError`.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(keep_last, "keep_last")
        return self._trim_runs(session_id, keep_last, user_id)

    # ------------------------------------------------------------------ reads

    def get_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
    ) -> Session | None:
        """The session with its runs (only the last N with ``last_n_runs``), or ``None``.

        Given a ``user_id``, a session of another user is ``None``.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(last_n_runs, "last_n_runs")
        return self._get_session(session_id, user_id, last_n_runs)

    def get_session_info(
        self, session_id: str, *, user_id: str | None = None
    ) -> SessionInfo | None:
        """The session's metadata and summary without runs (one cheap read), or ``None``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        return self._get_session_info(session_id, user_id)

    def get_runs(
        self, session_id: str, *, user_id: str | None = None, last_n: int | None = None
    ) -> list[Run]:
        """The session's runs in order (the last ``last_n`` only); empty if no such session."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(last_n, "last_n")
        session = self._get_session(session_id, user_id, last_n)
        return [] if session is None else list(session.runs)

    def get_runs_deferred(
        self, session_id: str, *, user_id: str | None = None, last_n: int | None = None
    ) -> tuple[list[Run], DeferredCheck | None]:
        """:meth:`get_runs`, possibly answered before the store has confirmed it.

        Returns the runs and either ``None`` (they are the store's, as :meth:`get_runs`
        guarantees) or a :class:`DeferredCheck` whose :meth:`confirm_read` says whether
        they were. A caller may do local work with runs that came with a check, but
        nothing anyone else can see (no model call whose answer it keeps, no tool, no
        write) until the check confirmed them; if it does not, the caller reads again.
        The default is :meth:`get_runs` and ``None``; a
        :class:`~sessionary.caching.CachingStore` over a store with a watcher answers a
        cached session at once and lets the version check travel meanwhile.
        """
        return self.get_runs(session_id, user_id=user_id, last_n=last_n), None

    def confirm_read(self, check: DeferredCheck) -> bool:
        """Wait for ``check`` (from :meth:`get_runs_deferred`): whether what was read holds.

        ``True``: what the read returned is what :meth:`get_runs` would have returned
        when it was called. ``False``: the store changed before then (another process
        wrote), so read again. Never raises for a broken connection: a check that
        cannot be confirmed is ``False``.
        """
        if not isinstance(check, DeferredCheck):
            raise InvalidInputError(f"check must be a DeferredCheck, got {type(check).__name__}")
        return check.confirm()

    def get_run(self, session_id: str, run_id: str, *, user_id: str | None = None) -> Run | None:
        """One run of a session, or ``None``."""
        validate_id(session_id, "session_id")
        validate_id(run_id, "run_id")
        validate_optional_id(user_id, "user_id")
        return self._get_run(session_id, run_id, user_id)

    def list_sessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        session_type: SessionType | str | None = None,
        name_contains: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SessionPage:
        """One page of sessions, newest update first, never loading runs.

        Filters combine with AND; ``name_contains`` matches case-insensitively.
        Pass the page's ``next_cursor`` back as ``cursor`` for the next page.
        """
        filters, limit, after = list_arguments(
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            session_type=session_type,
            name_contains=name_contains,
            limit=limit,
            cursor=cursor,
        )
        return self._list_sessions(filters, limit, after)

    # ------------------------------------------------------------------ admin

    def schema_status(self) -> SchemaStatus:
        """The stored schema version against the latest this backend writes."""
        return SchemaStatus(current=1, latest=1)

    def migrate(self) -> list[str]:
        """Upgrade the stored schema to the latest; returns a line per step taken."""
        return []

    def ping(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Check the store is reachable; raise a :class:`StorageError` saying why if not."""

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release connections and files. The store is not used after this."""

    def to_async(self) -> AsyncStore:
        """This store's async twin, on the same data: what ``arun`` and the ``a*`` methods use.

        The default is a :class:`~sessionary.storage.aio.ThreadedAsyncStore` (each call of
        this store runs in a worker thread, so the event loop never waits on it). A
        backend with an async driver overrides this to return its native async store.
        """
        from sessionary.storage.aio import ThreadedAsyncStore

        return ThreadedAsyncStore(self)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ backend

    @abc.abstractmethod
    def _append_run(self, run: Run, session_type: SessionType) -> SessionInfo: ...

    @abc.abstractmethod
    def _update_run(self, run: Run, expected_version: int) -> SessionInfo: ...

    @abc.abstractmethod
    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo: ...

    @abc.abstractmethod
    def _import_session(self, session: Session, replace: bool) -> SessionInfo: ...

    @abc.abstractmethod
    def _delete_session(self, session_id: str, user_id: str | None) -> bool: ...

    @abc.abstractmethod
    def _erase_user(self, user_id: str) -> int: ...

    def _trim_runs(self, session_id: str, keep_last: int, user_id: str | None) -> int:
        raise StorageError(f"the {self.name} store cannot trim runs")

    @abc.abstractmethod
    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None: ...

    @abc.abstractmethod
    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None: ...

    @abc.abstractmethod
    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None: ...

    @abc.abstractmethod
    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage: ...

    # ------------------------------------------------------------------ optional: watching

    def session_watcher(self) -> SessionWatcher | None:
        """A :class:`SessionWatcher` that answers summaries from changes pushed to it, or ``None``.

        The default is ``None``: the store cannot be told of other writers' changes, so
        a :class:`~sessionary.caching.CachingStore` checks a cached session with one
        :meth:`get_session_info` read. A store whose server pushes change notices
        (Redis client tracking, a change stream) returns the same watcher every time,
        creating it without I/O; it belongs to the store, and :meth:`close` closes it.
        """
        return None


@attrs.frozen
class ListFilters:
    """The filters of :meth:`Store.list_sessions`, validated."""

    user_id: str | None
    agent_id: str | None
    team_id: str | None
    session_type: SessionType | None
    name_contains: str | None

    def matches(self, info: SessionInfo) -> bool:
        """Whether a session passes every filter (for backends that filter in Python)."""
        if self.user_id is not None and info.user_id != self.user_id:
            return False
        if self.agent_id is not None and info.agent_id != self.agent_id:
            return False
        if self.team_id is not None and info.team_id != self.team_id:
            return False
        if self.session_type is not None and info.session_type is not self.session_type:
            return False
        if self.name_contains is not None:
            return info.name is not None and self.name_contains.casefold() in info.name.casefold()
        return True


# --------------------------------------------------------------------------- helpers


def session_changes(
    session_id: str,
    user_id: str | None,
    *,
    name: object,
    name_source: object,
    state: object,
    metadata: object,
) -> dict[str, Any]:
    """Check :meth:`Store.update_session`'s arguments; the changes to make, by field."""
    validate_id(session_id, "session_id")
    validate_optional_id(user_id, "user_id")
    if name is not UNSET and name is not None and not isinstance(name, str):
        raise InvalidInputError(f"name must be a str or None, got {type(name).__name__}")
    if name_source is not UNSET and name_source is not None:
        validate_id(name_source, "name_source")
    changes: dict[str, Any] = {}
    for key, value in (
        ("name", name),
        ("name_source", name_source),
        ("state", state),
        ("metadata", metadata),
    ):
        if value is UNSET:
            continue
        if key in ("state", "metadata"):
            if not isinstance(value, Mapping):
                raise InvalidInputError(f"{key} must be a mapping")
            value = _json_copy(value, key)
        changes[key] = value
    return changes


def check_import(session: object) -> None:
    """Check a session given to :meth:`Store.import_session`."""
    if not isinstance(session, Session):
        raise InvalidInputError(f"expected a Session, got {type(session).__name__}")
    validate_id(session.session_id, "session_id")
    validate_optional_id(session.user_id, "user_id")
    for run in session.runs:
        check_run(run)
        if run.session_id != session.session_id:
            raise InvalidInputError(
                f"run {run.run_id!r} names session {run.session_id!r}, not {session.session_id!r}"
            )


def check_version(expected_version: object) -> None:
    """Check an ``expected_version`` argument."""
    if not isinstance(expected_version, int) or isinstance(expected_version, bool):
        raise InvalidInputError("expected_version must be an int")


def list_arguments(
    *,
    user_id: str | None,
    agent_id: str | None,
    team_id: str | None,
    session_type: SessionType | str | None,
    name_contains: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[ListFilters, int, tuple[float, str] | None]:
    """Check :meth:`Store.list_sessions`'s arguments: the filters, the limit, the position."""
    validate_optional_id(user_id, "user_id")
    validate_optional_id(agent_id, "agent_id")
    validate_optional_id(team_id, "team_id")
    try:
        kind = None if session_type is None else SessionType(session_type)
    except ValueError:
        raise InvalidInputError(
            f"session_type must be 'agent' or 'team', got {session_type!r}"
        ) from None
    if name_contains is not None and not isinstance(name_contains, str):
        raise InvalidInputError("name_contains must be a str")
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInputError(f"limit must be an int from 1 to {MAX_LIST_LIMIT}")
    after = None if cursor is None else decode_cursor(cursor)
    return ListFilters(user_id, agent_id, team_id, kind, name_contains), limit, after


def check_run(run: Run) -> None:
    if not isinstance(run, Run):
        raise InvalidInputError(f"expected a Run, got {type(run).__name__}")
    validate_id(run.run_id, "run_id")
    validate_id(run.session_id, "session_id")
    validate_optional_id(run.user_id, "user_id")
    validate_optional_id(run.agent_id, "agent_id")
    validate_optional_id(run.team_id, "team_id")
    validate_optional_id(run.parent_run_id, "parent_run_id")


def check_count(value: object, what: str) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"{what} must be a non-negative int or None")


def _json_copy(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        copied: dict[str, Any] = json.loads(json.dumps(dict(value), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must be JSON-compatible: {exc}") from exc
    return copied


def encode_cursor(updated_at: float, session_id: str) -> str:
    """An opaque listing cursor that resumes after ``(updated_at, session_id)``."""
    raw = json.dumps([updated_at, session_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The inverse of :func:`encode_cursor`; a malformed cursor is an InvalidInputError."""
    if not isinstance(cursor, str):
        raise InvalidInputError("cursor must be a str")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, session_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"cursor {cursor[:40]!r} is not a cursor this store issued"
        ) from exc
    if not isinstance(updated_at, (int, float)) or not isinstance(session_id, str):
        raise InvalidInputError(f"cursor {cursor[:40]!r} is not a cursor this store issued")
    return float(updated_at), session_id


def sort_key(info: SessionInfo) -> tuple[float, str]:
    """The listing order: newest update first, then session ID descending."""
    return (info.updated_at, info.session_id)


def new_session_info(run: Run, session_type: SessionType, now: float) -> SessionInfo:
    """The summary of a session that the run is about to create (version 0, no runs)."""
    is_team = session_type is SessionType.TEAM
    return SessionInfo(
        session_id=run.session_id,
        session_type=session_type,
        user_id=run.user_id,
        agent_id=None if is_team else run.agent_id,
        team_id=run.team_id if is_team else None,
        created_at=now,
        updated_at=now,
        version=0,
    )


def preview_of(run: Run) -> str | None:
    """The inbox preview a run leaves: its last chat message, shortened."""
    for message in reversed(run.messages):
        if message.is_chat and message.content:
            text = " ".join(message.content.split())
            return text[:PREVIEW_LENGTH]
    return None


def summary_after_append(info: SessionInfo, run: Run, now: float) -> SessionInfo:
    """The summary once ``run`` is appended: one more run, its status, tokens, preview."""
    preview = preview_of(run)
    return attrs.evolve(
        info,
        version=info.version + 1,
        updated_at=max(now, info.updated_at),
        run_count=info.run_count + 1,
        last_run_status=run.status,
        last_message_preview=preview if preview is not None else info.last_message_preview,
        input_tokens=info.input_tokens + run.metrics.input_tokens,
        output_tokens=info.output_tokens + run.metrics.output_tokens,
    )


def summary_after_trim(
    info: SessionInfo, removed: Iterable[Run], remaining: int, now: float
) -> SessionInfo:
    """The summary once ``removed`` runs are deleted and ``remaining`` runs are left."""
    removed = list(removed)
    if not removed:
        return info
    return attrs.evolve(
        info,
        version=info.version + 1,
        updated_at=max(now, info.updated_at),
        run_count=remaining,
        input_tokens=info.input_tokens - sum(r.metrics.input_tokens for r in removed),
        output_tokens=info.output_tokens - sum(r.metrics.output_tokens for r in removed),
    )


def summary_after_update(
    info: SessionInfo, old: Run, new: Run, is_last: bool, now: float
) -> SessionInfo:
    """The summary once ``old`` is replaced by ``new`` in place."""
    changes: dict[str, Any] = {
        "version": info.version + 1,
        "updated_at": max(now, info.updated_at),
        "input_tokens": info.input_tokens + new.metrics.input_tokens - old.metrics.input_tokens,
        "output_tokens": info.output_tokens + new.metrics.output_tokens - old.metrics.output_tokens,
    }
    if is_last:
        changes["last_run_status"] = new.status
        preview = preview_of(new)
        if preview is not None:
            changes["last_message_preview"] = preview
    return attrs.evolve(info, **changes)


def check_owner(info: SessionInfo, user_id: str | None) -> bool:
    """Whether a caller acting for ``user_id`` may see the session.

    With no ``user_id`` every session is visible; with one, only that user's sessions
    (a session with no owner is not that user's).
    """
    return user_id is None or info.user_id == user_id


class DeferredCheck(abc.ABC):
    """A version check on its way: what :meth:`Store.get_runs_deferred` read holds if it confirms.

    Made by a store (or its :class:`SessionWatcher`) that answered a read from memory
    and sent the check to the server without waiting for the reply; so the check's
    round trip overlaps the caller's own work.
    """

    @abc.abstractmethod
    def confirm(self) -> bool:
        """Wait for the answer: ``True`` if what was read was the store's at the read."""


class SessionWatcher(abc.ABC):
    """Answers "what is this session's summary now?" without a round trip when it can.

    A store offers one through :meth:`Store.session_watcher` when its server tells it
    of changes (for Redis, client tracking: the server pushes an invalidation of every
    key the watcher read once another client modifies it). The watcher keeps the
    summaries it has read and drops each one the moment a change notice arrives, so
    :meth:`session_info` can answer from memory while no notice has come, and reads
    the store (and watches the session again) when one has, or when it never read it.

    A :class:`~sessionary.caching.CachingStore` asks its store's watcher instead of
    reading :meth:`Store.get_session_info` before it trusts a cached session.

    The contract an implementation keeps (``docs/guides/caching.md`` has the timing
    argument for Redis):

    - :meth:`session_info` returns what ``get_session_info(session_id,
      user_id=user_id)`` would, owner check included, for every change whose notice
      reached the watcher before the call, and every write this process made through
      the store before the call;
    - a session this process wrote (:meth:`written`) is read again, not remembered;
    - a notice is never lost silently: when the channel the notices come on breaks
      (a dropped connection, a server restart), everything remembered is forgotten;
    - what it remembers is bounded, and it is safe to call from several threads.
    """

    @abc.abstractmethod
    def session_info(self, session_id: str, user_id: str | None = None) -> SessionInfo | None:
        """The session's summary as the store has it, or ``None`` (missing, or another user's)."""

    def session_info_deferred(
        self, session_id: str, user_id: str | None = None
    ) -> tuple[SessionInfo | None, DeferredCheck | None]:
        """:meth:`session_info` at once, with the proof that it is current still on its way.

        Returns the summary and ``None`` when it is already proven (as
        :meth:`session_info` is), or a :class:`DeferredCheck` that confirms it: the
        summary is then what the watcher knew when called, and the check confirms that
        no change notice was still on its way to it. The default is :meth:`session_info`
        and ``None``.
        """
        return self.session_info(session_id, user_id), None

    def written(  # noqa: B027 - optional hook with a no-op default
        self, session_id: str | None, info: SessionInfo | None = None
    ) -> None:
        """This process wrote ``session_id`` through the store (``None``: unnamed sessions).

        The caching store calls it after each of its writes returns or fails, before
        the write's caller gets control back, so the watcher forgets its summary of the
        session even if the server's change notice is still on its way: this process
        never reads older than its own writes. ``info`` is the summary the store
        returned for the write, if it returned one (a watcher may keep it once it has
        made sure nobody wrote after it). ``None`` for ``session_id`` (erasing a user)
        means any session may have changed. The default does nothing.
        """

    def close(self) -> None:  # noqa: B027 - optional hook with a no-op default
        """Release what the watcher holds (its connection). The store calls this on close."""
