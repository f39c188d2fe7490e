"""What the session watcher knows, and the order in which it learns it.

:class:`Mirror` is the watcher's state with no I/O and no lock: the summaries it read,
the requests it sent whose replies have not come, and the rule that keeps it correct,
which is to apply every frame of the tracking connection in the order it arrived:

- an ``invalidate`` push drops the summaries of the keys it names (``None``: all);
- a read's reply is remembered. A push that came before it was caused by a write the
  read already sees; one that comes after it drops what it returned;
- a write sent on the connection has ``HMGET version created`` (and, with a TTL,
  ``PTTL``) right behind it; the server runs them back to back, so that read shows the
  state the write left. When the caching store says which summary the write returned
  (:meth:`Mirror.claim`) and the read matches it, that summary is remembered.

Keys are the session hashes' names as bytes, as invalidations name them.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any, Final

import attrs

from sessionary.domain.sessions import SessionInfo
from sessionary.errors import CorruptRecordError, StorageError
from sessionary_redis import resp3
from sessionary_redis.records import decode_info
from sessionary_redis.scripts import INFO_FIELDS

__all__ = ["CONFIRM_FIELDS", "FIELDS", "Mirror", "Request", "UnaskedReply"]

#: The session hash fields a read asks for (a whole summary).
FIELDS: Final = tuple(f.encode() for f in INFO_FIELDS)
#: Every write bumps ``version``; ``created`` tells a recreated session from the old one.
CONFIRM_FIELDS: Final = (b"version", b"created")


class UnaskedReply(Exception):
    """A reply came with no request waiting for it: the connection is out of step."""


@attrs.define
class Request:
    """A request sent on the tracking connection, waiting for its reply."""

    #: "read" (a summary, or with ``expected`` only its version), "pttl" (the time to
    #: live behind a read or a write), "script" (a write), "confirm" (the version read
    #: behind a write), "ping", "untracked" (``CLIENT CACHING no`` before a write)
    kind: str
    sent_at: float
    key: bytes = b""
    session_id: str = ""
    expected: SessionInfo | None = None
    done: bool = False
    value: SessionInfo | None = None
    error: Exception | None = None
    raw: Any = None  # a script's reply, as the server sent it
    settled: bool = False  # a confirm whose write's summary is known (or known to be none)


class Mirror:
    """Summaries read on the tracking connection, kept in step with what it delivers.

    At most ``max_sessions`` summaries, least recently used forgotten first. ``ttl``:
    the store's sessions expire, so reads carry a ``PTTL`` and a summary is trusted no
    longer than the key lives (a key that expires lazily sends no invalidation).
    """

    def __init__(self, *, max_sessions: int, ttl: bool, server: str) -> None:
        self.max_sessions = max_sessions
        self.ttl = ttl
        self.server = server
        # key -> the summary read (None: no such session), least recently used first
        self.summaries: OrderedDict[bytes, SessionInfo | None] = OrderedDict()
        self.expires: dict[bytes, float] = {}  # key -> monotonic time it expires by
        self.in_flight: dict[bytes, int] = {}  # key -> reads sent, not yet settled
        self.requests: deque[Request] = deque()
        # A write sent here: the version read behind it, waiting for the write's summary
        # (claim), or that read's reply, waiting for the summary.
        self.confirming: dict[bytes, Request] = {}
        self.unclaimed: dict[bytes, Any] = {}
        #: Send time of the newest request answered: every notice queued before then
        #: has arrived.
        self.proven_at = float("-inf")

    def __len__(self) -> int:
        return len(self.summaries)

    # ------------------------------------------------------------------ asking

    def knows(self, key: bytes, now: float) -> bool:
        """Whether the mirror can answer for ``key`` now: remembered, settled, unexpired."""
        deadline = self.expires.get(key)
        if deadline is not None and now >= deadline:
            self.forget(key)
        return key in self.summaries and key not in self.in_flight

    def answer(self, key: bytes) -> SessionInfo | None:
        """The remembered summary (call :meth:`knows` first); marks it recently used."""
        self.summaries.move_to_end(key)
        return self.summaries[key]

    # ------------------------------------------------------------------ sending

    def read_sent(
        self, key: bytes, session_id: str, now: float, expected: SessionInfo | None = None
    ) -> Request:
        """Note a read sent (with its ``PTTL`` behind it if :attr:`ttl`); returns it."""
        request = Request("read", now, key, session_id, expected=expected)
        self.requests.append(request)
        if self.ttl:
            self.requests.append(Request("pttl", now, key))
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        return request

    def write_sent(self, key: bytes, now: float) -> Request:
        """Note a write sent with its version read (and ``PTTL``) behind it; returns it."""
        request = Request("script", now, key)
        confirm = Request("confirm", now, key)
        self.requests.extend((request, confirm))
        if self.ttl:
            self.requests.append(Request("pttl", now, key))
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.confirming[key] = confirm
        self.unclaimed.pop(key, None)
        return request

    def untracked_sent(self, now: float) -> Request:
        """Note a ``CLIENT CACHING no`` sent (before a write); returns it."""
        request = Request("untracked", now)
        self.requests.append(request)
        return request

    def ping_sent(self, now: float) -> Request:
        """Note a ``PING`` sent; returns it."""
        request = Request("ping", now)
        self.requests.append(request)
        return request

    # ------------------------------------------------------------------ this process's writes

    def claim(self, key: bytes, info: SessionInfo | None) -> bool:
        """A write sent here returned ``info`` (``None``: failed); False if none was sent."""
        confirm = self.confirming.pop(key, None)
        if confirm is not None:  # its version read is still on the way
            confirm.expected, confirm.settled = info, True
            return True
        if key not in self.unclaimed:
            return False
        frame = self.unclaimed.pop(key)
        if info is not None and _confirms(frame, info):
            self.remember(key, info)
        else:
            self.forget(key)
        return True

    # ------------------------------------------------------------------ learning

    def apply(self, frame: Any) -> None:
        """One frame from the connection, in the order it arrived."""
        if isinstance(frame, resp3.Push):
            self._pushed(frame)
            return
        if not self.requests:
            raise UnaskedReply(f"a reply nobody asked for: {str(frame)[:80]}")
        self._answered(self.requests.popleft(), frame)

    def remember(self, key: bytes, info: SessionInfo | None) -> None:
        """Keep a summary (most recently used), forgetting the oldest past the bound."""
        self.summaries[key] = info
        self.summaries.move_to_end(key)
        while len(self.summaries) > self.max_sessions:
            self.forget(next(iter(self.summaries)))

    def forget(self, key: bytes) -> None:
        """Drop what is known of ``key``.

        A version read still on the way behind a write sent here is not cancelled: it
        was sent after whatever made us forget, so it sees that change.
        """
        self.summaries.pop(key, None)
        self.expires.pop(key, None)
        self.unclaimed.pop(key, None)

    def forget_all(self) -> None:
        """Drop every summary (a flush, or writes to sessions nobody named)."""
        self.summaries.clear()
        self.expires.clear()
        self.unclaimed.clear()
        for confirm in self.confirming.values():
            confirm.expected, confirm.settled = None, True
        self.confirming.clear()

    def clear(self) -> None:
        """Forget everything, sent requests included: the connection is gone."""
        self.forget_all()
        self.in_flight.clear()
        self.requests.clear()
        self.proven_at = float("-inf")

    def _pushed(self, frame: resp3.Push) -> None:
        if len(frame) < 2 or frame[0] not in (b"invalidate", "invalidate"):
            return  # other pushes (maintenance notices) say nothing about our keys
        keys = frame[1]
        if keys is None:  # FLUSHDB / FLUSHALL: every key changed
            self.forget_all()
            return
        for key in keys:
            self.forget(key if isinstance(key, bytes) else str(key).encode())

    def _answered(self, request: Request, frame: Any) -> None:
        request.done = True
        self.proven_at = max(self.proven_at, request.sent_at)
        kind, key = request.kind, request.key
        if kind == "ping" or kind == "untracked":
            if isinstance(frame, resp3.ReplyError):
                what = "PING" if kind == "ping" else "CLIENT CACHING no"
                raise UnaskedReply(f"{what} answered {frame}")
            return
        if kind == "script":
            request.raw = frame
            return
        if kind == "pttl" or not self.ttl:
            self._settled(key)
        if kind == "pttl":
            if isinstance(frame, int) and frame >= 0:
                self.expires[key] = request.sent_at + frame / 1000
            else:
                self.expires.pop(key, None)  # no such key, or no expiry
        elif kind == "confirm":
            self._confirmed(request, frame)
        else:
            self._read(request, frame)

    def _settled(self, key: bytes) -> None:
        left = self.in_flight.pop(key, 1) - 1
        if left:
            self.in_flight[key] = left

    def _confirmed(self, confirm: Request, frame: Any) -> None:
        key = confirm.key
        current = self.confirming.get(key) is confirm
        if current:
            del self.confirming[key]
        if isinstance(frame, resp3.ReplyError):
            self.forget(key)
        elif not confirm.settled:
            if current:  # the write's summary is not known yet: keep what was read
                if len(self.unclaimed) >= self.max_sessions:
                    self.unclaimed.clear()
                self.unclaimed[key] = frame
        elif confirm.expected is not None and _confirms(frame, confirm.expected):
            self.remember(key, confirm.expected)
        else:
            self.forget(key)

    def _read(self, request: Request, frame: Any) -> None:
        key = request.key
        if isinstance(frame, resp3.ReplyError):
            request.error = (
                CorruptRecordError(request.session_id, f"a key has the wrong type: {frame}")
                if frame.startswith("WRONGTYPE")
                else StorageError(
                    f"{self.server} refused to read session {request.session_id!r}: {frame}"
                )
            )
            self.forget(key)
            return
        expected = request.expected
        if expected is not None:
            if not _confirms(frame, expected):
                self.forget(key)  # another write came first: read it when asked
                return
            request.value = expected
        else:
            try:
                decoded = decode_info(request.session_id, frame)
            except StorageError as exc:  # a damaged record: the caller's error, as in a read
                request.error = exc
                self.forget(key)
                return
            request.value = None if decoded is None else decoded[0]
        self.remember(key, request.value)


def _confirms(frame: Any, expected: SessionInfo) -> bool:
    """Whether an ``HMGET version created`` reply is the state ``expected`` describes."""
    try:
        version, created = frame
        return int(version) == expected.version and float(created) == expected.created_at
    except (TypeError, ValueError):
        return False
