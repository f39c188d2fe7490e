"""Making clients from URLs, naming the server in errors, and retrying with backoff."""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from sessionary.errors import (
    CorruptRecordError,
    InvalidInputError,
    StorageError,
    StoreUnavailableError,
)

__all__ = [
    "DEFAULT_URL",
    "TIMEOUT_AROUND_CALLS",
    "RetryPolicy",
    "bool_option",
    "client_from_url",
    "describe_client",
    "int_option",
    "number_option",
    "split_url",
]

T = TypeVar("T")

#: Where ``RedisDb()`` connects when given neither a URL nor a client.
DEFAULT_URL = "redis://127.0.0.1:6379/0"
#: Whether an asyncio client of one server that a store makes itself is made without
#: redis-py's ``socket_timeout``, the store bounding each call with ``asyncio.timeout``
#: instead (Python 3.11 and newer; see ``AsyncRedisStore``). redis-py bounds each write
#: to the socket with ``asyncio.wait_for``, which starts a task per command: about 9 µs
#: of a 200 µs message read on loopback, for the same bound.
TIMEOUT_AROUND_CALLS = sys.version_info >= (3, 11)
#: Our own query parameters; everything else in the URL goes to redis-py.
OUR_PARAMS = ("prefix", "ttl", "retries", "retry_backoff", "cluster")

#: Errors that mean "the server could not be reached or did not answer in time".
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    redis.exceptions.MasterDownError,
    redis.exceptions.RedisClusterException,
    redis.exceptions.BusyLoadingError,
    ConnectionError,
    TimeoutError,
    asyncio.TimeoutError,  # not TimeoutError before Python 3.11
)
#: Errors :class:`RetryPolicy` retries or turns into a Sessionary storage error.
RETRIED: tuple[type[BaseException], ...] = (
    *UNAVAILABLE,
    redis.exceptions.RedisError,
    UnicodeDecodeError,
)


def split_url(url: str) -> tuple[str, dict[str, str]]:
    """Separate our query parameters (prefix, ttl, ...) from the URL redis-py reads."""
    if not isinstance(url, str):
        raise InvalidInputError(f"db_url must be a str, got {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise InvalidInputError(
            f"{_redact(url)!r} is not a Redis URL; expected redis://, rediss:// or unix://"
        )
    ours: dict[str, str] = {}
    theirs = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in OUR_PARAMS:
            ours[key] = value
        else:
            theirs.append((key, value))
    # Not urlunsplit: it turns "unix:///path" into "unix:/path", which redis-py refuses.
    base = url.partition("?")[0]
    return (f"{base}?{urlencode(theirs)}" if theirs else base), ours


def client_from_url(
    url: str,
    *,
    cluster: bool,
    socket_timeout: float,
    use_asyncio: bool = False,
    timeout_around_calls: bool = False,
) -> Any:
    """A client for ``url`` that does no I/O yet and leaves retrying to :class:`RetryPolicy`.

    With ``use_asyncio``, a ``redis.asyncio`` client (for :class:`AsyncRedisStore`); with
    ``timeout_around_calls`` too, one whose calls redis-py does not bound (only its
    connecting), for a caller that bounds each call itself.
    """
    options: dict[str, Any] = {
        "socket_timeout": None if timeout_around_calls else socket_timeout,
        "socket_connect_timeout": min(socket_timeout, 5.0),
    }
    try:
        if use_asyncio:
            if cluster:  # connects on first use, not here
                return AsyncRedisCluster.from_url(url, **options)
            return redis.asyncio.Redis.from_url(url, retry=AsyncRetry(NoBackoff(), 0), **options)
        if cluster:
            return RedisCluster.from_url(url, **options)
        return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"cannot use Redis URL {_redact(url)!r}: {exc}") from exc
    except redis.exceptions.RedisError as exc:
        # RedisCluster.from_url connects at once to learn the slots.
        raise StoreUnavailableError(
            f"Redis cluster at {_redact(url)} is unreachable: {type(exc).__name__}: {exc}"
        ) from exc


def describe_client(client: Any) -> str:
    """``redis://host:port/db`` (or the socket path, or the cluster's nodes), no password."""
    if isinstance(client, (RedisCluster, AsyncRedisCluster)):
        # An asyncio cluster client learns its nodes on first use: name the ones it was given.
        every = client.get_nodes() or list(client.nodes_manager.startup_nodes.values())
        nodes = [f"{n.host}:{n.port}" for n in every[:3]]
        more = ", ..." if len(every) > 3 else ""
        return f"Redis cluster {', '.join(nodes)}{more}"
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", {})
    if kwargs.get("path"):
        return f"Redis at unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"Redis at redis://{host}:{port}/{kwargs.get('db', 0)}"


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


