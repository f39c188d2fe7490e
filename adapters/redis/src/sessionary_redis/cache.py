"""``RedisSessionCache``: a session cache shared by every process that points at one Redis.

Each cached session is a hash (its summary, its owner and session IDs, its version)
and a list (its runs, encoded by the core codec), keyed by a digest of
``(user_id, session_id)`` in one hash slot, so IDs are data and never syntax and
the cache works on a cluster. Version-guarded writes (:meth:`RedisSessionCache.put`,
:meth:`RedisSessionCache.append`) are Lua scripts, atomic on the server. Entries
expire ``ttl`` seconds after their last use, and a session larger than
``max_entry_bytes`` is not cached.

Like every cache, it is never trusted blindly: the caching store checks an entry
against the store's version before using it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any, ClassVar

import redis
from redis.cluster import RedisCluster

from sessionary.caching.base import CacheStats, SessionCache
from sessionary.codec import (
    CodecError,
    decode_run,
    decode_session_info,
    encode_run,
    encode_session_info,
)
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import InvalidInputError
from sessionary_redis.connection import DEFAULT_URL, client_from_url, describe_client, split_url

__all__ = ["RedisSessionCache"]

_TRUE = ("1", "true", "yes", "on")

# KEYS: meta, runs. ARGV: ids, info, version, created, ttl_ms, max_bytes, bytes, runs...
_PUT = """
local cur = redis.call('HMGET', KEYS[1], 'version', 'created', 'ids')
if cur[1] and cur[2] == ARGV[4] and cur[3] == ARGV[1]
   and tonumber(cur[1]) > tonumber(ARGV[3]) then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
if tonumber(ARGV[7]) > tonumber(ARGV[6]) then
  return -1
end
redis.call('HSET', KEYS[1], 'ids', ARGV[1], 'info', ARGV[2], 'version', ARGV[3],
           'created', ARGV[4], 'bytes', ARGV[7])
for i = 8, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"""

# KEYS: meta, runs. ARGV: ids, info, version, created, ttl_ms, max_bytes, run, run_count
_APPEND = """
local function keep(bytes)
  redis.call('HSET', KEYS[1], 'ids', ARGV[1], 'info', ARGV[2], 'version', ARGV[3],
             'created', ARGV[4], 'bytes', bytes)
  redis.call('RPUSH', KEYS[2], ARGV[7])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  return 1
