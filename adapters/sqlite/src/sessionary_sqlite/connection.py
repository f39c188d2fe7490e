"""Where a SQLite store lives and how it is opened: URLs, pragmas, error messages.

``sqlite:///tmp/agent.db`` is the relative path ``tmp/agent.db`` (three slashes, as in
SQLAlchemy), ``sqlite:////var/lib/app.db`` the absolute ``/var/lib/app.db``, and
``sqlite:///:memory:`` (or ``sqlite://``) a private in-memory database. The query
string takes ``synchronous`` (``full`` or ``normal``) and ``timeout`` (seconds to wait
for another writer).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, quote, unquote, urlsplit

import attrs

from sessionary.errors import (
    CorruptStoreError,
    InvalidInputError,
    StorageError,
    StoreUnavailableError,
)

__all__ = [
    "DEFAULT_SYNCHRONOUS",
    "DEFAULT_TIMEOUT",
    "MEMORY",
    "Location",
    "connect",
    "parse_url",
    "retry_busy",
    "translate",
]

T = TypeVar("T")

MEMORY = ":memory:"
#: Durability by default: every commit is on disk before the call returns.
DEFAULT_SYNCHRONOUS = "full"
#: Seconds a write waits for another process's write to finish.
DEFAULT_TIMEOUT = 30.0
_SYNCHRONOUS = ("full", "normal")


@attrs.frozen
class Location:
    """A validated database location and its connection settings."""

    path: str
    synchronous: str = DEFAULT_SYNCHRONOUS
    timeout: float = DEFAULT_TIMEOUT

    @property
    def is_memory(self) -> bool:
        """True for a private in-memory database."""
        return self.path == MEMORY

    @property
    def url(self) -> str:
        """A ``sqlite://`` URL that opens the same file with the same settings."""
        if self.is_memory:
            base = "sqlite:///:memory:"
        else:
            base = "sqlite:///" + quote(self.path, safe="/:")
        options = []
        if self.synchronous != DEFAULT_SYNCHRONOUS:
            options.append(f"synchronous={self.synchronous}")
        if self.timeout != DEFAULT_TIMEOUT:
            options.append(f"timeout={self.timeout:g}")
        return base + ("?" + "&".join(options) if options else "")


def check_settings(synchronous: object, timeout: object) -> tuple[str, float]:
    """Validate the durability and busy-timeout settings."""
    if not isinstance(synchronous, str) or synchronous.lower() not in _SYNCHRONOUS:
        raise InvalidInputError(
            f"synchronous must be one of {', '.join(_SYNCHRONOUS)}; got {synchronous!r}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise InvalidInputError(
            f"timeout must be a non-negative number of seconds, got {timeout!r}"
        )
    return synchronous.lower(), float(timeout)


def location_of_file(db_file: object, synchronous: object, timeout: object) -> Location:
    """A :class:`Location` for a file path (``":memory:"`` for memory)."""
    if isinstance(db_file, os.PathLike):
        db_file = os.fspath(db_file)
    if not isinstance(db_file, str):
        raise InvalidInputError(f"db_file must be a str or a path, got {type(db_file).__name__}")
    if not db_file:
        raise InvalidInputError("db_file must not be empty")
    if "\x00" in db_file:
        raise InvalidInputError("db_file contains a NUL character")
    sync, wait = check_settings(synchronous, timeout)
    return Location(path=db_file, synchronous=sync, timeout=wait)


def parse_url(url: object, synchronous: object = None, timeout: object = None) -> Location:
    """Parse a ``sqlite://`` URL; explicit settings override the URL's query string."""
    if not isinstance(url, str):
        raise InvalidInputError(f"db_url must be a str, got {type(url).__name__}")
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not sep:
        raise InvalidInputError(
            f"{url!r} is not a SQLite URL; expected 'sqlite:///relative/path.db', "
            "'sqlite:////absolute/path.db' or 'sqlite:///:memory:'"
        )
    parts = urlsplit("sqlite://" + rest)
    if parts.netloc:
        raise InvalidInputError(
            f"{url!r} names a host ({parts.netloc!r}); a SQLite URL has none: "
            "use three slashes for a relative path, four for an absolute one"
        )
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    if not path:
        path = MEMORY
    options = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
    unknown = sorted(set(options) - {"synchronous", "timeout"})
    if unknown:
        raise InvalidInputError(
            f"{url!r} has unknown option(s) {', '.join(unknown)}; known: synchronous, timeout"
        )
    if synchronous is None:
        synchronous = options.get("synchronous", [DEFAULT_SYNCHRONOUS])[-1]
    if timeout is None:
        raw = options.get("timeout", [str(DEFAULT_TIMEOUT)])[-1]
        try:
            timeout = float(raw)
        except ValueError:
            raise InvalidInputError(f"{url!r}: timeout must be a number, got {raw!r}") from None
    return location_of_file(path, synchronous, timeout)