class RetryPolicy:
    """Runs a Redis call, retrying connection errors and timeouts with exponential backoff.

    The loop and the backoff are redis-py's own (:class:`redis.retry.Retry` with an
    :class:`~redis.backoff.EqualJitterBackoff`): ``retries`` is how many times a call is
    tried again (0: never); the n-th retry waits ``backoff * 2**(n-1)`` seconds (capped
    at 2 s), between half that and all of it. What is left after the last retry becomes a
    :class:`~sessionary.errors.StoreUnavailableError` that names the server and what
    failed; other Redis errors become storage errors at once.
    """

    def __init__(self, server: str, retries: int, backoff: float) -> None:
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise InvalidInputError(f"retries must be a non-negative int, got {retries!r}")
        if (
            not isinstance(backoff, (int, float))
            or isinstance(backoff, bool)
            or not 0 <= backoff <= 60
        ):
            raise InvalidInputError(f"retry_backoff must be 0 to 60 seconds, got {backoff!r}")
        self.server = server
        self.retries = retries
        self.backoff = float(backoff)
        # After the n-th failure EqualJitter waits half to all of min(cap, base * 2**n).
        jitter = EqualJitterBackoff(cap=2.0, base=self.backoff / 2)
        self._retry = Retry(jitter, retries, UNAVAILABLE)
        # Typed for redis errors only, but it catches whatever it is given (socket errors too).
        self._aretry = AsyncRetry(jitter, retries, UNAVAILABLE)  # type: ignore[arg-type]

    def call(
        self,
        what: str,
        fn: Callable[[int], T],
        *,
        session_id: str | None = None,
        is_write: bool = False,
    ) -> T:
        """Call ``fn(attempt)``; ``attempt`` is 0 first, then 1, 2, ... on retries."""
        attempts = itertools.count()
        try:
            return self._retry.call_with_retry(lambda: fn(next(attempts)), _ignore)
        except RETRIED as exc:
            raise self._translate(what, exc, next(attempts) - 1, session_id, is_write) from exc

    async def acall(
        self,
        what: str,
        fn: Callable[[int], Awaitable[T]],
        *,
        session_id: str | None = None,
        is_write: bool = False,
    ) -> T:
        """:meth:`call` for a coroutine function: the backoff waits without holding the loop."""
        attempts = itertools.count()
        try:
            return await self._aretry.call_with_retry(lambda: fn(next(attempts)), _aignore)
        except RETRIED as exc:
            raise self._translate(what, exc, next(attempts) - 1, session_id, is_write) from exc

    def _translate(
        self,
        what: str,
        exc: BaseException,
        attempt: int,
        session_id: str | None,
        is_write: bool,
    ) -> BaseException:
        """The error the caller gets for ``exc``, raised on the ``attempt``-th try (from 0)."""
        if isinstance(exc, UNAVAILABLE):
            return self._unavailable(what, exc, attempt, is_write)
        if isinstance(exc, redis.exceptions.ResponseError):
            if "WRONGTYPE" in str(exc) and session_id is not None:
                return CorruptRecordError(session_id, f"a key has the wrong type: {exc}")
            return StorageError(f"{self.server} refused to {what}: {exc}")
        if isinstance(exc, redis.exceptions.RedisError):
            return StorageError(f"{self.server} failed to {what}: {type(exc).__name__}: {exc}")
        if isinstance(exc, UnicodeDecodeError) and session_id is not None:
            return CorruptRecordError(session_id, f"not UTF-8: {exc}")
        return StorageError(f"{self.server}: undecodable reply to {what}: {exc}")

    def _unavailable(
        self, what: str, exc: BaseException, attempt: int, is_write: bool
    ) -> StoreUnavailableError:
        tries = f" after {attempt + 1} attempts" if attempt else ""
        timeout = isinstance(exc, (redis.exceptions.TimeoutError, TimeoutError))
        kind = "timed out" if timeout else "is unreachable"
        unknown = (
            " If the server received the write before the connection failed it was applied "
            "whole; retrying the same call on this RedisDb is safe."
            if is_write
            else ""
        )
        return StoreUnavailableError(
            f"{self.server} {kind}: could not {what}{tries} ({type(exc).__name__}: {exc}).{unknown}"
        )


def _ignore(error: Exception) -> None:
    """redis-py's failure callback: nothing to do (the connection pool reconnects)."""


async def _aignore(error: Exception) -> None:
    """:func:`_ignore` for redis-py's asyncio ``Retry``, which awaits it."""


def number_option(value: Any, what: str, *, minimum: float) -> float:
    """A finite number of at least ``minimum`` (from an argument or URL text)."""
    try:
        number = float(value) if isinstance(value, str) else value
    except ValueError:
        raise InvalidInputError(f"{what} must be a number, got {value!r}") from None
    if not isinstance(number, (int, float)) or isinstance(number, bool) or not number >= minimum:
        raise InvalidInputError(f"{what} must be a number of at least {minimum}, got {value!r}")
    if number == float("inf"):
        raise InvalidInputError(f"{what} must be finite")
    return float(number)


def int_option(options: dict[str, str], key: str, default: int) -> int:
    """An integer URL option, or ``default`` when absent."""
    raw = options.get(key)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInputError(f"URL option {key} must be an integer, got {raw!r}") from None


def bool_option(options: dict[str, str], key: str, default: bool) -> bool:
    """A true/false URL option (``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``)."""
    raw = options.get(key)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise InvalidInputError(f"URL option {key} must be true or false, got {raw!r}")
