"""``RedisSessionWatcher``: session summaries kept current by Redis client tracking.

The watcher owns one RESP3 connection with ``CLIENT TRACKING ON``. Every session hash
it reads (``HMGET``) on that connection is remembered by the server, which pushes an
``invalidate`` message on the same connection as soon as any client modifies the key.
So the watcher keeps a small mirror of the summaries it has read, and answers
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
  watched and shows nobody wrote in between. The caching store then calls
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

import contextlib
import logging
import os
import ssl
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import redis

from sessionary.domain.sessions import SessionInfo
from sessionary.errors import CorruptRecordError, StorageError
from sessionary.ids import validate_id, validate_optional_id
from sessionary.storage.base import SessionWatcher
from sessionary_redis import resp3
from sessionary_redis.records import decode_info
from sessionary_redis.scripts import INFO_FIELDS

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

#: Summaries a watcher remembers (least recently used forgotten first).
MAX_SESSIONS: Final = 4096
#: Longest time the mirror is trusted without a reply proving the connection alive.
HEARTBEAT_SECONDS: Final = 1.0
#: Seconds before connecting again after the connection could not be made.
RECONNECT_DELAY: Final = 1.0
#: Re-reads after this process's writes that may be in flight at once; past it an
#: entry is only dropped (the next check reads it).
MAX_IN_FLIGHT: Final = 256

_FIELDS: Final = tuple(f.encode() for f in INFO_FIELDS)
#: Every write bumps ``version``; ``created`` tells a recreated session from the old one.
_CONFIRM_FIELDS: Final = (b"version", b"created")
_RECV: Final = 65536
_DEFAULT_TIMEOUT: Final = 10.0
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


@attrs.frozen
class WatcherStats:
    """What a watcher did: answers from the mirror, reads, and connections lost.

    ``local`` answers came from the mirror without waiting; ``waited`` ones waited for
    the rest of a re-read already sent after a write of this process; ``reads`` are
    summaries read for a caller, who waited a round trip (never read, or changed by
    another client); ``prefetches`` are re-reads sent after this process's writes,
    which nobody waits for; ``writes`` are the store's writes sent on the tracking
    connection with the re-read behind them (no prefetch needed then); ``pings`` are
    heartbeat barriers; ``resets`` are times the
    mirror was dropped because the connection broke; ``fallbacks`` are answers read
    through the store because the tracking connection could not be used;
    ``remembered`` is how many summaries the mirror holds now.
    """

    local: int = 0
    waited: int = 0
    reads: int = 0
    prefetches: int = 0
    writes: int = 0
    pings: int = 0
    resets: int = 0
    fallbacks: int = 0
    remembered: int = 0


class _Broken(Exception):
    """The tracking connection can no longer be trusted; its mirror must go."""


#: What :meth:`RedisSessionWatcher.run_write` returns when the store must send the write.
NOT_SENT: Final = object()


@attrs.define
class _Request:
    # "read"; "confirm" (the version read behind a write sent here); "pttl" (the time
    # to live read behind either); "script" (a write sent here); "ping"
    kind: str
    sent_at: float
    key: bytes = b""
    session_id: str = ""
    expected: SessionInfo | None = None  # a read that only confirms this summary
    done: bool = False
    value: SessionInfo | None = None
    error: Exception | None = None
    raw: Any = None  # a script's reply, as the server sent it
    settled: bool = False  # a confirm whose write has been told (expected, or nothing)


class _Link:
    """The tracking connection: a socket redis-py connected, spoken to in RESP3 by us."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        sock = getattr(connection, "_sock", None)
        if sock is None:
            raise _Broken("redis-py gave no socket for the tracking connection")
        self.sock: Any = sock
        timeout = sock.gettimeout()
        # Without a timeout a silently dead connection would block a check for ever.
        self.timeout: float = _DEFAULT_TIMEOUT if timeout is None else timeout
        sock.settimeout(self.timeout)
        self.buffer = bytearray()
        self.pid = os.getpid()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise _Broken(f"sending failed: {exc}") from exc

    def receive(self, *, wait: bool) -> bool:
        """Read what has arrived (``wait``: block for at least one chunk); False if nothing."""
        got = False
        try:
            if wait:
                self._take(self.sock.recv(_RECV))
                got = True
            self.sock.settimeout(0)
            try:
                while True:
                    self._take(self.sock.recv(_RECV))
                    got = True
            except _WOULD_BLOCK:
                pass
            finally:
                self.sock.settimeout(self.timeout)
        except _Broken:
            raise
        except OSError as exc:  # timeouts included
            raise _Broken(f"reading failed: {type(exc).__name__}: {exc}") from exc
        return got

    def _take(self, data: bytes) -> None:
        if not data:
            raise _Broken("the server closed the tracking connection")
        self.buffer += data

    def frames(self) -> list[Any]:
        """Every complete frame received, in order; a partial one stays buffered."""
        found: list[Any] = []
        pos = 0
        try:
            while pos < len(self.buffer):
                frame, pos = resp3.parse(self.buffer, pos)
                found.append(frame)
        except resp3.Incomplete:
            pass
        except resp3.ProtocolError as exc:
            raise _Broken(str(exc)) from exc
        finally:
            del self.buffer[:pos]
        return found

    def close(self) -> None:
        if self.pid != os.getpid():
            # A forked child: close only its copy of the socket, never the parent's
            # connection (disconnect() would shut the socket down for both).
            with contextlib.suppress(OSError):
                self.sock.close()
            return
        # Closing a broken connection may fail; either way it is gone.
        with contextlib.suppress(Exception):
            self.connection.disconnect()


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
        self.max_sessions = max_sessions
        self.heartbeat = heartbeat
        self._lock = threading.Lock()
        self._link: _Link | None = None
        # key -> the summary read (None: no such session), in least-recent-use order
        self._mirror: OrderedDict[bytes, SessionInfo | None] = OrderedDict()
        self._in_flight: dict[bytes, int] = {}  # key -> reads sent, reply not yet applied
        # key -> monotonic time the session expires by (stores with a ttl): a key that
        # expired lazily is not deleted, so no invalidation says so; read it again.
        self._expires: dict[bytes, float] = {}
        # Writes sent here: the version read behind each, waiting for the summary the
        # write returned (written()), or that summary waiting for the read.
        self._confirming: dict[bytes, _Request] = {}
        self._unclaimed: dict[bytes, Any] = {}
        self._requests: deque[_Request] = deque()
        self._proven_at = float("-inf")  # send time of the newest request answered
        self._retry_at = 0.0
        self._unsupported: str | None = None
        self._closed = False
        self._counts = dict.fromkeys(
            ("local", "waited", "reads", "prefetches", "writes", "pings", "resets", "fallbacks"),
            0,
        )
        self.client_id: int | None = None  # of the tracking connection, once connected

    def __repr__(self) -> str:
        state = "connected" if self._link is not None else "idle"
        return f"RedisSessionWatcher({self._store.server}, prefix={self._store.prefix!r}, {state})"

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
            except _Broken as exc:
                self._reset(str(exc))
                found = False
        if not found:
            with self._lock:
                self._counts["fallbacks"] += 1
            return self._store.get_session_info(session_id, user_id=user_id)
        if info is None or (user_id is not None and info.user_id != user_id):
            return None
        return info

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
        session's summary now, whatever store object made the write, and reads it
        again without waiting for the reply, so the next check usually finds it
        already there. With ``info`` (what the write returned) that read is only the
        version and creation time: if they are still ``info``'s, ``info`` is the
        summary. ``None`` for ``session_id`` makes them forget every summary.
        """
        announce_write(self._store, session_id, info)

    def _heard(self, key: bytes | None, session_id: str | None, info: SessionInfo | None) -> None:
        """A write of this process to ``key`` (``None``: to any key) returned or failed."""
        with self._lock:
            link = self._link
            if key is None or session_id is None:
                self._mirror.clear()
                self._expires.clear()
                return
            if self._claim(key, info):
                return
            if link is None or (key not in self._mirror and key not in self._in_flight):
                return
            self._forget(key)
            try:
                self._check_fork(link)
                if len(self._requests) > MAX_IN_FLIGHT // 8:
                    self._apply(link, wait=False)  # keep a write-only caller's replies short
                if len(self._requests) < MAX_IN_FLIGHT:
                    self._send_read(link, key, session_id, info)
                    self._count("prefetches")
            except _Broken as exc:
                self._reset(str(exc))

    def _claim(self, key: bytes, info: SessionInfo | None) -> bool:
        """Settle a write sent here with the summary it returned; False if none was sent."""
        confirm = self._confirming.pop(key, None)
        if confirm is not None:  # its version read is still on the way
            confirm.expected, confirm.settled = info, True
            return True
        if key not in self._unclaimed:
            return False
        frame = self._unclaimed.pop(key)
        if info is not None and _confirms(frame, info):
            self._remember(key, info)
        else:
            self._forget(key)
        return True

    def run_write(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Send a write script of the store here, with a read of its session behind it.

        Used for sessions the mirror holds, when no other thread is using the
        connection; otherwise (and on a forked child) :data:`NOT_SENT`, and the store
        sends the write itself. The read behind the write keeps the session watched,
        and in the same step on the server, so no re-read is needed after it: when the
        caching store tells :meth:`written` the summary the write returned, and the
        version read matches it, that summary is remembered. Returns the script's
        reply as the server sent it; a failed connection is a
        ``redis.exceptions.ConnectionError`` (the store's retry policy decides), an
        error reply a ``redis.exceptions.ResponseError``.
        """
        if not keys or not self._lock.acquire(blocking=False):
            return NOT_SENT
        try:
            key = str(keys[0]).encode()
            link = self._link
            if (
                link is None
                or link.pid != os.getpid()
                or key not in self._mirror
                or key in self._in_flight
                or len(self._requests) >= MAX_IN_FLIGHT
            ):
                return NOT_SENT
            try:
                return self._write_here(link, key, script, keys, args)
            except _Broken as exc:
                self._reset(str(exc))
                raise redis.exceptions.ConnectionError(
                    f"the tracking connection failed during a write: {exc}"
                ) from exc
        finally:
            self._lock.release()

    def _write_here(
        self, link: _Link, key: bytes, script: Any, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        self._forget(key)
        self._apply(link, wait=False)
        body = [len(keys), *keys, *args]
        request = self._send_write(link, key, resp3.pack("EVALSHA", script.sha, *body))
        self._await(link, request)
        if isinstance(request.raw, resp3.ReplyError) and request.raw.startswith("NOSCRIPT"):
            request = self._send_write(link, key, resp3.pack("EVAL", script.script, *body))
            self._await(link, request)
        self._apply(link, wait=False)  # the version read behind it, usually there already
        self._count("writes")
        if isinstance(request.raw, resp3.ReplyError):
            raise redis.exceptions.ResponseError(str(request.raw))
        return request.raw

    def _send_write(self, link: _Link, key: bytes, command: bytes) -> _Request:
        now = time.monotonic()
        request = _Request("script", now, key)
        confirm = _Request("confirm", now, key)
        data = command + resp3.pack(b"HMGET", key, *_CONFIRM_FIELDS)
        link.send(data + resp3.pack(b"PTTL", key) if self._store.ttl is not None else data)
        self._requests.append(request)
        self._requests.append(confirm)
        if self._store.ttl is not None:
            self._requests.append(_Request("pttl", now, key))
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        self._confirming[key] = confirm
        self._unclaimed.pop(key, None)
        return request

    def _remember(self, key: bytes, info: SessionInfo | None) -> None:
        self._mirror[key] = info
        self._mirror.move_to_end(key)
        while len(self._mirror) > self.max_sessions:
            self._forget(next(iter(self._mirror)))

    # ------------------------------------------------------------------ internals

    def _current(self, key: bytes, session_id: str) -> SessionInfo | None:
        link = self._connected()
        self._apply(link, wait=False)
        if key in self._expires and time.monotonic() >= self._expires[key]:
            self._forget(key)
        if key in self._mirror and key not in self._in_flight:
            if time.monotonic() - self._proven_at > self.heartbeat:
                self._await(link, self._send(link, _Request("ping", time.monotonic())))
                self._count("pings")
            if key in self._mirror and key not in self._in_flight:
                self._mirror.move_to_end(key)
                self._count("local")
                return self._mirror[key]
        if key in self._in_flight:
            # A re-read sent after a write of this process: its reply, and anything
            # pushed before it, settles the entry.
            while key in self._in_flight:
                self._apply(link, wait=True)
            self._apply(link, wait=False)
            if key in self._mirror:
                self._count("waited")
                return self._mirror[key]
        request = self._send_read(link, key, session_id)
        self._count("reads")
        self._await(link, request)
        if request.error is not None:
            raise request.error
        return request.value

    def _connected(self) -> _Link:
        if self._closed:
            raise _Broken("the watcher is closed")
        link = self._link
        if link is not None:
            self._check_fork(link)
            return link
        if self._unsupported is not None:
            raise _Broken(self._unsupported)
        if time.monotonic() < self._retry_at:
            raise _Broken("the tracking connection failed a moment ago")
        try:
            link = self._open()
        except _Broken:
            self._retry_at = time.monotonic() + RECONNECT_DELAY
            raise
        self._link = link
        _register(self)
        return link

    def _open(self) -> _Link:
        client = self._store.client
        if not isinstance(client, redis.Redis):
            self._disable("client tracking needs a single server, not a cluster client")
            raise _Broken("not a single-server client")
        pool = client.connection_pool
        options = {**pool.connection_kwargs, "protocol": 3, "health_check_interval": 0}
        try:
            connection = pool.connection_class(**options)
            connection.connect()
        except redis.exceptions.ResponseError as exc:
            self._disable(f"the server cannot speak RESP3 ({exc})")
            raise _Broken(str(exc)) from exc
        except (redis.exceptions.RedisError, OSError, TypeError, ValueError) as exc:
            raise _Broken(f"cannot connect: {type(exc).__name__}: {exc}") from exc
        link = _Link(connection)
        try:
            link.send(resp3.pack("CLIENT", "TRACKING", "ON") + resp3.pack("CLIENT", "ID"))
            replies: list[Any] = []
            while len(replies) < 2:
                link.receive(wait=True)
                replies += link.frames()
        except _Broken:
            link.close()
            raise
        tracking, client_id = replies[0], replies[1]
        if isinstance(tracking, resp3.ReplyError) or not isinstance(client_id, int):
            link.close()
            self._disable(f"the server refused CLIENT TRACKING ({tracking})")
            raise _Broken(str(tracking))
        self.client_id = client_id
        self._proven_at = time.monotonic()
        return link

    def _disable(self, reason: str) -> None:
        self._unsupported = reason
        log.warning(
            "%s: client tracking is not available (%s); cached sessions are checked "
            "with one read each instead",
            self._store.server,
            reason,
        )

    def _check_fork(self, link: _Link) -> None:
        if link.pid != os.getpid():
            raise _Broken("the process forked; the child needs a connection of its own")

    def _send(self, link: _Link, request: _Request, data: bytes | None = None) -> _Request:
        link.send(resp3.pack("PING") if data is None else data)
        self._requests.append(request)
        return request

    def _send_read(
        self, link: _Link, key: bytes, session_id: str, expected: SessionInfo | None = None
    ) -> _Request:
        """Read (and so track) a session hash: whole, or only what confirms ``expected``."""
        request = _Request("read", time.monotonic(), key, session_id, expected=expected)
        data = resp3.pack(b"HMGET", key, *(_FIELDS if expected is None else _CONFIRM_FIELDS))
        if self._store.ttl is None:
            self._send(link, request, data)
        else:  # the read, then (in the same step on the server) its time to live
            self._send(link, request, data + resp3.pack(b"PTTL", key))
            self._requests.append(_Request("pttl", request.sent_at, key, session_id))
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return request

    def _await(self, link: _Link, request: _Request) -> None:
        while not request.done:
            self._apply(link, wait=True)

    def _apply(self, link: _Link, *, wait: bool) -> None:
        """Receive (waiting for one chunk if ``wait``) and apply every frame, in order."""
        if not link.receive(wait=wait) and not link.buffer:
            return
        for frame in link.frames():
            if isinstance(frame, resp3.Push):
                self._on_push(frame)
                continue
            if not self._requests:
                raise _Broken(f"a reply nobody asked for: {str(frame)[:80]}")
            self._on_reply(self._requests.popleft(), frame)

    def _on_push(self, frame: resp3.Push) -> None:
        if len(frame) < 2 or frame[0] not in (b"invalidate", "invalidate"):
            return  # other pushes (maintenance notices) say nothing about our keys
        keys = frame[1]
        if keys is None:  # FLUSHDB / FLUSHALL: every key changed
            self._mirror.clear()
            self._expires.clear()
            return
        for key in keys:
            self._forget(key if isinstance(key, bytes) else str(key).encode())

    def _forget(self, key: bytes) -> None:
        self._mirror.pop(key, None)
        self._expires.pop(key, None)
        # Not a write's version read still on the way: it was sent after anything that
        # made us forget (a notice comes before the reply of every read it precedes).
        self._unclaimed.pop(key, None)

    def _on_reply(self, request: _Request, frame: Any) -> None:
        request.done = True
        self._proven_at = max(self._proven_at, request.sent_at)
        if request.kind == "ping":
            if isinstance(frame, resp3.ReplyError):
                raise _Broken(f"the server answered {frame}")
            return
        key = request.key
        if request.kind == "script":
            request.raw = frame
            return
        if request.kind == "pttl" or self._store.ttl is None:
            left = self._in_flight.pop(key, 1) - 1  # the read is settled
            if left:
                self._in_flight[key] = left
        if request.kind == "pttl":
            if isinstance(frame, int) and frame >= 0:
                self._expires[key] = request.sent_at + frame / 1000
            else:
                self._expires.pop(key, None)  # no such key, or no expiry
            return
        if request.kind == "confirm":
            current = self._confirming.get(key) is request
            if current:
                del self._confirming[key]
            if isinstance(frame, resp3.ReplyError):
                self._forget(key)
            elif not request.settled:
                if current:  # the write's summary is not known yet: keep what was read
                    if len(self._unclaimed) >= self.max_sessions:
                        self._unclaimed.clear()
                    self._unclaimed[key] = frame
            elif request.expected is not None and _confirms(frame, request.expected):
                self._remember(key, request.expected)
            else:
                self._forget(key)
            return
        if isinstance(frame, resp3.ReplyError):
            request.error = (
                CorruptRecordError(request.session_id, f"a key has the wrong type: {frame}")
                if frame.startswith("WRONGTYPE")
                else StorageError(
                    f"{self._store.server} refused to read session {request.session_id!r}: {frame}"
                )
            )
            self._forget(key)
            return
        expected = request.expected
        if expected is not None:
            if not _confirms(frame, expected):
                self._forget(key)  # another write came first: read it when asked
                return
            request.value = expected
        else:
            try:
                decoded = decode_info(request.session_id, frame)
            except StorageError as exc:  # a damaged record: the caller's error, as in a read
                request.error = exc
                self._forget(key)
                return
            request.value = None if decoded is None else decoded[0]
        self._remember(key, request.value)

    def _reset(self, reason: str) -> None:
        if self._link is not None:
            self._counts["resets"] += 1
            log.info("%s: tracking connection reset (%s)", self._store.server, reason)
        self._drop_link()

    def _drop_link(self) -> None:
        link, self._link = self._link, None
        self._mirror.clear()
        self._expires.clear()
        self._confirming.clear()
        self._unclaimed.clear()
        self._in_flight.clear()
        self._requests.clear()
        self._proven_at = float("-inf")
        self.client_id = None
        if link is not None:
            link.close()

    def _count(self, what: str) -> None:
        self._counts[what] += 1  # the lock is held


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


def _confirms(frame: Any, expected: SessionInfo) -> bool:
    """Whether an ``HMGET version created`` reply is the state ``expected`` describes."""
    try:
        version, created = frame
        return int(version) == expected.version and float(created) == expected.created_at
    except (TypeError, ValueError):
        return False


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
