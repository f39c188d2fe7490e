"""A TCP proxy on loopback that makes a real server slow, or cuts the link to it: for tests.

A storage adapter's async tests need a *real* backend whose replies wait until the test
lets them through (the blocking check: a call waiting on the server must not hold the
event loop; pass ``gate=io_gate.wait``, see :class:`~sessionary.testing.IoGate`), a slow
one, and one whose connection
breaks mid-conversation (a clear error, nothing half-written). :class:`SlowProxy` sits
between the client and the server: point the client at :attr:`SlowProxy.port` instead of
the server's, and every chunk the client sends is held :attr:`~SlowProxy.delay` seconds
before it is passed on (replies are held :attr:`~SlowProxy.reply_delay`). :meth:`hold`
keeps the chunks going one way until :meth:`release`, and :meth:`wait_until_holding` says
when one is held, so a test can act while a request is on its way, without a timer. :meth:`cut`
drops every open connection, and :meth:`refuse` turns new ones away until
:meth:`accept`, as a server that went away would.

It knows nothing of the protocol, so it works for Redis, MongoDB, or anything on TCP::

    with SlowProxy(("127.0.0.1", 6379), delay=0.3) as proxy:
        store = AsyncRedisStore(f"redis://127.0.0.1:{proxy.port}/0", prefix=...)
        ...  # every command waits 0.3 s on its way to the server

>>> import socket, threading
>>> echo = socket.create_server(("127.0.0.1", 0))
>>> def serve():
...     conn, _ = echo.accept()
...     conn.sendall(conn.recv(100).upper())
...     conn.close()
>>> threading.Thread(target=serve, daemon=True).start()
>>> with SlowProxy(echo.getsockname(), delay=0.01) as proxy:
...     with socket.create_connection(("127.0.0.1", proxy.port)) as client:
...         client.sendall(b"hello")
...         client.recv(100)
b'HELLO'
>>> echo.close()
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType

__all__ = ["SlowProxy"]

_CHUNK = 65536


class SlowProxy:
    """Forward a loopback port to ``target`` (``(host, port)``), slowly if asked; see above.

    ``delay`` and ``reply_delay`` may be changed at any time; they apply to the chunks
    read after the change. The proxy holds each chunk in the thread that reads it, so a
    connection's chunks stay in order and the holds of one direction add up.
    """

    def __init__(
        self,
        target: Sequence[object],
        *,
        delay: float = 0.0,
        reply_delay: float = 0.0,
        gate: Callable[[], None] | None = None,
    ) -> None:
        host, port = target[0], target[1]
        if not isinstance(host, str) or not isinstance(port, int):
            raise TypeError(f"target must be a (host, port) pair, got {target!r}")
        for what, value in (("delay", delay), ("reply_delay", reply_delay)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{what} must be a non-negative number of seconds, got {value!r}")
        self.target = (host, port)
        #: Seconds each chunk from the client is held before it goes to the server.
        self.delay = float(delay)
        #: Seconds each chunk from the server is held before it goes to the client.
        self.reply_delay = float(reply_delay)
        #: Called before each chunk from the server goes to the client (``IoGate.wait``).
        self.gate = gate
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._holding = {True: False, False: False}  # by direction: upward (requests) or not
        self._passes = 0  # held chunks let through by let_through()
        #: How many chunks have been held by :meth:`hold` so far.
        self.held = 0
        self._sockets: set[socket.socket] = set()
        self._refusing = False
        self._threads: list[threading.Thread] = []
        #: How many connections the proxy has accepted and forwarded so far.
        self.accepted = 0
        #: How many bytes the proxy has passed on so far, both ways: a count of the work a
        #: client does on its server that no stopwatch blurs.
        self.bytes_passed = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        """The loopback port clients connect to (known once started)."""
        if self._listener is None:
            raise RuntimeError("the proxy is not started")
        port: int = self._listener.getsockname()[1]
        return port

    def start(self) -> SlowProxy:
        """Listen on a free loopback port and forward in background threads."""
        if self._listener is not None:
            return self
        self._listener = socket.create_server(("127.0.0.1", 0))
        thread = threading.Thread(target=self._accept_loop, name="slow-proxy", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def __enter__(self) -> SlowProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ holds

    def hold(self, *, requests: bool = False, replies: bool = False) -> None:
        """Keep the chunks going to the server (``requests``) or back (``replies``) until
        :meth:`release`; a chunk held when the link is cut is never delivered."""
        with self._changed:
            self._holding[True] |= requests
            self._holding[False] |= replies

    def release(self) -> None:
        """Pass on every held chunk, and stop holding."""
        with self._changed:
            self._holding = {True: False, False: False}
            self._changed.notify_all()

    def let_through(self, count: int = 1) -> None:
        """Pass on the next ``count`` held chunks, and go on holding the ones after."""
        with self._changed:
            self._passes += count
            self._changed.notify_all()

    def wait_until_holding(self, count: int = 1, timeout: float = 30.0) -> None:
        """Block until ``count`` chunks in all have been held; :class:`TimeoutError` if not
        within ``timeout`` seconds (a request that never came is a failure, not a wait)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, timeout=timeout):
                raise TimeoutError(f"no chunk held in {timeout:g} s ({self.held} of {count})")

    # ------------------------------------------------------------------ faults

    def cut(self) -> int:
        """Drop every open connection, both ends, at once; returns how many were open.

        A chunk being held when the link is cut is never delivered.
        """
        with self._changed:
            doomed, self._sockets = self._sockets, set()
            self._changed.notify_all()  # held chunks see that their link is gone
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return len(doomed) // 2

    def refuse(self) -> None:
        """Close new connections as soon as they are accepted (until :meth:`accept`)."""
        self._refusing = True

    def accept(self) -> None:
        """Forward new connections again."""
        self._refusing = False

    # ------------------------------------------------------------------ forwarding

    def _accept_loop(self) -> None:
        listener = self._listener
        while listener is not None:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            if self._refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._sockets |= {client, upstream}
                self.accepted += 1
            for source, sink, upward in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(
                    target=self._pump, args=(source, sink, upward), name="slow-proxy", daemon=True
                ).start()

    def _pump(self, source: socket.socket, sink: socket.socket, upward: bool) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                hold = self.delay if upward else self.reply_delay
                if hold:
                    time.sleep(hold)
                if not upward and self.gate is not None:
                    self.gate()
                with self._changed:
                    if self._holding[upward] and sink in self._sockets:
                        self.held += 1
                        self._changed.notify_all()
                        self._changed.wait_for(
                            lambda: (
                                not self._holding[upward]
                                or self._passes > 0
                                or sink not in self._sockets
                            )
                        )
                        if self._holding[upward] and self._passes > 0:
                            self._passes -= 1
                    if sink not in self._sockets:
                        break  # cut while the chunk was held: it is lost, as on a broken link
                    self.bytes_passed += len(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._close_pair(source, sink)

    def _close_pair(self, *pair: socket.socket) -> None:
        with self._lock:
            for sock in pair:
                self._sockets.discard(sock)
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
