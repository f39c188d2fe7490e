"""The file side of a SQLite store: opening it, its schema version, and transactions.

:class:`SqliteDatabase` owns one connection per process (reopened after a fork),
guarded by a lock so threads take turns, and hands out short transactions:
``_writing`` takes SQLite's write lock at ``BEGIN IMMEDIATE`` (so writers in other
processes queue instead of failing half-way), ``_reading`` a consistent snapshot.
It also checks the file's schema version before any data is touched, and upgrades it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator

from sessionary.errors import InvalidInputError, SchemaVersionError, StoreUnavailableError
from sessionary.storage.base import SchemaStatus
from sessionary_sqlite import schema
from sessionary_sqlite.connection import (
    DEFAULT_SYNCHRONOUS,
    DEFAULT_TIMEOUT,
    Location,
    connect,
    location_of_file,
    parse_url,
    retry_busy,
    translate,
)

__all__ = ["SqliteDatabase"]


def _writer() -> str:
    from sessionary_sqlite import __version__

    return f"sessionary-sqlite {__version__}"


class SqliteDatabase:
    """Connection, schema and transactions of one SQLite file (the base of ``SqliteDb``)."""

    def __init__(
        self,
        db_file: str | os.PathLike[str] | None = None,
        db_url: str | None = None,
        *,
        synchronous: str | None = None,
        timeout: float | None = None,
    ) -> None:
        if (db_file is None) == (db_url is None):
            raise InvalidInputError(
                "give exactly one of db_file='tmp/agent.db' or db_url='sqlite:///tmp/agent.db'"
            )
        if db_url is not None:
            self.location: Location = parse_url(db_url, synchronous, timeout)
        else:
            self.location = location_of_file(
                db_file,
                DEFAULT_SYNCHRONOUS if synchronous is None else synchronous,
                DEFAULT_TIMEOUT if timeout is None else timeout,
            )
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._file_id: tuple[int, int] | None = None
        self._version: int | None = None
        self._closed = False

    @property
    def url(self) -> str:
        """A URL that opens this database again (in this or another process)."""
        return self.location.url

    @property
    def path(self) -> str:
        """The database file's path (``":memory:"`` for an in-memory database)."""
        return self.location.path

    def __repr__(self) -> str:
        return f"SqliteDb(db_url={self.url!r})"

    # ------------------------------------------------------------------ connection

    def _connection(self) -> sqlite3.Connection:
        """The open connection (opened on first use, and again after a fork). Hold the lock."""
        conn = self._conn
        if conn is not None and self._pid == os.getpid():
            return conn
        if self._closed:
            raise StoreUnavailableError(f"the store for {self.url!r} was closed")
        conn = connect(self.location)
        try:
            conn.create_function("sessionary_name_contains", 2, _name_contains, deterministic=True)
            self._version = self._prepare(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, self.location) from exc
        except BaseException:
            conn.close()
            raise
        self._conn, self._pid = conn, os.getpid()
        self._file_id = None if self.location.is_memory else _file_id(self.path)
        return conn

    def _check_file(self, conn: sqlite3.Connection, session_id: str | None) -> None:
        """Refuse to write into a file that was deleted or replaced since it was opened.

        SQLite would go on writing into the deleted file (through its WAL) and report
        success for runs that vanish when the connection closes. Hold the write lock.
        """
        if self._file_id is None or _file_id(self.path) == self._file_id:
            return
        _rollback(conn)
        self._conn = None  # the next call opens whatever file is at the path now
        conn.close()
        about = f" (session {session_id!r})" if session_id is not None else ""
        raise StoreUnavailableError(
            f"the SQLite database {self.path!r} was deleted or replaced while this store "
            f"had it open; nothing was written{about}. The next call opens the file at "
            "that path again (a new, empty one if it is gone)"
        )

    def _follow_file(self) -> None:
        """Let go of the connection if the file at the path is no longer the one it has open.

        The next call then opens the file there now, as a writer does once it finds the
        file replaced (see :meth:`_check_file`): the async store's readers call this
        before each read, so they never go on reading a deleted file beside the writer.
        """
        with self._lock:
            if self._conn is None or self._file_id is None or self._pid != os.getpid():
                return
            if _file_id(self.path) == self._file_id:
                return
            conn, self._conn = self._conn, None
            conn.close()

    def _prepare(self, conn: sqlite3.Connection) -> int:
        """Create the schema in a file that has none; return the file's schema version."""
        version = retry_busy(lambda: schema.read_version(conn), self.location.timeout)
        if version is not None:
            return version
        self._begin(conn, "BEGIN IMMEDIATE")
        try:
            version = schema.read_version(conn)  # another process may have won the race
            if version is None:
                foreign = schema.foreign_tables(conn)
                if foreign:
                    raise SchemaVersionError(
                        f"the SQLite database {self.path!r} has table(s) {', '.join(foreign)} "
                        "but no Sessionary schema; it belongs to another program. "
                        "Point db at another file."
                    )
                schema.create_latest(conn, _writer())
                version = schema.LATEST
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return version

    def _begin(self, conn: sqlite3.Connection, *statements: str) -> None:
        """Start a transaction, waiting (up to the timeout) for another writer to finish."""

        def begin() -> None:
            conn.execute(statements[0])
            try:
                for statement in statements[1:]:
                    conn.execute(statement).fetchall()
            except BaseException:
                _rollback(conn)
                raise

        retry_busy(begin, self.location.timeout)

    def _checked(self) -> sqlite3.Connection:
        """The connection, once the file is known to hold the latest schema. Hold the lock."""
        conn = self._connection()
        if self._version != schema.LATEST:
            # Migrated by another process since we looked?
            self._version = retry_busy(lambda: schema.read_version(conn), self.location.timeout)
            if self._version != schema.LATEST:
                raise self._version_error(self._version or 0)
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        """Refuse, inside the transaction, a file another process migrated since we looked.

        One read of the one-row schema table per transaction, in the same snapshot (or
        under the same write lock) as the reads and writes that follow: a store opened
        before a rolling upgrade stamped the file newer neither reads nor writes it.
        """
        version = schema.read_version(conn)
        if version != schema.LATEST:
            self._version = version
            raise self._version_error(version or 0)

    def _version_error(self, version: int) -> SchemaVersionError:
        if version < 1:
            return SchemaVersionError(
                f"the SQLite database {self.path!r} has a damaged schema table (no valid "
                f"version; this {_writer()} uses version {schema.LATEST}); restore the "
                "file from a backup"
            )
        if version > schema.LATEST:
            return SchemaVersionError(
                f"the SQLite database {self.path!r} has schema version {version}, newer than "
                f"version {schema.LATEST} that this {_writer()} reads; upgrade it "
                "('pip install -U sessionary-sqlite') to open this file, or use another file"
            )
        return SchemaVersionError(
            f"the SQLite database {self.path!r} has schema version {version}; this "
            f"{_writer()} uses version {schema.LATEST}. Upgrade the file with "
            f"'sessionary migrate --db {self.url}' (back it up first)"
        )

    def _check_version(self, version: object) -> None:
        """:meth:`_check_schema` on a version the caller read inside its transaction
        (``None``: no schema row)."""
        if version != schema.LATEST:
            self._version = version if type(version) is int else 0
            raise self._version_error(self._version)

    @contextlib.contextmanager
    def _writing(
        self, session_id: str | None, *, version_read: bool = False
    ) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from its start.

        With ``version_read`` the caller reads the schema version itself, in its first
        statement of the transaction, and hands it to :meth:`_check_version` before
        writing anything (one statement fewer than a read of its own here).
        """
        with self._lock:
            try:
                conn = self._checked()
                self._begin(conn, "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, self.location, session_id) from exc
            self._check_file(conn, session_id)
            try:
                if not version_read:
                    self._check_schema(conn)
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise translate(exc, self.location, session_id) from exc
            except UnicodeEncodeError as exc:
                _rollback(conn)
                raise InvalidInputError(f"text that is not valid UTF-8: {exc}") from exc
            except BaseException:
                _rollback(conn)
                raise

    @contextlib.contextmanager
    def _reading(self, session_id: str | None) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot across its statements."""
        with self._lock:
            try:
                conn = self._checked()
                # BEGIN defers locking to the first read; take the snapshot now, so a
                # lock held during another connection's recovery is waited for here.
                self._begin(conn, "BEGIN", "SELECT 1 FROM sessionary_schema")
            except sqlite3.Error as exc:
                raise translate(exc, self.location, session_id) from exc
            try:
                self._check_schema(conn)
                yield conn
            except sqlite3.Error as exc:
                _rollback(conn)
                raise translate(exc, self.location, session_id) from exc
            except BaseException:
                _rollback(conn)
                raise
            _rollback(conn)  # a read transaction ends without writing anything

    def _checked_for(self, session_id: str | None) -> sqlite3.Connection:
        try:
            return self._checked()
        except sqlite3.Error as exc:
            raise translate(exc, self.location, session_id) from exc

    # ------------------------------------------------------------------ admin

    def schema_status(self) -> SchemaStatus:
        """The file's schema version against the one this package writes."""
        with self._lock:
            conn = self._connection()
            try:
                version = retry_busy(lambda: schema.read_version(conn), self.location.timeout)
            except sqlite3.Error as exc:
                raise translate(exc, self.location) from exc
        return SchemaStatus(current=version or 0, latest=schema.LATEST)

    def migrate(self) -> list[str]:
        """Upgrade the file to the latest schema in one transaction; a line per step.

        A file already at the latest version is left alone (``[]``); one written by a
        newer version raises :class:`~sessionary.errors.SchemaVersionError`.
        """
        with self._lock:
            conn = self._connection()
            try:
                self._begin(conn, "BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise translate(exc, self.location) from exc
            try:
                version = schema.read_version(conn) or 0
                if version > schema.LATEST or version < 1:
                    raise self._version_error(version)
                steps: list[str] = []
                for target in range(version + 1, schema.LATEST + 1):
                    steps += schema.MIGRATIONS[target](conn)
                if steps:
                    schema.write_version(conn, schema.LATEST, _writer())
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _rollback(conn)
                raise translate(exc, self.location) from exc
            except BaseException:
                _rollback(conn)
                raise
            self._version = schema.LATEST
        return steps

    def ping(self) -> None:
        """Open the file (creating it and its schema if new) and check it answers."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as exc:
                raise translate(exc, self.location) from exc

    def close(self) -> None:
        """Close the connection. The store cannot be used after this."""
        with self._lock:
            conn, self._conn = self._conn, None
            self._closed = True
            if conn is not None and self._pid == os.getpid():
                conn.close()


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _name_contains(name: object, needle: object) -> bool:
    if not isinstance(name, str) or not isinstance(needle, str):
        return False
    return needle.casefold() in name.casefold()
