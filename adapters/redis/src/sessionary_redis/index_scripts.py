"""The Lua scripts that do not work on one session's keys: cleaning an index entry, and
converting a session to the latest storage schema (``migrate``).

They skip the session prelude of :mod:`sessionary_redis.scripts` (its schema check would
refuse the very sessions ``MIGRATE`` converts).
"""

from __future__ import annotations

from sessionary_redis.scripts import STORE_SCHEMA

__all__ = ["FORGET_INDEX_ENTRY", "MIGRATE"]

#: KEYS: one index. ARGV: member, score. Removes a dangling entry unless it moved since.
FORGET_INDEX_ENTRY = """#!lua
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""


#: KEYS: session hash, runs list. ARGV: the version read, the schema read, last_run_at
#: ('' for none), paused runs. Fills the schema-2 summary fields of a session written by
#: schema 1, if it is still at the version (and schema) the values were computed from;
#: else ``moved`` (read it again). Never touches a session of a newer schema.
MIGRATE = (
    """#!lua
local h = KEYS[1]
if redis.call('TYPE', h)['ok'] ~= 'hash' then return {'gone'} end
local s = redis.call('HGET', h, 'schema')
if redis.call('HGET', h, 'version') ~= ARGV[1] or s ~= ARGV[2] then return {'moved'} end
if ARGV[3] ~= '' then redis.call('HSET', h, 'lra', ARGV[3]) end
redis.call('HSET', h, 'paused', ARGV[4], 'schema', '"""
    + str(STORE_SCHEMA)
    + """')
return {'ok', redis.call('HGET', h, 'created'), redis.call('HGET', h, 'idx') or ''}
"""
)