def connect(location: Location) -> sqlite3.Connection:
    """Open a connection with WAL, the busy timeout, foreign keys and the durability set.

    Creates the file's parent folders. Raises :class:`StoreUnavailableError` saying
    what is wrong with the file or its folder.
    """
    path = location.path
    if not location.is_memory:
        parent = Path(path).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create the folder {str(parent)!r} for the SQLite database "
                f"{path!r}: {exc.strerror or exc}"
            ) from exc
        if not parent.is_dir():
            raise StoreUnavailableError(
                f"the SQLite database {path!r} cannot be opened: {str(parent)!r} is not a folder"
            )
    try:
        # SQLite's own busy handler sleeps 1, 2, 5, 10, ... ms between tries, so a
        # queue of writers would wait far longer than the writes take; retry_busy
        # waits in steps of a tenth of a millisecond instead.
        conn = sqlite3.connect(
            path,
            timeout=0,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=64,
        )
    except sqlite3.Error as exc:
        raise translate(exc, location) from exc
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        if not location.is_memory:
            retry_busy(lambda: _wal(conn, location), location.timeout)
        conn.execute(f"PRAGMA synchronous = {location.synchronous.upper()}")
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, location) from exc
    except BaseException:
        conn.close()
        raise
    return conn


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused because another connection holds a lock."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def retry_busy(action: Callable[[], T], timeout: float) -> T:
    """Run ``action``, retrying while the database is locked, for up to ``timeout`` s.

    Waits start at 0.1 ms and double up to 5 ms, with jitter, so queued writers take
    turns about as fast as the writes finish.
    """
    try:
        return action()
    except sqlite3.OperationalError as exc:
        if not is_busy(exc) or timeout <= 0:
            raise
    deadline = time.monotonic() + timeout
    delay = 0.0001
    while True:
        time.sleep(delay * (0.5 + random.random()))
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        delay = min(delay * 2, 0.005)


def _wal(conn: sqlite3.Connection, location: Location) -> None:
    row = conn.execute("PRAGMA journal_mode").fetchone()
    if row is not None and str(row[0]).lower() == "wal":
        return
    row = conn.execute("PRAGMA journal_mode = WAL").fetchone()
    if row is None or str(row[0]).lower() != "wal":
        raise StoreUnavailableError(
            f"the SQLite database {location.path!r} cannot use write-ahead logging "
            f"(journal_mode stayed {row[0] if row else None!r}); put it on a local disk"
        )


def translate(
    exc: sqlite3.Error, location: Location, session_id: str | None = None
) -> StorageError:
    """A Sessionary storage error for a sqlite3 error, naming the file and the session."""
    where = f"SQLite database {location.path!r}"
    about = f" (session {session_id!r})" if session_id is not None else ""
    text = str(exc)
    lowered = text.lower()
    if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        folder = str(Path(location.path).parent)
        return StoreUnavailableError(
            f"cannot write the {where}{about}: {text}; check that the file and its folder "
            f"{folder!r} exist and are writable by this process"
        )
    if "locked" in lowered or "busy" in lowered:
        return StoreUnavailableError(
            f"the {where} stayed locked by another writer for more than "
            f"{location.timeout:g} s{about}: {text}"
        )
    if "not a database" in lowered or "malformed" in lowered:
        return CorruptStoreError(f"the {where} is damaged or not a SQLite file{about}: {text}")
    if "disk" in lowered or "full" in lowered:
        return StoreUnavailableError(f"the {where} cannot be written{about}: {text}")
    return StorageError(f"the {where} failed{about}: {type(exc).__name__}: {text}")
