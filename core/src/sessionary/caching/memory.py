"""The built-in in-process LRU session cache, ``memory``: the default."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any, ClassVar

import attrs

from sessionary.caching.base import CacheStats, SessionCache, appended, is_newer
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import InvalidInputError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_SESSIONS", "MemoryCache", "approx_size"]

#: Sessions a :class:`MemoryCache` keeps by default.
DEFAULT_MAX_SESSIONS = 1024
#: Approximate bytes a :class:`MemoryCache` keeps by default (64 MiB).
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

_Key = tuple[str | None, str]


@attrs.define
class _Entry:
    session: Session
    size: int


class MemoryCache(SessionCache):
    """Sessions kept in this process, least recently used dropped first.

    Bounded both by the number of sessions (``max_sessions``) and by their
    approximate size in memory (``max_bytes``, see :func:`approx_size`); a session
    larger than ``max_bytes`` on its own is not kept at all.

    >>> cache = MemoryCache(max_sessions=100, max_bytes=8 * 1024 * 1024)
    >>> cache.get(None, "s1") is None
    True
    """

    name: ClassVar[str] = "memory"

    def __init__(
        self,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        for what, value in (("max_sessions", max_sessions), ("max_bytes", max_bytes)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"{what} must be a positive int, got {value!r}")
        self.max_sessions = max_sessions
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._bytes = 0
        self._evictions = 0

    @classmethod
    def from_url(cls, url: str) -> MemoryCache:
        """``memory://`` opens a fresh cache with the default bounds."""
        if url.rstrip("/") != "memory:":
            raise InvalidInputError(f"a memory cache URL is 'memory://', got {url!r}")
        return cls()

    # ------------------------------------------------------------------ contract

    def get(
        self, user_id: str | None, session_id: str, *, last_n_runs: int | None = None
    ) -> Session | None:
        """The cached session (its last ``last_n_runs`` runs if given), or ``None``."""
        key = (user_id, session_id)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            session = entry.session
        return tail(session, last_n_runs)

    def put(self, user_id: str | None, session: Session) -> bool:
        """Keep ``session`` unless a newer version is cached; ``False`` if too large."""
        key = (user_id, session.session_id)
        size = approx_size(session)
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None and is_newer(existing.session, session):
                return False
            return self._store(key, session, size, existing)

    def append(self, user_id: str | None, run: Run, info: SessionInfo) -> bool:
        """Extend the entry by ``run`` if it is exactly one write behind ``info``."""
        key = (user_id, info.session_id)
        with self._lock:
            existing = self._entries.get(key)
            new = appended(existing.session if existing else None, run, info)
            if new is None:
                self._drop(key)
                return False
            if existing is not None and new.run_count > 1:
                size = existing.size + approx_run_size(run)
            else:
                size = approx_size(new)
            return self._store(key, new, size, existing)

    def invalidate(self, user_id: str | None, session_id: str) -> None:
        """Forget the session under that key."""
        with self._lock:
            self._drop((user_id, session_id))

    def clear(self) -> None:
        """Forget every session."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        """Evictions so far (this cache never fails, so no errors)."""
        return CacheStats(evictions=self._evictions)

    # ------------------------------------------------------------------ introspection

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def approx_bytes(self) -> int:
        """The approximate size of everything cached, as counted against ``max_bytes``."""
        return self._bytes

    # ------------------------------------------------------------------ internals

    def _store(self, key: _Key, session: Session, size: int, existing: _Entry | None) -> bool:
        if existing is not None:
            self._bytes -= existing.size
            del self._entries[key]
        if size > self.max_bytes:
            self._evictions += 1
            return False
        self._entries[key] = _Entry(session, size)
        self._bytes += size
        while len(self._entries) > self.max_sessions or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size
            self._evictions += 1
        return True

    def _drop(self, key: _Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size


def tail(session: Session, last_n_runs: int | None) -> Session:
    """The session with only its last ``last_n_runs`` runs (all of them for ``None``)."""
    if last_n_runs is None or last_n_runs >= len(session.runs):
        return session
    runs = session.runs[len(session.runs) - last_n_runs :] if last_n_runs else ()
    return attrs.evolve(session, runs=runs)


# ----------------------------------------------------------------------------- sizing

# Rough CPython overheads of the objects a run is made of; exactness is not the point,
# a bound that grows with what is really held is.
_RUN_OVERHEAD = 900
_MESSAGE_OVERHEAD = 450
_TOOL_CALL_OVERHEAD = 300
_DICT_ITEM = 120
_SESSION_OVERHEAD = 1500


def _text(value: str | None) -> int:
    return 0 if value is None else sys.getsizeof(value)


def _message_size(message: Message) -> int:
    size = _MESSAGE_OVERHEAD + _text(message.content) + _DICT_ITEM * len(message.metadata)
    for call in message.tool_calls:
        size += _TOOL_CALL_OVERHEAD + _text(call.name) + _text(call.raw_arguments)
        size += _DICT_ITEM * len(call.arguments)
    return size


def approx_run_size(run: Run) -> int:
    """Approximate bytes a run holds in memory: its texts plus per-object overheads."""
    size = _RUN_OVERHEAD + _text(run.input) + _text(run.content) + _text(run.error)
    size += _DICT_ITEM * len(run.metadata)
    size += sum(_message_size(m) for m in run.messages)
    for requirement in run.requirements:
        size += _TOOL_CALL_OVERHEAD + _DICT_ITEM * len(requirement.user_input)
        size += _text(requirement.external_result) + _text(requirement.note)
    return size


def approx_size(session: Session) -> int:
    """Approximate bytes a session holds in memory, runs included.

    Texts are measured with :func:`sys.getsizeof`; objects and dict items count a
    fixed overhead each, so a session of many small runs is not undercounted.
    """
    size = _SESSION_OVERHEAD + 8 * len(session.runs)
    size += _DICT_ITEM * (len(session.state) + len(session.metadata))
    size += _text(session.name) + _text(session.last_message_preview)
    return size + sum(approx_run_size(run) for run in session.runs)
