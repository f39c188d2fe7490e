"""AsyncRedisStore: the Redis store on ``redis.asyncio``, for ``arun`` and the ``a*`` methods.

It is :class:`~sessionary_redis.store.RedisDb` with an asyncio client: the same key
layout, Lua scripts, records, retries and error messages, because both run the same
operations (:mod:`sessionary_redis.operations`); only the client and the driver that
awaits each request differ. No call ever waits on a socket in the event loop.

A store bounds each call by ``socket_timeout``: a client it makes of one server (on
Python 3.11 and newer) is made without redis-py's own per-command bound, and each call
runs inside ``asyncio.timeout`` instead, a timer where redis-py starts a task per
command; a call that overruns is cancelled, and redis-py then drops its connection, so
no late reply is ever read as another call's. A cluster client, and a client an
application passes in, keep redis-py's own bounds.

A ``redis.asyncio`` client belongs to the event loop it first ran on. A store that
makes its own clients (from a URL) keeps one per event loop, so it can be used from
several loops, one after another (``asyncio.run`` twice) or at once in several threads;
a client an application passes in is used on one loop only, and a call from another
loop is a clear :class:`~sessionary.errors.StorageError`.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

from sessionary.errors import InvalidInputError
from sessionary.storage.base import Capability
from sessionary.storage.driving import AsyncOperationStore, drive_async
from sessionary.storage.per_loop import PerLoop
from sessionary_redis.calls import SCRIPTS, Action, Command, Op, Pipeline, Request
from sessionary_redis.connection import (
    DEFAULT_URL,
    TIMEOUT_AROUND_CALLS,
    bool_option,
    client_from_url,
    describe_client,
    number_option,
    split_url,
)
from sessionary_redis.operations import RedisOperations
from sessionary_redis.records import refuse_newer

__all__ = ["AsyncRedisStore"]

log = logging.getLogger("sessionary_redis")

T = TypeVar("T")

AsyncClient = redis.asyncio.Redis | AsyncRedisCluster


class _Bound:
    """One asyncio client (of one event loop) and the scripts registered on it.

    ``timeout`` is the bound the store puts around each call (seconds), or ``None``
    when the client bounds its calls itself.
    """

    def __init__(self, client: AsyncClient, timeout: float | None = None) -> None:
        self.client = client
        self.timeout = timeout
        self.scripts: dict[str, Any] = {
            name: client.register_script(source) for name, source in SCRIPTS.items()
        }
        self._loaded: set[str] = set()
        self._loading: asyncio.Lock | None = None

    async def run_script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script, loading it first (once per client) if this client has not yet.

        Without the load, many calls in flight on a fresh client would each find the
        script missing and load it (redis-py's async cluster client breaks its own
        connections doing that at once).
        """
        if name not in self._loaded:
            if self._loading is None:
                self._loading = asyncio.Lock()
            async with self._loading:
                if name not in self._loaded:
                    await self.client.script_load(SCRIPTS[name])
                    self._loaded.add(name)
        script = self.scripts[name]
        try:  # EVALSHA itself: redis-py's Script would copy the arguments twice more
            return await self.client.evalsha(script.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:  # the server lost it (restart, SCRIPT FLUSH)
            return await script(keys=keys, args=args)  # loads it again, then runs it


class AsyncRedisStore(RedisOperations, AsyncOperationStore):
    """Sessions in Redis, the store's contract as coroutines, on ``redis.asyncio``.

    Takes the same arguments and URL options as :class:`~sessionary_redis.RedisDb`
    (``prefix``, ``ttl``, ``retries``, ``retry_backoff``, ``socket_timeout``,
    ``cluster=true``) and reads and writes the same keys, so a session written by one
    is read by the other. ``client`` is an application's own ``redis.asyncio.Redis``
    or ``redis.asyncio.cluster.RedisCluster`` (never closed by the store). Also
    obtained as ``RedisDb(...).to_async()``. Construction does no I/O.

    >>> import asyncio
    >>> store = AsyncRedisStore("redis://127.0.0.1:6379/0", prefix="docs-async")
    >>> store.native, store.ttl
    (True, None)
    """

    name: ClassVar[str] = "redis"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )
    background_log: ClassVar[logging.Logger] = log

    def __init__(
        self,
        db_url: str | None = None,
        *,
        client: AsyncClient | None = None,
        prefix: str | None = None,
        ttl: float | None = None,
        retries: int | None = None,
        retry_backoff: float | None = None,
        socket_timeout: float = 5.0,
    ) -> None:
        options: dict[str, str] = {}
        self._given: _Bound | None = None
        self._spare: AsyncClient | None = None
        if client is not None:
            if db_url is not None:
                raise InvalidInputError("pass either db_url or client to AsyncRedisStore, not both")
            if not isinstance(client, (redis.asyncio.Redis, AsyncRedisCluster)):
                raise InvalidInputError(
                    "client must be a redis.asyncio.Redis or a redis.asyncio.cluster.RedisCluster, "
                    f"got {type(client).__name__}"
                )
            self._url = ""
            self._cluster = isinstance(client, AsyncRedisCluster)
            self._socket_timeout = socket_timeout
            self._given = _Bound(client)
            example = client
        else:
            self._url, options = split_url(DEFAULT_URL if db_url is None else db_url)
            self._socket_timeout = number_option(socket_timeout, "socket_timeout", minimum=0.001)
            self._cluster = bool_option(options, "cluster", False)
            example = self._new_client()
            self._spare = example  # no I/O yet: the first event loop to call takes it
        self._configure(
            example,
            options,
            is_cluster=self._cluster,
            server=describe_client(example),
            prefix=prefix,
            ttl=ttl,
            retries=retries,
            retry_backoff=retry_backoff,
        )
        self._clients = PerLoop(
            self._bind_client,
            given=self._given,
            given_name=f"the redis.asyncio client given to this AsyncRedisStore ({self.server})",
        )

    def __repr__(self) -> str:
        return f"AsyncRedisStore({self.server}, prefix={self.prefix!r}, ttl={self.ttl!r})"

    # ------------------------------------------------------------------ clients

    def _register_scripts(self, client: Any) -> None:
        """Scripts belong to a client here: each :class:`_Bound` registers its own."""

    def _new_client(self) -> AsyncClient:
        client: AsyncClient = client_from_url(
            self._url,
            cluster=self._cluster,
            socket_timeout=self._socket_timeout,
            use_asyncio=True,
            timeout_around_calls=self._timeout_around_calls,
        )
        return client

    @property
    def _timeout_around_calls(self) -> bool:
        """Whether this store bounds each call itself (see the module's docstring)."""
        return TIMEOUT_AROUND_CALLS and not self._cluster

    def _bind_client(self) -> _Bound:
        """A client for a loop's first call: the one made at construction, else a new one."""
        fresh, self._spare = self._spare or self._new_client(), None
        return _Bound(fresh, self._socket_timeout if self._timeout_around_calls else None)

    def _bound_here(self) -> _Bound:
        """The client for the running event loop (made on first use in that loop)."""
        return self._clients.here()

    async def _run(self, op: Op[T]) -> T:
        bound = self._bound_here()

        async def send(request: Request) -> Any:
            return await self._policy.acall(
                request.what,
                lambda attempt: self._perform(bound, request.build(attempt)),
                session_id=request.session_id,
                is_write=request.write,
            )

        return await drive_async(op, send)

    @staticmethod
    async def _perform(bound: _Bound, action: Action) -> Any:
        if sys.version_info >= (3, 11) and bound.timeout is not None:
            scope = asyncio.timeout(bound.timeout)
            try:
                async with scope:
                    return await AsyncRedisStore._act(bound, action)
            except TimeoutError as exc:
                if not scope.expired():
                    raise
                raise redis.exceptions.TimeoutError(
                    f"no reply within {bound.timeout:g} s (socket_timeout)"
                ) from exc
        return await AsyncRedisStore._act(bound, action)

    @staticmethod
    async def _act(bound: _Bound, action: Action) -> Any:
        client: Any = bound.client
        if isinstance(action, Pipeline):
            pipe = client.pipeline(transaction=False)
            for command in action.commands:
                getattr(pipe, command.method)(*command.args, **command.kwargs)
            return await pipe.execute(raise_on_error=action.raise_on_error)
        if isinstance(action, Command):
            return await getattr(client, action.method)(*action.args, **action.kwargs)
        return refuse_newer(await bound.run_script(action.name, action.keys, action.args))

    # ------------------------------------------------------------------ admin

    async def close(self) -> None:
        """Close the client this store made for the running event loop (never an application's).

        A store used in several event loops has a client in each: close it in each loop
        (clients of loops already closed are let go, as their connections cannot be
        closed from another loop). The store makes a new client if it is used again.
        """
        bound = self._clients.release_here()
        if bound is not None:
            await bound.client.aclose()