end
local size = string.len(ARGV[7])
if tonumber(ARGV[8]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  if size + string.len(ARGV[2]) > tonumber(ARGV[6]) then return -1 end
  return keep(size + string.len(ARGV[2]))
end
local cur = redis.call('HMGET', KEYS[1], 'version', 'created', 'ids', 'bytes')
if cur[1] and cur[2] == ARGV[4] and cur[3] == ARGV[1]
   and tonumber(cur[1]) + 1 == tonumber(ARGV[3])
   and redis.call('LLEN', KEYS[2]) + 1 == tonumber(ARGV[8]) then
  local bytes = tonumber(cur[4]) + size
  if bytes > tonumber(ARGV[6]) then
    redis.call('DEL', KEYS[1], KEYS[2])
    return -1
  end
  return keep(bytes)
end
redis.call('DEL', KEYS[1], KEYS[2])
return 0
"""


# KEYS: meta, runs. ARGV: ttl_ms, count (-1: every run). Returns ids, info, length, runs.
_READ = """
local meta = redis.call('HMGET', KEYS[1], 'ids', 'info')
if not meta[2] then
  return {}
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
local count = tonumber(ARGV[2])
local runs = {}
if count < 0 then
  runs = redis.call('LRANGE', KEYS[2], 0, -1)
elseif count > 0 then
  runs = redis.call('LRANGE', KEYS[2], -count, -1)
end
return {meta[1] or '', meta[2], redis.call('LLEN', KEYS[2]), runs}
"""


class RedisSessionCache(SessionCache):
    """Sessions cached in Redis, shared between processes.

    ``url`` is a ``redis://``, ``rediss://`` or ``unix://`` URL (``prefix``, ``ttl``
    and ``cluster`` may ride along as query parameters), or pass an application's own
    ``client``. Use one ``prefix`` per store: entries are keyed by user and session,
    not by store.

    >>> cache = RedisSessionCache("redis://127.0.0.1:6379/0", prefix="docs-cache", ttl=600)
    >>> cache.ttl
    600.0
    """

    name: ClassVar[str] = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.Redis | RedisCluster | None = None,
        prefix: str | None = None,
        ttl: float | None = None,
        max_entry_bytes: int = 16 * 1024 * 1024,
        socket_timeout: float = 2.0,
    ) -> None:
        super().__init__()
        options: dict[str, str] = {}
        if client is not None:
            if url is not None:
                raise InvalidInputError("pass either url or client to RedisSessionCache")
            if not isinstance(client, (redis.Redis, RedisCluster)):
                raise InvalidInputError(
                    "client must be a redis.Redis or a redis.cluster.RedisCluster, "
                    f"got {type(client).__name__}"
                )
            self._owns_client = False
        else:
            plain, options = split_url(DEFAULT_URL if url is None else url)
            cluster = options.get("cluster", "").lower() in _TRUE
            client = client_from_url(plain, cluster=cluster, socket_timeout=socket_timeout)
            self._owns_client = True
        self.client: redis.Redis | RedisCluster = client
        self.prefix = prefix if prefix is not None else options.get("prefix", "sessionary-cache")
        if not isinstance(self.prefix, str) or not self.prefix:
            raise InvalidInputError("prefix must be a non-empty str")
        raw_ttl: Any = ttl if ttl is not None else options.get("ttl", 3600)
        try:
            self.ttl = float(raw_ttl)
        except (TypeError, ValueError):
            raise InvalidInputError(f"ttl must be a number of seconds, got {raw_ttl!r}") from None
        if not 0.001 <= self.ttl <= 365 * 86400:
            raise InvalidInputError(f"ttl must be from 0.001 s to a year, got {raw_ttl!r}")
        if (
            not isinstance(max_entry_bytes, int)
            or isinstance(max_entry_bytes, bool)
            or max_entry_bytes < 1
        ):
            raise InvalidInputError(
                f"max_entry_bytes must be a positive int, got {max_entry_bytes!r}"
            )
        self.max_entry_bytes = max_entry_bytes
        self._ttl_ms = max(1, round(self.ttl * 1000))
        self.server = describe_client(client)
        self._put = client.register_script(_PUT)
        self._append = client.register_script(_APPEND)
        self._read = client.register_script(_READ)
        self._lock = threading.Lock()
        self._evictions = 0

    @classmethod
    def from_url(cls, url: str) -> RedisSessionCache:
        """``redis://host:6379/0?prefix=app-cache&ttl=600`` and the like."""
        return cls(url)

    def __repr__(self) -> str:
        return f"RedisSessionCache({self.server}, prefix={self.prefix!r}, ttl={self.ttl!r})"

    # ------------------------------------------------------------------ keys

    def _keys(self, user_id: str | None, session_id: str) -> tuple[list[str], str]:
        ids = json.dumps([user_id, session_id], ensure_ascii=False, separators=(",", ":"))
        digest = hashlib.sha256(ids.encode()).hexdigest()[:40]
        base = f"{self.prefix}:{{{digest}}}"
        return [f"{base}:meta", f"{base}:runs"], ids

    # ------------------------------------------------------------------ contract

    def get(
        self, user_id: str | None, session_id: str, *, last_n_runs: int | None = None
    ) -> Session | None:
        """The cached session (its last ``last_n_runs`` runs if given), or ``None``."""
        keys, ids = self._keys(user_id, session_id)
        count = -1 if last_n_runs is None else last_n_runs
        reply = self._read(keys=keys, args=[self._ttl_ms, count])
        if not reply:
            return None
        stored_ids, info_text, length, runs = reply
        try:
            if _text(stored_ids) != ids:
                raise CodecError("entry belongs to another key")  # a digest collision
            info = decode_session_info(json.loads(info_text))
            decoded = [decode_run(json.loads(r)) for r in runs]
        except (CodecError, ValueError, TypeError):
            self.invalidate(user_id, session_id)  # a damaged entry is a miss, never an error
            return None
        wanted = info.run_count if last_n_runs is None else min(last_n_runs, info.run_count)
        if int(length) != info.run_count or len(decoded) != wanted:
            self.invalidate(user_id, session_id)  # a partial entry: expired list, damage
            return None
        return Session.from_info(info, decoded)

    def put(self, user_id: str | None, session: Session) -> bool:
        """Keep ``session`` unless a newer version is cached; ``False`` if too large."""
        keys, ids = self._keys(user_id, session.session_id)
        info = _dump(encode_session_info(session.info))
        runs = [_dump(encode_run(run)) for run in session.runs]
        size = len(info) + sum(len(r) for r in runs)
        result = self._put(
            keys=keys,
            args=[
                ids,
                info,
                session.version,
                repr(session.created_at),
                self._ttl_ms,
                self.max_entry_bytes,
                size,
                *runs,
            ],
        )
        return self._outcome(result)

    def append(self, user_id: str | None, run: Run, info: SessionInfo) -> bool:
        """Extend the entry by ``run`` atomically if it is exactly one write behind ``info``."""
        keys, ids = self._keys(user_id, info.session_id)
        result = self._append(
            keys=keys,
            args=[
                ids,
                _dump(encode_session_info(info)),
                info.version,
                repr(info.created_at),
                self._ttl_ms,
                self.max_entry_bytes,
                _dump(encode_run(run)),
                info.run_count,
            ],
        )
        return self._outcome(result)

    def invalidate(self, user_id: str | None, session_id: str) -> None:
        """Forget the session under that key."""
        keys, _ = self._keys(user_id, session_id)
        self.client.delete(*keys)

    def clear(self) -> None:
        """Forget every session under this cache's prefix (and nothing else)."""
        pattern = _glob_escape(self.prefix) + ":{*}:*"
        batch: list[Any] = []
        for key in self.client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                self._delete_each(batch)
                batch = []
        if batch:
            self._delete_each(batch)

    def stats(self) -> CacheStats:
        """Sessions this process did not cache because they were over ``max_entry_bytes``."""
        return CacheStats(evictions=self._evictions)

    def close(self) -> None:
        """Close the connection pool, if this cache made the client."""
        if self._owns_client:
            self.client.close()

    # ------------------------------------------------------------------ internals

    def _outcome(self, result: Any) -> bool:
        if int(result) == -1:
            with self._lock:
                self._evictions += 1
        return int(result) == 1

    def _delete_each(self, keys: list[Any]) -> None:
        # One key per DEL: keys of different entries live in different cluster slots.
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.delete(key)
        pipe.execute()


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if value is None or isinstance(value, str) else str(value)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)
