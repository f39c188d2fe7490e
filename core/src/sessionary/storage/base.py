"""The storage contract, as a base class every backend subclasses.

The public methods of :class:`Store` are the contract (see ``docs/storage-contract.md``).
They validate their arguments before any I/O (:mod:`sessionary.storage.checks`), then
call the backend's protected ``_`` methods (:class:`~sessionary.storage.backend.StoreBackend`),
so every backend rejects bad arguments the same way. A backend implements the abstract
``_`` methods and declares its :attr:`Store.capabilities`; the summary arithmetic it may
share is in :mod:`sessionary.storage.summaries`.

The helpers of those modules are importable from here too, as they always were.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, ClassVar

from sessionary.domain.messages import Message
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.aio import AsyncStore, ThreadedAsyncStore
from sessionary.storage.backend import Capability, SchemaStatus, StoreBackend
from sessionary.storage.checks import (
    MAX_LIST_LIMIT,
    UNSET,
    ListFilters,
    _Unset,
    check_count,
    check_flag,
    check_import,
    check_optional_version,
    check_replacement,
    check_run,
    check_version,
    count_arguments,
    list_arguments,
    session_changes,
)
from sessionary.storage.summaries import (
    PREVIEW_LENGTH,
    check_owner,
    check_run_version,
    decode_cursor,
    encode_cursor,
    new_session_info,
    preview_of,
    session_after_update,
    sort_key,
    summary_after_append,
    summary_after_trim,
    summary_after_update,
    summary_of_import,
)

__all__ = [
    "MAX_LIST_LIMIT",
    "PREVIEW_LENGTH",
    "UNSET",
    "Capability",
    "ListFilters",
    "SchemaStatus",
    "Store",
    "check_owner",
    "check_run_version",
    "decode_cursor",
    "encode_cursor",
    "new_session_info",
    "preview_of",
    "session_after_update",
    "sort_key",
    "summary_after_append",
    "summary_after_trim",
    "summary_after_update",
]


class Store(StoreBackend):
    """Base class of every storage backend.

    Subclasses set :attr:`name`, :attr:`url_schemes` and :attr:`capabilities`,
    implement :meth:`from_url` and the abstract ``_`` methods.
    """

    #: URL schemes :func:`sessionary.open_db` opens with this backend.
    url_schemes: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abc.abstractmethod
    def from_url(cls, url: str) -> Store:
        """Open the store a URL names. Does the I/O ``__init__`` must not do."""

    @classmethod
    def exists_at(cls, url: str) -> bool | None:
        """Whether the store a URL names exists, found without creating or opening it.

        ``None`` (the default) when a backend cannot tell so (a server's store is made on
        its first write). A file-based backend says ``False`` for a missing file, so the
        command line's read commands refuse a mistyped path instead of creating it.
        """
        return None

    # ------------------------------------------------------------------ writes

    def append_run(
        self,
        run: Run,
        *,
        session_type: SessionType = SessionType.AGENT,
        expected_version: int | None = None,
    ) -> SessionInfo:
        """Append a run to its session, creating the session on its first run.

        The run is stored whole or not at all, together with the session's summary,
        and earlier runs are never rewritten. If the session belongs to another user
        than ``run.user_id``, nothing is written and
        :class:`~sessionary.errors.SessionNotFoundError` is raised, as for a missing
        one. Appending a run that is already stored exactly so is a no-op (a retry after
        an ambiguous failure never duplicates); another run under a stored run's ID is a
        :class:`~sessionary.errors.ConflictError`. Returns the session's summary after
        the write.

        With ``expected_version`` (an int of 0 or more), the run is appended only if the
        session's stored version is that one, checked in the same atomic step as the
        write; ``0`` means the session must not exist yet. Otherwise nothing is written
        and :class:`~sessionary.errors.ConflictError` is raised.
        """
        check_run(run)
        check_optional_version(expected_version)
        try:
            return self._append_run(run, SessionType(session_type), expected_version)
        except OwnershipError:
            raise SessionNotFoundError(run.session_id, run.user_id) from None
        except ConflictError:
            stored = self._get_run(run.session_id, run.run_id, run.user_id)
            info = self._get_session_info(run.session_id, run.user_id)
            if stored != run or info is None:
                raise
            return info

    def update_run(self, run: Run, *, expected_version: int) -> SessionInfo:
        """Replace a stored run in place, if its stored version is ``expected_version``.

        The stored run gets version ``expected_version + 1``. Another writer that got
        there first makes this raise :class:`~sessionary.errors.ConflictError`; an
        unknown run raises :class:`~sessionary.errors.RunNotFoundError`.
        """
        check_run(run)
        check_version(expected_version)
        try:
            return self._update_run(run, expected_version)
        except (OwnershipError, RunNotFoundError):  # another user's run is not found either
            raise RunNotFoundError(run.session_id, run.run_id, run.user_id) from None

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

        With ``expected_version`` (an int of 0 or more), the write happens only if the
        stored version is that one (compare-and-set), else
        :class:`~sessionary.errors.ConflictError`.
        A missing session (or one of another user) raises
        :class:`~sessionary.errors.SessionNotFoundError`.
        """
        changes = session_changes(
            session_id,
            user_id,
            expected_version=expected_version,
            name=name,
            name_source=name_source,
            state=state,
            metadata=metadata,
        )
        return self._update_session(session_id, user_id, expected_version, changes)

    def import_session(self, session: Session, *, replace: bool = False) -> SessionInfo:
        """Write a whole session (from another store's export), runs in order.

        An existing session with that ID is an error unless ``replace`` is true, in which
        case it is deleted first.
        """
        check_import(session)
        return self._import_session(summary_of_import(session, time.time()), replace)

    def delete_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        expected_version: int | None = None,
    ) -> bool:
        """Delete a session and its runs. Returns whether it existed (for that user).

        With ``expected_version`` (an int of 0 or more), the delete happens only if the
        stored version is still that one, checked and deleted in one atomic step; a
        session that changed since it was read (a run appended, a rename) is kept and
        :class:`~sessionary.errors.ConflictError` is raised.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_optional_version(expected_version)
        return self._delete_session(session_id, user_id, expected_version)

    def erase_user(self, user_id: str) -> int:
        """Delete every session of a user, with their runs. Returns how many."""
        validate_id(user_id, "user_id")
        return self._erase_user(user_id)

    def trim_runs(
        self,
        session_id: str,
        *,
        keep_last: int,
        user_id: str | None = None,
        expected_version: int | None = None,
    ) -> int:
        """Delete all but the last ``keep_last`` runs of a session; returns how many went.

        The summary stays equal to the sum of the remaining runs (run count, tokens) and
        the version is bumped when anything was deleted. A missing session (or another
        user's) raises :class:`~sessionary.errors.SessionNotFoundError`. With
        ``expected_version``, only a session still at that version is trimmed (so only
        runs the caller saw go); else :class:`~sessionary.errors.ConflictError`.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(keep_last, "keep_last")
        check_optional_version(expected_version)
        return self._trim_runs(session_id, keep_last, user_id, expected_version)

    def replace_last_runs(
        self,
        session_id: str,
        count: int,
        runs: Sequence[Run] = (),
        *,
        user_id: str | None = None,
        expected_version: int | None = None,
    ) -> SessionInfo:
        """Remove the last ``count`` runs of a session and append ``runs`` in their place.

        One atomic write: a reader sees the session before or after it, never between.
        ``runs=()`` removes the last ``count`` runs. The summary is recomputed exactly
        (run count, tokens, last run status, preview) and the version bumped once (not
        at all when nothing is removed or added). A run in ``runs`` may reuse the ID of
        a removed run (a shortened copy of the last run, say); the ID of a kept run is a
        :class:`~sessionary.errors.ConflictError`. With ``expected_version``, only a
        session still at that version is changed; a session holding fewer than
        ``count`` runs is a :class:`~sessionary.errors.ConflictError` too, with nothing
        written. A missing session (or another user's) raises
        :class:`~sessionary.errors.SessionNotFoundError`.
        """
        checked = check_replacement(session_id, count, runs, user_id)
        check_optional_version(expected_version)
        try:
            return self._replace_last_runs(session_id, user_id, count, checked, expected_version)
        except OwnershipError:
            raise SessionNotFoundError(session_id, user_id) from None

    # ------------------------------------------------------------------ reads

    def get_session(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n_runs: int | None = None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        """The session with its runs (only the last N with ``last_n_runs``), or ``None``.

        Given a ``user_id``, a session of another user is ``None``. A run whose stored
        record cannot be decoded raises :class:`~sessionary.errors.CorruptRecordError`;
        with ``skip_corrupt=True`` it is left out instead, logged as a warning and named
        in :attr:`Session.skipped_runs <sessionary.Session.skipped_runs>`.

        With ``before_run`` (a run ID), only the runs stored before that run are read,
        the last ``last_n_runs`` of them: the previous page of a history. A run the
        session does not hold raises :class:`~sessionary.errors.RunNotFoundError`. The
        summary fields (``run_count``...) stay the whole session's.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(last_n_runs, "last_n_runs")
        check_flag(skip_corrupt, "skip_corrupt")
        validate_optional_id(before_run, "before_run")
        if before_run is not None:
            return self._get_session(session_id, user_id, last_n_runs, skip_corrupt, before_run)
        if skip_corrupt:
            return self._get_session(session_id, user_id, last_n_runs, True)
        return self._get_session(session_id, user_id, last_n_runs)

    def get_session_info(
        self, session_id: str, *, user_id: str | None = None
    ) -> SessionInfo | None:
        """The session's metadata and summary without runs (one cheap read), or ``None``."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        return self._get_session_info(session_id, user_id)

    def get_runs(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n: int | None = None,
        skip_corrupt: bool = False,
    ) -> list[Run]:
        """The session's runs in order (the last ``last_n`` only); empty if no such session.

        ``skip_corrupt`` as in :meth:`get_session` (the skipped runs are logged).
        """
        session = self.get_session(
            session_id, user_id=user_id, last_n_runs=last_n, skip_corrupt=skip_corrupt
        )
        return [] if session is None else list(session.runs)

    def get_messages(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        last_n: int | None = None,
        skip_corrupt: bool = False,
    ) -> list[Message]:
        """The session's messages in order, as :meth:`Session.get_messages` lists them
        (every run's, members' runs too); only the last ``last_n`` with it.

        A message-level tail read: the store reads only the runs that hold those
        messages, and decodes only those messages (a short run's whole, in one pass),
        so ``last_n=20`` costs about 20 messages however the session is split into
        runs. Empty if no such session (or
        another user's). ``skip_corrupt`` as in :meth:`get_session`; the skipped runs
        are logged.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        check_count(last_n, "last_n")
        check_flag(skip_corrupt, "skip_corrupt")
        return self._get_messages(session_id, user_id, last_n, skip_corrupt)

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
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
        order_by: str = "last_run_at",
        limit: int = 50,
        cursor: str | None = None,
    ) -> SessionPage:
        """One page of sessions, latest activity first, never loading runs.

        ``order_by`` is ``"last_run_at"`` (the last run appended or continued; a session
        without runs by its creation), ``"updated_at"`` (any write) or ``"created_at"``;
        ties go by session ID, both descending. Filters combine with AND:
        ``name_contains`` matches case-insensitively, ``status`` is the last run's,
        ``has_paused`` whether any run waits paused (an approval queue), the
        ``*_after`` bounds are inclusive and the ``*_before`` ones exclusive (a session
        without runs matches no ``active_*`` bound). Pass the page's ``next_cursor``
        back as ``cursor``, with the same ``order_by``, for the next page.
        """
        filters, limit, after = list_arguments(
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            session_type=session_type,
            name_contains=name_contains,
            status=status,
            has_paused=has_paused,
            active_after=active_after,
            active_before=active_before,
            created_after=created_after,
            created_before=created_before,
            order_by=order_by,
            limit=limit,
            cursor=cursor,
        )
        return self._list_sessions(filters, limit, after)

    def count_sessions(
        self,
        *,
        user_id: str | None = None,
        agent_id: str | None = None,
        team_id: str | None = None,
        session_type: SessionType | str | None = None,
        name_contains: str | None = None,
        status: RunStatus | str | None = None,
        has_paused: bool | None = None,
        active_after: float | None = None,
        active_before: float | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> int:
        """How many sessions :meth:`list_sessions` lists with these filters, never
        loading runs: with ``limit``, the number of pages (page N of M)."""
        filters = count_arguments(
            user_id=user_id,
            agent_id=agent_id,
            team_id=team_id,
            session_type=session_type,
            name_contains=name_contains,
            status=status,
            has_paused=has_paused,
            active_after=active_after,
            active_before=active_before,
            created_after=created_after,
            created_before=created_before,
        )
        return self._count_sessions(filters)

    # ------------------------------------------------------------------ async

    def to_async(self) -> AsyncStore:
        """This store's async twin, on the same data: what ``arun`` and the ``a*`` methods use.

        The default is a :class:`~sessionary.storage.aio.ThreadedAsyncStore` (each call of
        this store runs in a worker thread, so the event loop never waits on it). A
        backend with an async driver overrides this to return its native async store.
        """
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
