"""The built-in in-memory store, ``memory://``: the reference implementation of the contract.

Runs are kept encoded (JSON text through the core codec), exactly as a real backend
keeps them, so a caller's objects and the stored ones never share mutable state, and
a corrupt record behaves as it would anywhere else. Session summaries are kept as
frozen objects whose ``state`` and ``metadata`` are private copies, copied again on
the way out.

``memory://`` opens a fresh, private store; ``memory://NAME`` opens the store of
that name shared by everyone in this process who opens the same URL.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from functools import partial
from typing import Any, ClassVar

import attrs

from sessionary.codec import (
    CodecError,
    decode_run,
    decode_session_info,
    encode_run,
    encode_session_info,
)
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    InvalidInputError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.storage.backend import stale_delete
from sessionary.storage.base import (
    ListFilters,
    Store,
    check_owner,
    check_run_version,
    new_session_info,
    preview_of,
    session_after_update,
    summary_after_append,
    summary_after_trim,
    summary_after_update,
)
from sessionary.storage.tails import (
    check_session_version,
    decode_each,
    messages_tail,
    preview_after_replace,
    summary_after_replace,
    too_few_runs,
)

__all__ = ["InMemoryDb", "MemoryDb"]

_NAMED: dict[str, MemoryDb] = {}
_NAMED_LOCK = threading.Lock()

_dump = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode


def _private(info: SessionInfo) -> SessionInfo:
    """A copy whose mutable fields are not shared with anyone."""
    if not info.state and not info.metadata:
        return info
    return attrs.evolve(
        info, state=copy.deepcopy(info.state), metadata=copy.deepcopy(info.metadata)
    )


def _encoded(run: Run) -> str:
    try:
        return _dump(encode_run(run))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"run {run.run_id!r} is not JSON-serialisable: {exc}") from exc


def _load(session_id: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CorruptRecordError(session_id, str(exc)) from exc


class MemoryDb(Store):
    """Sessions kept in this process's memory, gone when it exits.

    >>> from sessionary.storage.memory import MemoryDb
    >>> db = MemoryDb()
    >>> db.get_session("nope") is None
    True
    """

    name: ClassVar[str] = "memory"
    url_schemes: ClassVar[tuple[str, ...]] = ("memory",)

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._sessions: dict[str, SessionInfo] = {}
        self._runs: dict[str, list[str]] = {}
        # session_id -> run_id -> position in self._runs[session_id]
        self._positions: dict[str, dict[str, int]] = {}

    @classmethod
    def from_url(cls, url: str) -> MemoryDb:
        """``memory://`` for a private store, ``memory://NAME`` for a shared named one."""
        if not url.startswith("memory://"):
            raise InvalidInputError(f"not a memory:// URL: {url!r}")
        store_name = url[len("memory://") :].strip("/")
        if not store_name:
            return cls()
        with _NAMED_LOCK:
            return _NAMED.setdefault(store_name, cls())

    # ------------------------------------------------------------------ encoding

    def _info(self, session_id: str) -> SessionInfo | None:
        return self._sessions.get(session_id)

    def _decode_run(self, session_id: str, text: str) -> Run:
        try:
            return decode_run(json.loads(text))
        except (CodecError, ValueError) as exc:
            raise CorruptRecordError(session_id, str(exc)) from exc

    def _put_info(self, info: SessionInfo) -> None:
        self._sessions[info.session_id] = info

    # ------------------------------------------------------------------ writes

    def _append_run(
        self, run: Run, session_type: SessionType, expected_version: int | None = None
    ) -> SessionInfo:
        encoded = _encoded(run)
        with self._lock:
            now = time.time()
            info = self._info(run.session_id)
            if info is not None and info.user_id != run.user_id:
                raise OwnershipError(run.session_id, run.user_id)
            check_session_version(info, run.session_id, expected_version, done="appended")
            if info is None:
                info = new_session_info(run, session_type, now)
            positions = self._positions.setdefault(run.session_id, {})
            if run.run_id in positions:
                raise ConflictError(
                    f"run {run.run_id!r} already exists in session {run.session_id!r}"
                )
            runs = self._runs.setdefault(run.session_id, [])
            info = summary_after_append(info, run, now)
            runs.append(encoded)
            positions[run.run_id] = len(runs) - 1
            self._put_info(info)
            return _private(info)

    def _update_run(self, run: Run, expected_version: int) -> SessionInfo:
        new = attrs.evolve(run, version=expected_version + 1)
        encoded = _encoded(new)
        with self._lock:
            info = self._info(run.session_id)
            position = self._positions.get(run.session_id, {}).get(run.run_id)
            if info is None or position is None:
                raise RunNotFoundError(run.session_id, run.run_id)
            if info.user_id != run.user_id:
                raise OwnershipError(run.session_id, run.user_id)
            runs = self._runs[run.session_id]
            old = self._decode_run(run.session_id, runs[position])
            check_run_version(old, expected_version)
            info = summary_after_update(info, old, new, position == len(runs) - 1, time.time())
            runs[position] = encoded
            self._put_info(info)
            return _private(info)

    def _update_session(
        self,
        session_id: str,
        user_id: str | None,
        expected_version: int | None,
        changes: dict[str, Any],
    ) -> SessionInfo:
        with self._lock:
            info = session_after_update(
                self._info(session_id), session_id, user_id, expected_version, changes
            )
            self._put_info(info)
            return _private(info)

    def _import_session(self, session: Session, replace: bool) -> SessionInfo:
        try:
            encoded_runs = [_dump(encode_run(run)) for run in session.runs]
            info = decode_session_info(json.loads(_dump(encode_session_info(session.info))))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"session is not JSON-serialisable: {exc}") from exc
        with self._lock:
            if session.session_id in self._sessions:
                if not replace:
                    raise ConflictError(f"session {session.session_id!r} already exists")
                self._delete_session(session.session_id, None, None)
            self._sessions[session.session_id] = info
            self._runs[session.session_id] = encoded_runs
            self._positions[session.session_id] = {
                run.run_id: position for position, run in enumerate(session.runs)
            }
            return _private(info)

    def _delete_session(
        self, session_id: str, user_id: str | None, expected_version: int | None
    ) -> bool:
        with self._lock:
            info = self._sessions.get(session_id)
            if info is None or not check_owner(info, user_id):
                return False
            if expected_version is not None and info.version != expected_version:
                raise stale_delete(session_id, info.version, expected_version)
            del self._sessions[session_id]
            self._runs.pop(session_id, None)
            self._positions.pop(session_id, None)
            return True

    def _erase_user(self, user_id: str) -> int:
        with self._lock:
            doomed = [sid for sid, info in self._sessions.items() if info.user_id == user_id]
            for session_id in doomed:
                self._delete_session(session_id, None, None)
            return len(doomed)

    def _trim_runs(
        self,
        session_id: str,
        keep_last: int,
        user_id: str | None,
        expected_version: int | None,
    ) -> int:
        with self._lock:
            info = self._info(session_id)
            if info is None or not check_owner(info, user_id):
                raise SessionNotFoundError(session_id, user_id)
            if expected_version is not None and info.version != expected_version:
                raise stale_delete(session_id, info.version, expected_version, done="trimmed")
            runs = self._runs.get(session_id, [])
            cut = max(0, len(runs) - keep_last)
            if not cut:
                return 0
            removed = [self._decode_run(session_id, text) for text in runs[:cut]]
            kept = runs[cut:]
            self._runs[session_id] = kept
            self._positions[session_id] = {
                run_id: position - cut
                for run_id, position in self._positions[session_id].items()
                if position >= cut
            }
            self._put_info(summary_after_trim(info, removed, len(kept), time.time()))
            return cut

    def _replace_last_runs(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> SessionInfo:
        encoded = [_encoded(run) for run in runs]
        with self._lock:
            info = self._info(session_id)
            if info is None or not check_owner(info, user_id):
                raise SessionNotFoundError(session_id, user_id)
            for run in runs:
                if run.user_id != info.user_id:
                    raise OwnershipError(session_id, run.user_id)
            check_session_version(info, session_id, expected_version, done="replaced")
            stored = self._runs.get(session_id, [])
            if count > len(stored):
                raise too_few_runs(session_id, len(stored), count)
            cut = len(stored) - count
            positions = self._positions[session_id]
            for run in runs:
                if positions.get(run.run_id, cut) < cut:
                    raise ConflictError(
                        f"run {run.run_id!r} already exists in session {session_id!r}"
                    )
            removed = [self._decode_run(session_id, text) for text in stored[cut:]]
            kept = stored[:cut]
            preview = preview_after_replace(
                info,
                removed,
                runs,
                lambda: (preview_of(self._decode_run(session_id, t)) for t in reversed(kept)),
            )
            last = self._decode_run(session_id, kept[-1]).status if kept else None
            info = summary_after_replace(
                info,
                removed,
                runs,
                remaining=cut,
                last_status=last,
                preview=preview,
                now=time.time(),
            )
            self._runs[session_id] = [*kept, *encoded]
            self._positions[session_id] = {
                **{rid: pos for rid, pos in positions.items() if pos < cut},
                **{run.run_id: cut + index for index, run in enumerate(runs)},
            }
            self._put_info(info)
            return _private(info)

    # ------------------------------------------------------------------ reads

    def _labelled(
        self, session_id: str, start: int, stop: int | None = None
    ) -> list[tuple[str, str]]:
        """The stored runs from position ``start`` to ``stop``, each with its run ID."""
        ids = {position: rid for rid, position in self._positions.get(session_id, {}).items()}
        stored = self._runs.get(session_id, [])
        end = len(stored) if stop is None else stop
        return [(ids.get(i, f"#{i + 1}"), stored[i]) for i in range(start, end)]

    def _get_session(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Session | None:
        with self._lock:
            info = self._info(session_id)
            if info is None or not check_owner(info, user_id):
                return None
            total = len(self._runs.get(session_id, []))
            if before_run is not None:
                total = self._positions.get(session_id, {}).get(before_run, -1)
                if total < 0:
                    raise RunNotFoundError(session_id, before_run, user_id)
            start = 0 if last_n_runs is None else max(0, total - last_n_runs)
            records = self._labelled(session_id, start, total)
        runs, skipped = decode_each(
            session_id, records, lambda text: self._decode_run(session_id, text), skip_corrupt
        )
        return Session.from_info(_private(info), runs, skipped)

    def _get_messages(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> list[Message]:
        with self._lock:
            info = self._info(session_id)
            if info is None or not check_owner(info, user_id):
                return []
            records = self._labelled(session_id, 0)
        return messages_tail(
            session_id, reversed(records), partial(_load, session_id), last_n, skip_corrupt
        )

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        with self._lock:
            info = self._info(session_id)
        if info is None or not check_owner(info, user_id):
            return None
        return _private(info)

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        with self._lock:
            info = self._info(session_id)
            position = self._positions.get(session_id, {}).get(run_id)
            if info is None or position is None or not check_owner(info, user_id):
                return None
            text = self._runs[session_id][position]
        return self._decode_run(session_id, text)

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        with self._lock:
            infos = [info for info in self._sessions.values() if filters.matches(info)]
        infos.sort(key=filters.sort_key, reverse=True)
        if after is not None:
            infos = [info for info in infos if filters.sort_key(info) < after]
        page = [_private(info) for info in infos[:limit]]
        more = len(infos) > limit
        cursor = filters.cursor_after(page[-1]) if more and page else None
        return SessionPage(items=tuple(page), next_cursor=cursor)

    def _count_sessions(self, filters: ListFilters) -> int:
        with self._lock:
            return sum(1 for info in self._sessions.values() if filters.matches(info))


#: Agno's name for the in-memory store (a pure rename).
InMemoryDb = MemoryDb
