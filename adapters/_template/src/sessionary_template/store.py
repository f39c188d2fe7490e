"""TemplateDb: the minimal shape of a storage backend."""

from __future__ import annotations

from typing import Any, ClassVar

from sessionary import Message, Run, Session, SessionInfo, SessionPage, SessionType, Store
from sessionary.storage.base import Capability, ListFilters


class TemplateDb(Store):
    name: ClassVar[str] = "template"
    url_schemes: ClassVar[tuple[str, ...]] = ("template",)
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.PERSISTENT})

    def __init__(self, *, client: Any) -> None:
        self._client = client  # no I/O here

    @classmethod
    def from_url(cls, url: str) -> TemplateDb:
        raise NotImplementedError("connect, then return cls(client=...)")

    # One short atomic write: insert the run, update the session summary
    # (see sessionary.storage.base.summary_after_append), refuse another user's session,
    # and with expected_version check the stored version in that same step
    # (sessionary.storage.tails.check_session_version; a missing session is version 0).
    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo: ...
    def _update_run(self, run: Run, expected_version: int) -> SessionInfo: ...
    def _update_session(
        self, session_id: str, user_id: str | None, expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo: ...
    def _import_session(self, session: Session, replace: bool) -> SessionInfo: ...
    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool: ...
    def _erase_user(self, user_id: str) -> int: ...
    # Delete all but the last keep_last runs; summary_after_trim keeps the totals exact.
    # With expected_version, trim only a session still at that version (else
    # sessionary.storage.backend.stale_delete's ConflictError), checked in the same write.
    def _trim_runs(
        self, session_id: str, keep_last: int, user_id: str | None,
        expected_version: int | None,
    ) -> int: ...
    # Remove the last `count` runs and append `runs`, in one atomic step; the summary
    # comes from sessionary.storage.tails.summary_after_replace and preview_after_replace.
    # Without it, replace_last_runs raises StorageError and its suite clauses fail.
    def _replace_last_runs(
        self, session_id: str, user_id: str | None, count: int, runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo: ...
    # skip_corrupt: decode with sessionary.storage.tails.decode_each, which skips and names
    # an undecodable run (Session.from_info(info, runs, skipped)). With before_run, only
    # the runs stored before that run (RunNotFoundError if the session does not hold it).
    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None,
        skip_corrupt: bool = False, before_run: str | None = None,
    ) -> Session | None: ...
    # Optional: the last messages without decoding whole runs. The default reads the last
    # last_n runs through _get_session; a store that reads runs newest first overrides it
    # with sessionary.storage.tails.messages_tail.
    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]: ...
    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None: ...
    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None: ...
    # The sessions filters.matches, by filters.sort_key descending, after `after`;
    # next_cursor=filters.cursor_after(last) when there are more.
    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage: ...
    # Optional: how many sessions filters.matches, from an index (the default pages
    # through _list_sessions).
    def _count_sessions(self, filters: ListFilters) -> int: ...
