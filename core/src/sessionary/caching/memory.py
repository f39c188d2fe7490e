"""The built-in in-process LRU session cache, ``memory``: the default."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from typing import Any, ClassVar

import attrs

from sessionary.caching.base import CacheStats, SessionCache, is_newer, same_lifetime
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


class _Entry:
    """A cached session: its summary and a list of its runs that appends extend in place.

    The session object is built from them when asked for, and kept until the next
    append, so an append costs the same at run 10 and at run 10,000 (no copy of every
    run), and sessions handed out are never changed (each has a tuple of its own).
    """

    __slots__ = ("info", "runs", "size", "whole")

    def __init__(self, session: Session, size: int) -> None:
        self.info: SessionInfo = session
        self.runs: list[Run] = list(session.runs)
        self.whole: Session | None = session
        self.size = size

    def session(self, last_n_runs: int | None = None) -> Session:
        """The session (its last ``last_n_runs`` runs if given); call under the cache's lock."""
        runs = self.runs
        if last_n_runs is None or last_n_runs >= len(runs):
            if self.whole is None:
                self.whole = Session.from_info(self.info, runs)
            return self.whole
        return Session.from_info(self.info, runs[len(runs) - last_n_runs :] if last_n_runs else ())

    def extend(self, run: Run, info: SessionInfo, size: int) -> bool:
        """Add ``run`` if ``info`` is this entry's next version with one more run."""
        mine = self.info
        if (
            not same_lifetime(mine, info)
            or mine.version + 1 != info.version
            or mine.run_count + 1 != info.run_count
        ):
            return False
        self.info = info
        self.runs.append(run)
        self.whole = None
        self.size += size
        return True


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
            return entry.session(last_n_runs)

    def put(self, user_id: str | None, session: Session) -> bool:
        """Keep ``session`` unless a newer version is cached; ``False`` if too large."""
        key = (user_id, session.session_id)
        size = approx_size(session)
        with self._lock:
            existing = self._entries.get(key)
            if existing is not None and is_newer(existing.info, session):
                return False
            return self._store(key, session, size, existing)

    def append(self, user_id: str | None, run: Run, info: SessionInfo) -> bool:
        """Extend the entry by ``run`` if it is exactly one write behind ``info``."""
        key = (user_id, info.session_id)
        with self._lock:
            existing = self._entries.get(key)
            if info.run_count == 1:  # the run is the whole session
                new = Session.from_info(info, (run,))
                return self._store(key, new, approx_size(new), existing)
            if existing is None:
                return False
            run_size = approx_run_size(run) + _RUN_SLOT
            if not existing.extend(run, info, run_size):
                self._drop(key)
                return False
            self._bytes += run_size
            self._entries.move_to_end(key)
            if existing.size > self.max_bytes:
                self._drop(key)
                self._evictions += 1
                return False
            self._evict()
            return True

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
        self._evict()
        return True

    def _evict(self) -> None:
        while len(self._entries) > self.max_sessions or self._bytes > self.max_bytes:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.size
            self._evictions += 1

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
_RUN_SLOT = 8  # a run's place in the session's tuple


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
    size = _SESSION_OVERHEAD + _RUN_SLOT * len(session.runs)
    size += _DICT_ITEM * (len(session.state) + len(session.metadata))
    size += _text(session.name) + _text(session.last_message_preview)
    return size + sum(approx_run_size(run) for run in session.runs)
