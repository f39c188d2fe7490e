"""RedisDb: sessions in Redis or Redis Cluster, one atomic script per write.

The operations themselves (what is sent, and what each reply means) are in
:mod:`sessionary_redis.operations`, shared with the async store
:class:`~sessionary_redis.aio.AsyncRedisStore`; this module is the sync client and
the driver that sends each request through it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import redis
from redis.cluster import RedisCluster

from sessionary.errors import InvalidInputError
from sessionary.storage.base import Capability
from sessionary.storage.driving import OperationStore, drive_sync
from sessionary_redis.calls import Action, Command, Op, Pipeline, Request, Script
from sessionary_redis.connection import (
    DEFAULT_URL,
    bool_option,
    client_from_url,
    describe_client,
    number_option,
    split_url,
)
from sessionary_redis.operations import RedisOperations
from sessionary_redis.records import refuse_newer

if TYPE_CHECKING:
    from sessionary.storage.aio import AsyncStore

__all__ = ["RedisDb"]

log = logging.getLogger("sessionary_redis")

T = TypeVar("T")


class RedisDb(RedisOperations, OperationStore):
    """Sessions in Redis: one hash and one list per session, sorted-set indexes for listing.

    ``RedisDb()`` connects to ``redis://127.0.0.1:6379/0``; pass ``db_url`` (``redis://``,
    ``rediss://`` or ``unix://``) or an application's own ``client`` (a ``redis.Redis``
    or a ``redis.cluster.RedisCluster``, which the store then never closes). Keys start
    with ``prefix``. With ``ttl`` (seconds) a session and its index entries expire
    together that long after the session's last write. Connection errors and timeouts
    are retried ``retries`` times with exponential backoff from ``retry_backoff``
    seconds, then raised as :class:`~sessionary.errors.StoreUnavailableError`.

    The URL may carry the same options as query parameters:
    ``redis://host:6379/0?prefix=app&ttl=86400&retries=3&cluster=true``.

    >>> db = RedisDb("redis://127.0.0.1:6379/0", prefix="docs", ttl=3600)
    >>> db.ttl
    3600.0
    """

    name: ClassVar[str] = "redis"
    url_schemes: ClassVar[tuple[str, ...]] = ("redis", "rediss", "unix")
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )

    def __init__(
        self,
        db_url: str | None = None,
        *,
        client: redis.Redis | RedisCluster | None = None,
        prefix: str | None = None,
        ttl: float | None = None,
        retries: int | None = None,
        retry_backoff: float | None = None,
        socket_timeout: float = 5.0,
    ) -> None:
        options: dict[str, str] = {}
        self._url: str | None = None
        if client is not None:
            if db_url is not None:
                raise InvalidInputError("pass either db_url or client to RedisDb, not both")
            if not isinstance(client, (redis.Redis, RedisCluster)):
                raise InvalidInputError(
                    "client must be a redis.Redis or a redis.cluster.RedisCluster, "
                    f"got {type(client).__name__}"
                )
            self._owns_client = False
        else:
            url, options = split_url(DEFAULT_URL if db_url is None else db_url)
            timeout = number_option(socket_timeout, "socket_timeout", minimum=0.001)
            cluster = bool_option(options, "cluster", False)
            client = client_from_url(url, cluster=cluster, socket_timeout=timeout)
            self._owns_client = True
            self._url, self._socket_timeout = DEFAULT_URL if db_url is None else db_url, timeout
        self.client: redis.Redis | RedisCluster = client
        self._configure(
            client,
            options,
            is_cluster=isinstance(client, RedisCluster),
            server=describe_client(client),
            prefix=prefix,
            ttl=ttl,
            retries=retries,
            retry_backoff=retry_backoff,
        )

    @classmethod
    def from_url(cls, url: str) -> RedisDb:
        """Open ``redis://``, ``rediss://`` or ``unix://`` URLs (options as query parameters)."""
        return cls(url)

    def __repr__(self) -> str:
        return f"RedisDb({self.server}, prefix={self.prefix!r}, ttl={self.ttl!r})"

    def to_async(self) -> AsyncStore:
        """An :class:`~sessionary_redis.aio.AsyncRedisStore` on the same server and settings.

        It has connections of its own (``redis.asyncio``); closing it leaves this store
        open. A store made on an application's own sync ``client`` has no URL to open an
        async client from, so it is adapted in worker threads instead
        (:class:`~sessionary.storage.aio.ThreadedAsyncStore`); to go native, pass your
        ``redis.asyncio`` client to ``AsyncRedisStore(client=...)``.
        """
        if self._url is None:
            return super().to_async()
        from sessionary_redis.aio import AsyncRedisStore

        return AsyncRedisStore(
            self._url,
            prefix=self.prefix,
            ttl=self.ttl,
            retries=self._policy.retries,
            retry_backoff=self._policy.backoff,
            socket_timeout=self._socket_timeout,
        )

    # ------------------------------------------------------------------ plumbing

    def _run(self, op: Op[T]) -> T:
        return drive_sync(op, self._send)

    def _send(self, request: Request) -> Any:
        return self._policy.call(
            request.what,
            lambda attempt: self._perform(request.build(attempt)),
            session_id=request.session_id,
            is_write=request.write,
        )

    def _perform(self, action: Action) -> Any:
        if isinstance(action, Script):
            return refuse_newer(getattr(self, action.name)(keys=action.keys, args=action.args))
        if isinstance(action, Pipeline):
            pipe = self.client.pipeline(transaction=False)
            for command in action.commands:
                getattr(pipe, command.method)(*command.args, **command.kwargs)
            return pipe.execute(raise_on_error=action.raise_on_error)
        assert isinstance(action, Command)
        return getattr(self.client, action.method)(*action.args, **action.kwargs)

    # ------------------------------------------------------------------ admin

    def close(self) -> None:
        """Close the connections of a client this store made (never an application's)."""
        if self._owns_client:
            self.client.close()
