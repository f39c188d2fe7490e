"""The Lua scripts that skip the session prelude of :mod:`sessionary_redis.scripts`:
cleaning an index entry and converting a session to the latest storage schema
(``migrate``), which do not work on one session's keys (and the prelude's schema check
would refuse the very sessions ``MIGRATE`` converts); and the message-level tail read,
the hottest read of all, which checks only what it must.
"""

from __future__ import annotations

from sessionary_redis.scripts import STORE_SCHEMA

__all__ = ["FORGET_INDEX_ENTRY", "MIGRATE", "READ_MESSAGES"]

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


#: KEYS: session hash, runs list. ARGV: user, last_n ('-1' for every message), exact
#: ('1': count every run's messages with cjson, not trusting the recorded counts).
#: Returns ``ok``, the list position of the first run returned, and the fewest last
#: runs that hold the last ``last_n`` messages, oldest first. A run's message count is
#: its ``m:<seq>`` field, written with the run; where that is missing, the run is
#: counted with cjson (a run that cannot be decoded counts none, and is returned for
#: the caller to report). The hottest read of all, so it does only what it must: the
#: owner and schema checks, one ``HGET`` per run, and the runs; a key of the wrong type
#: fails the script with Redis's ``WRONGTYPE`` error (a corrupt record of the session).
READ_MESSAGES = f"""#!lua flags=no-writes
local h, l, a = KEYS[1], KEYS[2], ARGV
local owner, schema, base = unpack(redis.call('HMGET', h, 'user', 'schema', 'base'))
if not schema then
  if redis.call('EXISTS', h) == 0 then return {{'missing'}} end
  return {{'corrupt', 'the session has no schema version'}}
end
local stamp = tonumber(schema)
if not stamp then return {{'corrupt', 'the schema version is not a number'}} end
if stamp > {STORE_SCHEMA} then return {{'newer', schema}} end
if stamp < {STORE_SCHEMA} then return {{'older', schema}} end
if a[1] ~= '' and owner ~= a[1] then return {{'missing'}} end
base = tonumber(base or '0')
local len = redis.call('LLEN', l)
local need, exact = tonumber(a[2]), a[3] == '1'
local start = len
if need < 0 then start = 0 end
while start > 0 and need > 0 do
  start = start - 1
  local c = not exact and redis.call('HGET', h, string.format('m:%d', base + start))
  c = tonumber(c or '')
  if not c then
    local ok, run = pcall(cjson.decode, redis.call('LINDEX', l, start))
    c = 0
    if ok and type(run) == 'table' and type(run['messages']) == 'table' then
      c = #run['messages']
    end
  end
  need = need - c
end
if start == len then return {{'ok', start, {{}}}} end
return {{'ok', start, redis.call('LRANGE', l, start, len - 1)}}
"""
