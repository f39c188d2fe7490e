"""``RedisSessionWatcher``: session summaries kept current by Redis client tracking.

The watcher owns one RESP3 connection with ``CLIENT TRACKING ON``. Every session hash
it reads (``HMGET``) on that connection is remembered by the server, which pushes an
``invalidate`` message on the same connection as soon as any client modifies the key.
So the watcher keeps a small mirror of the summaries it has read
(:class:`~sessionary_redis.mirror.Mirror`), and answers
:meth:`RedisSessionWatcher.session_info` from it after reading, without waiting,
whatever the server has pushed since; a key that was invalidated, or never read, is
read again (one round trip, and it is tracked again).

Why that is correct (``docs/guides/caching.md`` states the guarantee):

- **Order.** Replies and pushes share the connection, and the server queues an
  invalidation on it while the modifying command runs. Frames are applied strictly in
  the order they arrive: an invalidation that arrives before a read's reply was
  caused by a write the read already sees; one that arrives after it drops what the
  read returned.
- **This process's writes.** A write of the store to a session the watcher holds is
  sent on the watcher's connection when no other thread is using it
  (:meth:`RedisSessionWatcher.run_write`), with ``HMGET version created`` behind it in
  the same packet: the server runs the two back to back, so that read keeps the session
  watched and shows nobody wrote in between (tracking is ``OPTOUT`` and the write goes
  after ``CLIENT CACHING no``, so the other keys its script reads are not watched).
  The caching store then calls
  :meth:`RedisSessionWatcher.written` with the summary the write returned, and every
  watcher of this process on the same server and prefix drops its entry before the
  write returns (:func:`announce_write`); the one that carried the write keeps the
  returned summary if the read matches it. The others (and a write the store sent
  itself) send a re-read at once without waiting for its reply, so the next check
  usually finds the new summary already there.
- **A broken channel forgets everything.** If the connection fails, is killed
  (``CLIENT KILL``), hits end of file, sends something unexpected, or the process
  forked, the mirror is dropped whole: invalidations may have been missed. The next
  call connects again and reads afresh.
- **Liveness.** A connection that silently stopped delivering (a partition, a server
  host that vanished) sends no end of file; so when no reply has come back on it for
  :data:`HEARTBEAT_SECONDS`, the next answer from the mirror first waits for a
  ``PING`` (a barrier: every invalidation queued before it has then arrived).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import redis

from sessionary.domain.sessions import SessionInfo
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.base import DeferredCheck, SessionWatcher
from sessionary_redis import resp3
from sessionary_redis.link import Link, LinkBroken
from sessionary_redis.mirror import CONFIRM_FIELDS, FIELDS, Mirror, Request, UnaskedReply

if TYPE_CHECKING:
    from sessionary_redis.store import RedisDb

__all__ = [
    "HEARTBEAT_SECONDS",
    "MAX_SESSIONS",
    "NOT_SENT",
    "RedisSessionWatcher",
    "WatcherStats",
    "announce_write",
]

log = logging.getLogger("sessionary_redis")

_PING: Final = resp3.pack("PING")
#: Sent before a write: the keys its script reads are not tracked (only the session
#: hash is, by the read behind the write), so its writes push no invalidations back.
_UNTRACKED: Final = resp3.pack("CLIENT", "CACHING", "no")

#: Summaries a watcher remembers (least recently used forgotten first).
MAX_SESSIONS: Final = 4096
#: Longest time the mirror is trusted without a reply proving the connection alive.
HEARTBEAT_SECONDS: Final = 1.0
#: Seconds before connecting again after the connection could not be made.
RECONNECT_DELAY: Final = 1.0
#: Requests that may be on the way at once; past it a write of this process only
#: drops its session's summary (the next check reads it).
MAX_IN_FLIGHT: Final = 256
#: What :meth:`RedisSessionWatcher.run_write` returns when the store must send the write.
NOT_SENT: Final = object()


@attrs.frozen
class WatcherStats:
    """What a watcher did: answers from the mirror, reads, and connections lost.

    ``local`` answers came from the mirror without waiting; ``waited`` ones waited for
    the rest of a re-read already sent after a write of this process; ``reads`` are
    summaries read for a caller, who waited a round trip (never read, or changed by
    another client); ``prefetches`` are re-reads sent after this process's writes,
    which nobody waits for; ``writes`` are the store's writes sent on the tracking
    connection with the version read behind them (no re-read needed then); ``pings``
    are heartbeat barriers; ``resets`` are times the mirror was dropped because the
    connection broke; ``fallbacks`` are answers read through the store because the
    tracking connection could not be used; ``deferred`` are the ``local`` answers
    given before their ``PING`` barrier came back
    (:meth:`RedisSessionWatcher.session_info_deferred`), and ``disproved`` those of
    them the barrier showed had changed; ``remembered`` is how many summaries the
    mirror holds now.
    """

    local: int = 0
    waited: int = 0
    reads: int = 0
    prefetches: int = 0
    writes: int = 0
    pings: int = 0
    resets: int = 0
    fallbacks: int = 0
    deferred: int = 0
    disproved: int = 0
    remembered: int = 0


class RedisSessionWatcher(SessionWatcher):
    """Summaries of a :class:`~sessionary_redis.RedisDb`'s sessions, kept by client tracking.

    Made by :meth:`RedisDb.session_watcher() <sessionary_redis.RedisDb.session_watcher>`;
    it connects on first use. Remembers at most ``max_sessions`` summaries.
    """

    def __init__(
        self,
        store: RedisDb,
        *,
        max_sessions: int = MAX_SESSIONS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self._store = store
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._link: Link | None = None
        self._mirror = Mirror(
            max_sessions=max_sessions, ttl=store.ttl is not None, server=store.server
        )
        self._retry_at = 0.0
        self._unsupported: str | None = None
        self._closed = False
        self._counts = dict.fromkeys(
            (
                "local",
                "waited",
                "reads",
                "prefetches",
                "writes",
                "pings",
                "resets",
                "fallbacks",
                "deferred",
                "disproved",
            ),
            0,
        )
        self.client_id: int | None = None  # of the tracking connection, once connected

    def __repr__(self) -> str:
        state = "connected" if self._link is not None else "idle"
        return f"RedisSessionWatcher({self._store.server}, prefix={self._store.prefix!r}, {state})"

    @property
    def max_sessions(self) -> int:
        """How many summaries the watcher remembers at most."""
        return self._mirror.max_sessions

    @max_sessions.setter
    def max_sessions(self, value: int) -> None:
        self._mirror.max_sessions = value

    @property
    def stats(self) -> WatcherStats:
        """Answers from the mirror, reads, heartbeats and resets so far."""
        with self._lock:
            return WatcherStats(**self._counts, remembered=len(self._mirror))

    # ------------------------------------------------------------------ contract

    def session_info(self, session_id: str, user_id: str | None = None) -> SessionInfo | None:
        """What ``store.get_session_info(session_id, user_id=user_id)`` returns, mostly locally."""
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        key = self._store.keys.session(session_id).encode()
        with self._lock:
            try:
                info = self._current(key, session_id)
                found = True
            except (LinkBroken, UnaskedReply) as exc:
                self._reset(str(exc))
                found = False
        if not found:
            with self._lock:
                self._counts["fallbacks"] += 1
            return self._store.get_session_info(session_id, user_id=user_id)
        if info is None or (user_id is not None and info.user_id != user_id):
            return None
        return info

    def session_info_deferred(
        self, session_id: str, user_id: str | None = None
    ) -> tuple[SessionInfo | None, DeferredCheck | None]:
        """The mirror's summary now, with the ``PING`` that proves it sent but not awaited.

        When the mirror holds the session and a barrier is due (always, with the default
        ``tracking_ping=True``), the ``PING`` goes out and the summary comes back at
        once, with a :class:`~sessionary.storage.base.DeferredCheck`: its ``confirm()``
        waits for the ``PONG`` and is ``True`` if no invalidation of the session came
        before it, that is, if the summary was current when the ``PING`` was sent, just
        as :meth:`session_info` would have proven before answering. Otherwise this is
        :meth:`session_info` and ``None``.
        """
        validate_id(session_id, "session_id")
        validate_optional_id(user_id, "user_id")
        key = self._store.keys.session(session_id).encode()
        deferred: tuple[SessionInfo | None, DeferredCheck] | None = None
        with self._lock:
            try:
                deferred = self._deferred(key)
            except (LinkBroken, UnaskedReply) as exc:
                self._reset(str(exc))
        if deferred is None:
            return self.session_info(session_id, user_id), None
        info, check = deferred
        if info is not None and user_id is not None and info.user_id != user_id:
            return None, check
        return info, check

    def close(self) -> None:
        """Close the tracking connection and forget every summary."""
        with self._lock:
            self._closed = True
            self._drop_link()
        _unregister(self)

    # ------------------------------------------------------------------ this process's writes

    def written(self, session_id: str | None, info: SessionInfo | None = None) -> None:
        """This process wrote ``session_id`` (``None``: unnamed sessions) through the store.

        Every watcher of this process on the same server and prefix forgets the
        session's summary now, whatever store object made the write. The one that
        carried the write (:meth:`run_write`) keeps ``info``, the summary the write
        returned, if the version read behind the write matches it; the others read
        the session again without waiting for the reply (with ``info``, only its
        version), so the next check usually finds it already there. ``None`` for
        ``session_id`` makes them forget every summary.
        """
        announce_write(self._store, session_id, info)

    def run_write(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Send a write script of the store here, with a read of its session behind it.

        Used for sessions the mirror holds, when no other thread is using the
        connection; otherwise (and in a forked child) it returns :data:`NOT_SENT` and
        the store sends the write itself. The server runs the write and the read behind
        it back to back, so the read keeps the session watched without another round
        trip, and shows the state the write left. Returns the script's reply as the
        server sent it; a failed connection is a ``redis.exceptions.ConnectionError``
        (the store's retry policy decides what next), an error reply a
        ``redis.exceptions.ResponseError``.
        """
        if not keys or not self._lock.acquire(blocking=False):
            return NOT_SENT
        try:
            key = str(keys[0]).encode()
            link = self._link
            if (
                link is None
                or link.pid != os.getpid()
                or not self._mirror.knows(key, time.monotonic())
                or len(self._mirror.requests) >= MAX_IN_FLIGHT
            ):
                return NOT_SENT
            try:
                return self._write_here(link, key, script, keys, args)
            except (LinkBroken, UnaskedReply) as exc:
                self._reset(str(exc))
                raise redis.exceptions.ConnectionError(
                    f"the tracking connection failed during a write: {exc}"
                ) from exc
        finally:
            self._lock.release()

    def _heard(self, key: bytes | None, session_id: str | None, info: SessionInfo | None) -> None:
        """A write of this process to ``key`` (``None``: to any key) returned or failed."""
        with self._lock:
            mirror, link = self._mirror, self._link
            if key is None or session_id is None:
                mirror.forget_all()
                return
            if mirror.claim(key, info):
                return
            if link is None or (key not in mirror.summaries and key not in mirror.in_flight):
                return
            mirror.forget(key)
            try:
                self._check_fork(link)
                if len(mirror.requests) > MAX_IN_FLIGHT // 8:
                    self._apply(link, wait=False)  # keep a write-only caller's replies short
                if len(mirror.requests) < MAX_IN_FLIGHT:
                    self._send_read(link, key, session_id, info)
                    self._counts["prefetches"] += 1
            except (LinkBroken, UnaskedReply) as exc:
                self._reset(str(exc))

    # ------------------------------------------------------------------ internals (locked)

    def _current(self, key: bytes, session_id: str) -> SessionInfo | None:
        link = self._connected()
        mirror = self._mirror
        barrier = time.monotonic() - mirror.proven_at >= self.heartbeat
        if not barrier:
            self._apply(link, wait=False)
        if mirror.knows(key, time.monotonic()):
            if barrier:  # everything pushed before the PONG is applied when it arrives
                link.send(_PING)
                self._await(link, mirror.ping_sent(time.monotonic()))
                self._counts["pings"] += 1
            if mirror.knows(key, time.monotonic()):
                self._counts["local"] += 1
                return mirror.answer(key)
        if key in mirror.in_flight:
            # A re-read or write of this process is on the way: its reply, and anything
            # pushed before it, settles the entry.
            while key in mirror.in_flight:
                self._apply(link, wait=True)
            self._apply(link, wait=False)
            if mirror.knows(key, time.monotonic()):
                self._counts["waited"] += 1
                return mirror.answer(key)
        request = self._send_read(link, key, session_id)
        self._counts["reads"] += 1
        self._await(link, request)
        if request.error is not None:
            raise request.error
        return request.value

    def _deferred(self, key: bytes) -> tuple[SessionInfo | None, DeferredCheck] | None:
        link = self._connected()
        mirror = self._mirror
        if time.monotonic() - mirror.proven_at < self.heartbeat:
            return None  # no barrier due: session_info answers from the mirror at once
        self._apply(link, wait=False)
        if not mirror.knows(key, time.monotonic()):
            return None
        link.send(_PING)
        ping = mirror.ping_sent(time.monotonic())
        self._counts["pings"] += 1
        self._counts["local"] += 1
        self._counts["deferred"] += 1
        answer = mirror.answer(key)
        return answer, _PingCheck(self, link, key, ping, answer)

    def _write_here(
        self, link: Link, key: bytes, script: Any, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        self._mirror.forget(key)
        self._apply(link, wait=False)
        body = [len(keys), *keys, *args]
        request = self._send_write(link, key, resp3.pack("EVALSHA", script.sha, *body))
        self._await(link, request)
        if isinstance(request.raw, resp3.ReplyError) and request.raw.startswith("NOSCRIPT"):
            request = self._send_write(link, key, resp3.pack("EVAL", script.script, *body))
            self._await(link, request)
        self._apply(link, wait=False)  # the version read behind it, usually there already
        self._counts["writes"] += 1
        if isinstance(request.raw, resp3.ReplyError):
            raise redis.exceptions.ResponseError(str(request.raw))
        return request.raw

    def _send_write(self, link: Link, key: bytes, command: bytes) -> Request:
        data = _UNTRACKED + command + resp3.pack(b"HMGET", key, *CONFIRM_FIELDS)
        link.send(data + resp3.pack(b"PTTL", key) if self._mirror.ttl else data)
        now = time.monotonic()
        self._mirror.untracked_sent(now)
        return self._mirror.write_sent(key, now)

    def _send_read(
        self, link: Link, key: bytes, session_id: str, expected: SessionInfo | None = None
    ) -> Request:
        """Read (and so track) a session hash: whole, or only what confirms ``expected``."""
        data = resp3.pack(b"HMGET", key, *(FIELDS if expected is None else CONFIRM_FIELDS))
        # With a TTL, its remaining time to live too, in the same step on the server.
        link.send(data + resp3.pack(b"PTTL", key) if self._mirror.ttl else data)
        return self._mirror.read_sent(key, session_id, time.monotonic(), expected)

    def _await(self, link: Link, request: Request) -> None:
        while not request.done:
            self._apply(link, wait=True)

    def _apply(self, link: Link, *, wait: bool) -> None:
        """Receive (waiting for one chunk if ``wait``) and apply every frame, in order."""
        if not link.receive(wait=wait) and not link.buffer:
            return
        for frame in link.frames():
            self._mirror.apply(frame)

    def _connected(self) -> Link:
        if self._closed:
            raise LinkBroken("the watcher is closed")
        link = self._link
        if link is not None:
            self._check_fork(link)
            return link
        if self._unsupported is not None:
            raise LinkBroken(self._unsupported)
        if time.monotonic() < self._retry_at:
            raise LinkBroken("the tracking connection failed a moment ago")
        try:
            link = self._open()
        except LinkBroken:
            self._retry_at = time.monotonic() + RECONNECT_DELAY
            raise
        self._link = link
        _register(self)
        return link

    def _open(self) -> Link:
        client = self._store.client
        if not isinstance(client, redis.Redis):
            self._disable("client tracking needs a single server, not a cluster client")
            raise LinkBroken("not a single-server client")
        pool = client.connection_pool
        options = {**pool.connection_kwargs, "protocol": 3, "health_check_interval": 0}
        try:
            connection = pool.connection_class(**options)
            connection.connect()
        except redis.exceptions.ResponseError as exc:
            self._disable(f"the server cannot speak RESP3 ({exc})")
            raise LinkBroken(str(exc)) from exc
        except (redis.exceptions.RedisError, OSError, TypeError, ValueError) as exc:
            raise LinkBroken(f"cannot connect: {type(exc).__name__}: {exc}") from exc
        link = Link(connection)
        try:
            link.send(resp3.pack("CLIENT", "TRACKING", "ON", "OPTOUT") + resp3.pack("CLIENT", "ID"))
            replies: list[Any] = []
            while len(replies) < 2:
                link.receive(wait=True)
                replies += link.frames()
        except LinkBroken:
            link.close()
            raise
        tracking, client_id = replies[0], replies[1]
        if isinstance(tracking, resp3.ReplyError) or not isinstance(client_id, int):
            link.close()
            self._disable(f"the server refused CLIENT TRACKING ({tracking})")
            raise LinkBroken(str(tracking))
        self.client_id = client_id
        self._mirror.proven_at = time.monotonic()
        return link

    def _disable(self, reason: str) -> None:
        self._unsupported = reason
        log.warning(
            "%s: client tracking is not available (%s); cached sessions are checked "
            "with one read each instead",
            self._store.server,
            reason,
        )

    def _check_fork(self, link: Link) -> None:
        if link.pid != os.getpid():
            raise LinkBroken("the process forked; the child needs a connection of its own")

    def _reset(self, reason: str) -> None:
        if self._link is not None:
            self._counts["resets"] += 1
            log.info("%s: tracking connection reset (%s)", self._store.server, reason)
        self._drop_link()

    def _drop_link(self) -> None:
        link, self._link = self._link, None
        self._mirror.clear()
        self.client_id = None
        if link is not None:
            link.close()


class _PingCheck(DeferredCheck):
    """A summary answered from the mirror, proven when the ``PING`` sent with it comes back."""

    def __init__(
        self,
        watcher: RedisSessionWatcher,
        link: Link,
        key: bytes,
        ping: Request,
        answer: SessionInfo | None,
    ) -> None:
        self._watcher = watcher
        self._link = link
        self._key = key
        self._ping = ping
        self._answer = answer

    def confirm(self) -> bool:
        """Wait for the ``PONG``: ``True`` if the session was not invalidated before it."""
        watcher = self._watcher
        with watcher._lock:
            if watcher._link is not self._link:
                return False  # the connection was reset: notices may have been lost
            try:
                watcher._await(self._link, self._ping)
            except (LinkBroken, UnaskedReply) as exc:
                watcher._reset(str(exc))
                return False
            mirror = watcher._mirror
            held = mirror.knows(self._key, time.monotonic())
            if held and mirror.summaries[self._key] == self._answer:
                return True
            watcher._counts["disproved"] += 1
            return False


# --------------------------------------------------------------------------- registry

_registry_lock = threading.Lock()
_registry: dict[tuple[str, str], weakref.WeakSet[RedisSessionWatcher]] = {}


def _register(watcher: RedisSessionWatcher) -> None:
    with _registry_lock:
        place = (watcher._store.server, watcher._store.prefix)
        _registry.setdefault(place, weakref.WeakSet()).add(watcher)


def _unregister(watcher: RedisSessionWatcher) -> None:
    with _registry_lock:
        place = (watcher._store.server, watcher._store.prefix)
        watchers = _registry.get(place)
        if watchers is not None:
            watchers.discard(watcher)
            if not watchers:
                del _registry[place]


def announce_write(store: RedisDb, session_id: str | None, info: SessionInfo | None = None) -> None:
    """Tell every connected watcher of this server and prefix that a session was written."""
    watchers = _registry.get((store.server, store.prefix))
    if not watchers:
        return
    key = None if session_id is None else store.keys.session(session_id).encode()
    with _registry_lock:
        listening = list(watchers)
    for watcher in listening:
        watcher._heard(key, session_id, info)
