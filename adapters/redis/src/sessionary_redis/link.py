"""The session watcher's connection: a socket redis-py connected, spoken to in RESP3 by us.

redis-py makes the connection (handshake, ``AUTH``, TLS, ``SELECT``: whatever the
store's client is configured with); from then on the watcher sends packed commands and
reads frames itself, so it sees push messages in exactly the order the server sent
them, interleaved with replies, and can read "whatever has arrived" without waiting.
"""

from __future__ import annotations

import contextlib
import os
import select
import ssl
from typing import Any, Final

from sessionary_redis import resp3

__all__ = ["Link", "LinkBroken"]

_RECV: Final = 65536
#: Used when the store's client has no socket timeout: a silently dead connection must
#: not block a check for ever.
DEFAULT_TIMEOUT: Final = 10.0
_WOULD_BLOCK = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)


class LinkBroken(Exception):
    """The connection can no longer be trusted: what was learned through it must go."""


class Link:
    """One connection; ``connection`` is a connected redis-py connection object."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        sock = getattr(connection, "_sock", None)
        if sock is None:
            raise LinkBroken("redis-py gave no socket for the tracking connection")
        self.sock: Any = sock
        timeout = sock.gettimeout()
        self.timeout: float = DEFAULT_TIMEOUT if timeout is None else timeout
        sock.settimeout(self.timeout)
        #: For a plain socket, "has anything arrived?" is one poll, not a switch to
        #: non-blocking mode and back around a read. A TLS socket can hold decrypted
        #: bytes the poll does not see, and a readable one a partial record, so it
        #: keeps the switch.
        self._poller: Any = None
        if not isinstance(sock, ssl.SSLSocket) and hasattr(select, "poll"):
            self._poller = select.poll()
            self._poller.register(sock, select.POLLIN)
        self.buffer = bytearray()
        #: The process that connected; a forked child must not use the connection.
        self.pid = os.getpid()

    def send(self, data: bytes) -> None:
        """Send packed commands whole."""
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise LinkBroken(f"sending failed: {exc}") from exc

    def receive(self, *, wait: bool) -> bool:
        """Read what has arrived (``wait``: block for one chunk at least); False if nothing.

        With ``wait``, a plain socket is read once: callers wait for a reply in a loop
        until it is there, and whatever came before it in the stream came in the same
        or an earlier chunk.
        """
        poller = self._poller
        if poller is not None:
            try:
                if wait:
                    self._take(self.sock.recv(_RECV))
                    return True
                got = False
                while poller.poll(0):
                    self._take(self.sock.recv(_RECV))
                    got = True
                return got
            except LinkBroken:
                raise
            except OSError as exc:  # timeouts included
                raise LinkBroken(f"reading failed: {type(exc).__name__}: {exc}") from exc
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
        except LinkBroken:
            raise
        except OSError as exc:  # timeouts included
            raise LinkBroken(f"reading failed: {type(exc).__name__}: {exc}") from exc
        return got

    def _take(self, data: bytes) -> None:
        if not data:
            raise LinkBroken("the server closed the tracking connection")
        self.buffer += data

    def frames(self) -> list[Any]:
        """Every complete frame received, in order; a partial one stays buffered."""
        found: list[Any] = []
        pos = 0
        data = bytes(self.buffer)  # slices of bytes are copied once, not twice
        try:
            while pos < len(data):
                frame, pos = resp3.parse(data, pos)
                found.append(frame)
        except resp3.Incomplete:
            pass
        except resp3.ProtocolError as exc:
            raise LinkBroken(str(exc)) from exc
        finally:
            del self.buffer[:pos]
        return found

    def close(self) -> None:
        """Close the connection (in a forked child, only the child's copy of the socket)."""
        if self.pid != os.getpid():
            # disconnect() would shut the socket down for the parent too.
            with contextlib.suppress(OSError):
                self.sock.close()
            return
        # Closing a broken connection may fail; either way it is gone.
        with contextlib.suppress(Exception):
            self.connection.disconnect()
