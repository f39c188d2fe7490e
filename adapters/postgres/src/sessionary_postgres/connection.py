"""Where a PostgreSQL store connects, how an idle connection is checked, and error messages.

A store takes a libpq URL (``postgresql://user@host:5432/dbname?sslmode=...``; every
libpq parameter works, as psycopg passes the URL to libpq). :class:`Server` is what the
store says about it in messages: host, port and database, never the password.
"""

from __future__ import annotations

import select
from typing import Any

import attrs
import psycopg
import psycopg.conninfo
import psycopg.errors
from psycopg.pq import TransactionStatus

from sessionary.errors import (
    InvalidInputError,
    SessionaryError,
    StorageError,
    StoreUnavailableError,
)
from sessionary.storage.backend import Capability

__all__ = [
    "CAPABILITIES",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "IN_TRANSACTION",
    "Server",
    "check_pool_settings",
    "connect_kwargs",
    "is_stale",
    "parse_url",
    "translate",
]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: Seconds a call waits for a free connection of the pool.
DEFAULT_TIMEOUT = 10.0
#: The states of a connection that a failed operation leaves to roll back.
IN_TRANSACTION = (TransactionStatus.INTRANS, TransactionStatus.INERROR)
#: What both stores declare.
CAPABILITIES = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})
#: Seconds libpq waits for the server to accept a connection, unless the URL says.
DEFAULT_CONNECT_TIMEOUT = 5
_SCHEMES = ("postgresql", "postgres")


@attrs.frozen
class Server:
    """The server and database a URL names, for messages (no credentials)."""

    host: str
    port: int
    dbname: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.dbname}"


def check_pool_settings(min_size: object, max_size: object, timeout: object) -> None:
    """Validate the pool's sizes and wait."""
    for what, value in (("min_size", min_size), ("max_size", max_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInputError(f"{what} must be a non-negative int, got {value!r}")
    if max_size < 1 or max_size < min_size:  # type: ignore[operator]
        raise InvalidInputError(f"max_size must be at least 1 and min_size ({min_size})")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise InvalidInputError(f"timeout must be a positive number of seconds, got {timeout!r}")


def parse_url(url: object) -> tuple[str, Server]:
    """Check a ``postgresql://`` or ``postgres://`` URL; the URL and the server it names."""
    if not isinstance(url, str):
        raise InvalidInputError(f"db_url must be a str, got {type(url).__name__}")
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise InvalidInputError(
            f"{_redacted(url)!r} is not a PostgreSQL URL; expected "
            "'postgresql://user@host:5432/dbname' (or postgres://)"
        )
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise InvalidInputError(f"{_redacted(url)!r} is not a valid PostgreSQL URL: {exc}") from exc
    host = str(params.get("host") or "localhost").split(",")[0]
    port_text = str(params.get("port") or "5432").split(",")[0]
    try:
        port = int(port_text)
    except ValueError:
        raise InvalidInputError(f"{_redacted(url)!r}: the port must be a number") from None
    dbname = str(params.get("dbname") or params.get("user") or "postgres")
    return url, Server(host=host, port=port, dbname=dbname)


def _redacted(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url.split("?", 1)[0] if "password" in url else url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"


def connect_kwargs(url: str) -> dict[str, Any]:
    """What every connection of a store is opened with, beside the URL."""
    kwargs: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(url):
        kwargs["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT
    return kwargs


def is_stale(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle pooled connection was ended by the server (a restart, a timeout).

    An idle connection has nothing to read; a server that ended it has sent its last
    message and closed the socket, so the socket reads ready. This costs no round trip,
    unlike a test query. The stores close such a connection (the pool then drops it)
    and take another at once, so a restarted server fails no call; psycopg_pool's own
    ``check`` would wait a growing backoff between stale connections.
    """
    if conn.closed:
        return True
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


def translate(exc: Exception, server: Server, session_id: str | None = None) -> SessionaryError:
    """A Sessionary error for a psycopg (or pool) error, naming the server and the session."""
    about = f" (session {session_id!r})" if session_id is not None else ""
    if isinstance(exc, psycopg.OperationalError) and not isinstance(
        exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
    ):
        return StoreUnavailableError(
            f"the PostgreSQL server at {server} is unavailable{about}: {_first_line(exc)}"
        )
    if isinstance(exc, psycopg.DataError):
        return InvalidInputError(f"PostgreSQL cannot store this value{about}: {_first_line(exc)}")
    return StorageError(
        f"the PostgreSQL server at {server} failed{about}: {type(exc).__name__}: {_first_line(exc)}"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
