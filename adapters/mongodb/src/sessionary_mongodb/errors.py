"""Turning pymongo's errors into Sessionary storage errors that say what failed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import unquote

from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NotPrimaryError,
    PyMongoError,
    ServerSelectionTimeoutError,
)

from sessionary.errors import SessionaryError, StorageError, StoreUnavailableError

__all__ = ["describe_url", "split_url", "translate_errors"]


def split_url(url: str) -> tuple[str, str | None]:
    """The hosts part of a MongoDB URL (without credentials) and its database, if any.

    Parsed by hand rather than with pymongo's parser, which resolves ``mongodb+srv``
    names over DNS: opening a store must not do I/O.
    """
    _, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    hosts = authority.rpartition("@")[2].split("?")[0]
    database = unquote(path.split("?")[0]) or None
    return hosts, database


def describe_url(url: str) -> str:
    """``mongodb://host:port`` with no user name, password or options: safe in messages."""
    scheme = url.partition("://")[0]
    return f"{scheme}://{split_url(url)[0]}"


@contextmanager
def translate_errors(where: str, action: str) -> Iterator[None]:
    """Re-raise pymongo errors as StorageError subclasses naming ``where`` and ``action``.

    ``where`` names the server and database, ``action`` what was being done (and to
    which session). Sessionary's own errors pass through untouched.
    """
    try:
        yield
    except SessionaryError:
        raise
    except ServerSelectionTimeoutError as exc:
        raise StoreUnavailableError(
            f"MongoDB {where} could not be reached (server selection timed out) "
            f"while {action}: {_first_line(exc)}"
        ) from exc
    except NotPrimaryError as exc:
        raise StoreUnavailableError(
            f"MongoDB {where} refused the write while {action}: the server is not primary "
            f"(a failover is in progress or the URL points at a secondary): {_first_line(exc)}"
        ) from exc
    except ConnectionFailure as exc:
        raise StoreUnavailableError(
            f"MongoDB {where} connection failed while {action}: {_first_line(exc)}"
        ) from exc
    except ExecutionTimeout as exc:
        raise StorageError(f"MongoDB {where} timed out while {action}: {exc}") from exc
    except DuplicateKeyError as exc:
        raise StorageError(
            f"MongoDB {where} reported a duplicate key while {action}: {_first_line(exc)}"
        ) from exc
    except PyMongoError as exc:
        raise StorageError(
            f"MongoDB {where} failed while {action}: {type(exc).__name__}: {_first_line(exc)}"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    line = text.split("\n", 1)[0]
    # Server selection errors append the whole topology; the first line says enough.
    for noise in (", Timeout:", " (configured timeouts:"):
        line = line.split(noise, 1)[0]
    return line[:500]
