"""mongomock behind MongoDB's wire protocol, on a loopback port: for tests only.

No MongoDB server can be had where this adapter is developed, and mongomock replaces
pymongo's client rather than its server, so on mongomock pymongo's own code (command
building, BSON over a socket, server selection, connection pools, turning server
replies into exceptions) never runs. :class:`MockMongoServer` closes that gap: it
listens on ``127.0.0.1``, speaks ``OP_MSG`` to a real ``pymongo.MongoClient``, and
executes each command on one shared mongomock client, one command at a time (so each
operation is atomic, as on a server). Several processes can use it at once.

It is not MongoDB: the query and update semantics are mongomock's, it has no sessions,
transactions, cursors over several batches, compression, authentication or TLS, and it
implements only the commands a storage adapter needs (``hello``, ``ping``, ``find``,
``insert``, ``update``, ``delete``, ``findAndModify``, ``createIndexes``,
``listIndexes``, ``dropDatabase``). Requires ``mongomock``.

>>> from mongodb_wire import MockMongoServer
>>> with MockMongoServer() as server:
...     server.url.startswith("mongodb://127.0.0.1:")
True
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import socket
import socketserver
import struct
import threading
from types import TracebackType
from typing import Any

import bson
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

__all__ = ["MockMongoServer"]

_OP_MSG = 2013
_HEADER = struct.Struct("<iiii")
_MAX_BSON = 16 * 1024 * 1024


class MockMongoServer:
    """A loopback MongoDB-protocol server backed by mongomock. Start it, use :attr:`url`."""

    def __init__(self, port: int = 0) -> None:
        import mongomock

        self.backend: Any = mongomock.MongoClient()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.commands: list[str] = []

    @property
    def port(self) -> int:
        """The port listened on (fixed after the first start)."""
        return self._port

    @property
    def url(self) -> str:
        """``mongodb://127.0.0.1:PORT`` with a short server selection timeout."""
        return f"mongodb://127.0.0.1:{self._port}/?serverSelectionTimeoutMS=2000"

    def start(self) -> MockMongoServer:
        """Listen (again, on the same port after a :meth:`stop`) and serve in a thread."""
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.owner = self
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every connection, as a server going away would."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None

    def __enter__(self) -> MockMongoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ commands

    def execute(self, command: dict[str, Any]) -> dict[str, Any]:
        """Run one command document; errors become ``ok: 0`` replies as a server sends."""
        name = next(iter(command))
        handler = _COMMANDS.get(name.lower())
        if handler is None:
            return {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59}
        try:
            with self._lock:
                self.commands.append(name)
                reply: dict[str, Any] = handler(self, command.get("$db", "admin"), command)
        except DuplicateKeyError as exc:
            return {"ok": 0.0, "errmsg": str(exc), "code": 11000, "codeName": "DuplicateKey"}
        except OperationFailure as exc:
            return {"ok": 0.0, "errmsg": str(exc), "code": exc.code or 2}
        except Exception as exc:
            return {"ok": 0.0, "errmsg": f"{type(exc).__name__}: {exc}", "code": 1}
        reply.setdefault("ok", 1.0)
        return reply

    def _collection(self, db: str, command: dict[str, Any]) -> Any:
        return self.backend[db][next(iter(command.values()))]

    def _hello(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        return {
            "isWritablePrimary": True,
            "ismaster": True,
            "helloOk": True,
            "maxBsonObjectSize": _MAX_BSON,
            "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.datetime.now(tz=datetime.timezone.utc),
            "maxWireVersion": 21,
            "minWireVersion": 0,
            "connectionId": next(self._ids),
            "readOnly": False,
        }

    def _ok(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        return {}

    def _build_info(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        return {"version": "7.0.0-mongomock", "versionArray": [7, 0, 0, 0]}

    def _find(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        sort = command.get("sort")
        docs = list(
            self._collection(db, command).find(
                command.get("filter") or {},
                projection=command.get("projection"),
                sort=list(sort.items()) if sort else None,
                skip=command.get("skip", 0),
                limit=abs(command.get("limit", 0)),
            )
        )
        return _cursor(db, command["find"], docs)

    def _aggregate(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        """What ``count_documents`` sends (``$match``, ``$group``): mongomock runs it."""
        docs = list(self._collection(db, command).aggregate(command.get("pipeline") or []))
        return _cursor(db, command["aggregate"], docs)

    def _insert(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, command)
        inserted, errors = 0, []
        for index, doc in enumerate(command.get("documents", [])):
            try:
                collection.insert_one(doc)
                inserted += 1
            except DuplicateKeyError as exc:
                errors.append({"index": index, "code": 11000, "errmsg": str(exc)})
                if command.get("ordered", True):
                    break
        reply: dict[str, Any] = {"n": inserted}
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _update(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, command)
        matched = modified = 0
        upserted = []
        for index, spec in enumerate(command.get("updates", [])):
            query, change = spec.get("q", {}), spec["u"]
            upsert = bool(spec.get("upsert"))
            if not any(key.startswith("$") for key in change):
                result = collection.replace_one(query, change, upsert=upsert)
            elif spec.get("multi"):
                result = collection.update_many(query, change, upsert=upsert)
            else:
                result = collection.update_one(query, change, upsert=upsert)
            matched += result.matched_count
            modified += result.modified_count
            if result.upserted_id is not None:
                upserted.append({"index": index, "_id": result.upserted_id})
        reply: dict[str, Any] = {"n": matched + len(upserted), "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        return reply

    def _delete(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, command)
        count = 0
        for spec in command.get("deletes", []):
            if spec.get("limit") == 1:
                count += collection.delete_one(spec.get("q", {})).deleted_count
            else:
                count += collection.delete_many(spec.get("q", {})).deleted_count
        return {"n": count}

    def _find_and_modify(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, command)
        query = command.get("query") or {}
        sort = command.get("sort")
        options: dict[str, Any] = {
            "projection": command.get("fields"),
            "sort": list(sort.items()) if sort else None,
        }
        if command.get("remove"):
            value = collection.find_one_and_delete(query, **options)
            return {"lastErrorObject": {"n": int(value is not None)}, "value": value}
        existed = collection.find_one(query, {"_id": 1}) is not None
        change = command["update"]
        after = ReturnDocument.AFTER if command.get("new") else ReturnDocument.BEFORE
        upsert = bool(command.get("upsert"))
        if any(key.startswith("$") for key in change):
            value = collection.find_one_and_update(
                query, change, upsert=upsert, return_document=after, **options
            )
        else:
            value = collection.find_one_and_replace(
                query, change, upsert=upsert, return_document=after, **options
            )
        last = {"n": int(existed or upsert), "updatedExisting": existed}
        return {"lastErrorObject": last, "value": value}

    def _create_indexes(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, command)
        for spec in command.get("indexes", []):
            options = {k: v for k, v in spec.items() if k != "key"}
            collection.create_index(list(spec["key"].items()), **options)
        return {}

    def _list_indexes(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        collection = self._collection(db, command)
        docs = []
        for name, info in collection.index_information().items():
            doc = {k: v for k, v in info.items() if k != "key"}
            doc.update(v=2, name=name, key=dict(info["key"]))
            docs.append(doc)
        return _cursor(db, command["listIndexes"], docs)

    def _drop_database(self, db: str, command: dict[str, Any]) -> dict[str, Any]:
        self.backend.drop_database(db)
        return {}


def _cursor(db: str, collection: str, docs: list[Any]) -> dict[str, Any]:
    return {"cursor": {"id": bson.Int64(0), "ns": f"{db}.{collection}", "firstBatch": docs}}


_COMMANDS: dict[str, Any] = {
    "hello": MockMongoServer._hello,
    "ismaster": MockMongoServer._hello,
    "ping": MockMongoServer._ok,
    "endsessions": MockMongoServer._ok,
    "killcursors": MockMongoServer._ok,
    "buildinfo": MockMongoServer._build_info,
    "find": MockMongoServer._find,
    "aggregate": MockMongoServer._aggregate,
    "insert": MockMongoServer._insert,
    "update": MockMongoServer._update,
    "delete": MockMongoServer._delete,
    "findandmodify": MockMongoServer._find_and_modify,
    "createindexes": MockMongoServer._create_indexes,
    "listindexes": MockMongoServer._list_indexes,
    "dropdatabase": MockMongoServer._drop_database,
}


# --------------------------------------------------------------------------- the wire


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    owner: MockMongoServer

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        with self.server.connections_lock:
            self.server.connections.add(sock)
        try:
            while True:
                header = _receive(sock, _HEADER.size)
                if header is None:
                    return
                length, request_id, _, op_code = _HEADER.unpack(header)
                body = _receive(sock, length - _HEADER.size)
                if body is None or op_code != _OP_MSG:
                    return
                flags, command = _parse_op_msg(body)
                reply = self.server.owner.execute(command)
                if flags & 2:  # moreToCome: the client wants no reply
                    continue
                payload = struct.pack("<IB", 0, 0) + bson.encode(reply)
                response_id = next(self.server.owner._ids)
                sock.sendall(
                    _HEADER.pack(_HEADER.size + len(payload), response_id, request_id, _OP_MSG)
                    + payload
                )
        except OSError:
            return
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(sock)


def _receive(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = sock.recv(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _parse_op_msg(body: bytes) -> tuple[int, dict[str, Any]]:
    """The flag bits and the command of an OP_MSG, with document sequences folded in."""
    (flags,) = struct.unpack_from("<I", body, 0)
    end = len(body) - (4 if flags & 1 else 0)  # a trailing checksum
    position = 4
    command: dict[str, Any] = {}
    sequences: dict[str, list[Any]] = {}
    while position < end:
        kind = body[position]
        position += 1
        (size,) = struct.unpack_from("<i", body, position)
        if kind == 0:
            command = bson.decode(body[position : position + size])
            position += size
            continue
        section_end = position + size
        position += 4
        nul = body.index(b"\x00", position)
        identifier = body[position:nul].decode()
        position = nul + 1
        docs = []
        while position < section_end:
            (doc_size,) = struct.unpack_from("<i", body, position)
            docs.append(bson.decode(body[position : position + doc_size]))
            position += doc_size
        sequences[identifier] = docs
    command.update(sequences)
    return flags, command
