"""A local HTTP server for testing model providers against their official SDKs.

:class:`FakeHTTPServer` listens on ``127.0.0.1`` on a free port, records every request
it receives (:attr:`FakeHTTPServer.requests`, a list of :class:`RecordedRequest`), and
answers each one with whatever its ``responder`` returns: a JSON body, a raw (possibly
malformed) body, a stream of server-sent events, or a stream of JSON lines (as Ollama's
``/api/chat`` streams), optionally after a delay (to provoke client timeouts) and
optionally cut off mid-stream (to provoke broken streams). Point an SDK or an httpx
client at :attr:`FakeHTTPServer.url` with its ``base_url`` option.

Only the standard library is used, so provider authors can reuse it for any SDK that
speaks HTTP::

    def responder(request: RecordedRequest) -> HTTPReply:
        return HTTPReply(json={"echo": request.json()})

    with FakeHTTPServer(responder) as server:
        ...  # client = MySDK(base_url=server.url)
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs

__all__ = ["FakeHTTPServer", "HTTPReply", "RecordedRequest", "SSEEvent"]


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request the fake server received, as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body.decode("utf-8"))

    def header(self, name: str) -> str | None:
        """A header's value, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


@attrs.frozen
class SSEEvent:
    """One server-sent event: an optional ``event:`` name and its ``data:`` payload.

    ``data`` that is not a ``str`` is sent as JSON.
    """

    data: Any
    event: str | None = None

    def encode(self) -> bytes:
        """The event as it goes over the wire."""
        payload = self.data if isinstance(self.data, str) else json.dumps(self.data)
        lines = [f"event: {self.event}"] if self.event is not None else []
        lines += [f"data: {line}" for line in payload.split("\n")]
        return ("\n".join(lines) + "\n\n").encode("utf-8")


@attrs.frozen(kw_only=True)
class HTTPReply:
    """What the fake server answers to one request.

    Exactly one of ``json``, ``body``, ``events`` and ``lines`` is used, in that order
    of preference. ``events`` (server-sent events, ``text/event-stream``) and ``lines``
    (JSON lines, ``application/x-ndjson``: each item sent as JSON on a line of its own,
    a ``str`` as it is) are streamed with chunked transfer encoding, one chunk per event
    or line; with ``break_after=N`` the server sends the first N and then drops the
    connection without finishing the body, as a failing network would. ``delay``
    seconds pass before anything is sent.

    >>> HTTPReply(lines=[{"done": False}, {"done": True}]).chunks()
    [b'{"done": false}\\n', b'{"done": true}\\n']
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    content_type: str | None = None
    events: Sequence[SSEEvent] | None = None
    lines: Sequence[Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    break_after: int | None = None

    def chunks(self) -> list[bytes] | None:
        """The pieces of a streamed reply as they go over the wire (``None``: not streamed)."""
        if self.json is not None or self.body is not None:
            return None
        if self.events is not None:
            return [event.encode() for event in self.events]
        if self.lines is not None:
            return [
                ((line if isinstance(line, str) else json.dumps(line)) + "\n").encode("utf-8")
                for line in self.lines
            ]
        return None


Responder = Callable[[RecordedRequest], HTTPReply]


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a timeout, an abandoned stream) is a case the tests
    provoke, not an error to print a traceback for."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class FakeHTTPServer:
    """A threaded HTTP server on ``127.0.0.1:0`` that records requests and answers scripts.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`. Every request
    it received is in :attr:`requests`, oldest first: a harness's ``sent()`` reads them.
    """

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        #: Called in the server's thread before each reply is sent, when set: give it
        #: :meth:`sessionary.testing.IoGate.wait` to hold replies until the loop is free.
        self.gate: Callable[[], object] | None = None
        #: Every request received, oldest first (method, path, headers, body, ``.json()``).
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._serving: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeHTTPServer:
        """Start serving in a daemon thread."""
        handler = _handler_for(self)
        server = _QuietServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="fake-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed replies still waiting are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def disconnected(self, timeout: float = 5.0) -> bool:
        """Whether the client closed the connection that carried the latest request.

        Waits up to ``timeout`` seconds for it to (each connection is served by a
        thread of its own, which ends when the connection does). A harness's
        ``client_disconnected`` returns this.
        """
        with self._lock:
            if not self._serving:
                raise RuntimeError("the fake server has received no request")
            latest = self._serving[-1]
        latest.join(timeout)
        return not latest.is_alive()

    def _record(self, request: RecordedRequest) -> HTTPReply:
        with self._lock:
            self.requests.append(request)
            self._serving.append(threading.current_thread())
        return self.responder(request)


def _handler_for(server: FakeHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go in separate writes; without this, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every reply.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorded = RecordedRequest(
                method=self.command,
                path=self.path,
                headers=dict(self.headers.items()),
                body=body,
            )
            try:
                reply = server._record(recorded)
            except Exception as exc:  # a broken responder is a 599 the test will see
                reply = HTTPReply(status=599, json={"error": {"message": f"responder: {exc!r}"}})
            if reply.delay and server._stopping.wait(reply.delay):
                return
            if server.gate is not None:
                server.gate()
            try:
                chunks = reply.chunks()
                if chunks is not None:
                    self._send_chunks(reply, chunks)
                else:
                    self._send_body(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client went away (a timeout, an abandoned stream)

        def _send_body(self, reply: HTTPReply) -> None:
            if reply.json is not None:
                data = json.dumps(reply.json).encode("utf-8")
                content_type = reply.content_type or "application/json"
            else:
                data = reply.body or b""
                content_type = reply.content_type or "application/octet-stream"
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()

        def _send_chunks(self, reply: HTTPReply, chunks: list[bytes]) -> None:
            default = "text/event-stream" if reply.events is not None else "application/x-ndjson"
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type or default)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            for index, chunk in enumerate(chunks):
                if reply.break_after is not None and index >= reply.break_after:
                    self._drop_connection()
                    return
                self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            if reply.break_after is not None:
                self._drop_connection()
                return
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _drop_connection(self) -> None:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler
