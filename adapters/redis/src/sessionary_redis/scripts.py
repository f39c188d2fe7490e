"""The Lua scripts behind every write and every multi-key read.

Each script touches only the keys of one session (one hash slot in Redis Cluster),
runs atomically on the server, and costs one round trip. A script checks everything
before it writes anything (key types, owner, the session's schema, run ID, counters),
because Redis does not roll back a script that fails half-way. On a single server, the append script
also updates the listing indexes it is given as extra keys; in a cluster those live
in other slots and are updated in a second step (see ``docs/storage/redis.md``).

The session hash fields, in the order :data:`INFO_FIELDS` reads them back, are listed
in ``docs/storage/redis.md``.
"""

from __future__ import annotations

#: The storage schema this code writes in each session hash's ``schema`` field (the
#: Redis layout's own version, not the codec's). Version 2 (issue 19) added ``lra``
#: and ``paused`` and the ``xa:``/``xc:`` index families; ``migrate`` fills them.
STORE_SCHEMA = 2

__all__ = [
    "APPEND",
    "DELETE",
    "IMPORT",
    "INFO_FIELDS",
    "READ_RUN",
    "READ_SESSION",
    "REPLACE",
    "STORE_SCHEMA",
    "TRIM",
    "UPDATE_RUN",
    "UPDATE_SESSION",
]

#: The session hash fields that make a SessionInfo, in the order the scripts return them.
INFO_FIELDS: tuple[str, ...] = (
    "schema",
    "type",
    "user",
    "agent",
    "team",
    "name",
    "name_source",
    "state",
    "metadata",
    "created",
    "updated",
    "version",
    "runs",
    "in",
    "out",
    "status",
    "preview",
    "idx",
    "lra",
    "paused",
)

_FIELDS_LUA = "{" + ", ".join(f"'{f}'" for f in INFO_FIELDS) + "}"

# Shared preamble: key type checks and helpers. A wrong key type is reported, not hit.
_PRELUDE = f"""
local FIELDS = {_FIELDS_LUA}
local SCHEMA = {STORE_SCHEMA}
local function newer(h)
  local s = tonumber(redis.call('HGET', h, 'schema') or '')
  if s and s > SCHEMA then return {{'newer', tostring(s)}} end
  if s and s < SCHEMA then return {{'older', tostring(s)}} end
  return nil
end
local function key_types(h, l)
  local th = redis.call('TYPE', h)['ok']
  local tl = redis.call('TYPE', l)['ok']
  if (th ~= 'none' and th ~= 'hash') or (tl ~= 'none' and tl ~= 'list') then
    return nil, 'a session key has the wrong type (' .. th .. ', ' .. tl .. ')'
  end
  return th, tl
end
local function counters_ok(h)
  local c = redis.call('HMGET', h, 'version', 'runs', 'in', 'out', 'updated')
  for i = 1, 4 do
    if not c[i] or not string.match(c[i], '^%-?%d+$') then
      return 'summary field ' .. FIELDS[11 + i] .. ' is not an integer'
    end
  end
  if not c[5] or not tonumber(c[5]) then return 'summary field updated is not a number' end
  return nil
end
local function bump_updated(h, now)
  local old = redis.call('HGET', h, 'updated')
  if old and tonumber(old) > tonumber(now) then return old end
  redis.call('HSET', h, 'updated', now)
  return now
end
local function expire(ttl, ...)
  if ttl ~= '0' then
    for _, key in ipairs({{...}}) do redis.call('PEXPIRE', key, ttl) end
  end
end
local function index_of(h, seq)
  return tonumber(seq) - tonumber(redis.call('HGET', h, 'base') or '0')
end
local function info(h)
  return redis.call('HMGET', h, unpack(FIELDS))
end
local function index_all(first, n, scores, member, cutoff, ttl)
  for i = first, first + 3 * n - 1 do
    local family = math.floor((i - first) / n) + 1
    local how = scores[family][1]
    if how == '' then redis.call('ZADD', KEYS[i], scores[family][2], member)
    else redis.call('ZADD', KEYS[i], how, scores[family][2], member) end
    if family == 1 and cutoff ~= '' then redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', cutoff) end
    expire(ttl, KEYS[i])
  end
end
local function finish(h, l, now, ttl, op)
  bump_updated(h, now)
  redis.call('HSET', h, 'op', op)
  expire(ttl, h, l)
  return {{'ok', info(h)}}
end
"""


def _session_script(body: str, *, missing: str | None, read_only: bool = False) -> str:
    """A script on one session's keys: the prelude, the key checks, then ``body``.

    ``body`` starts with ``h``, ``l`` (the session hash and runs list, ``KEYS[1]`` and
    ``KEYS[2]``), ``a`` (``ARGV``) and ``th`` (the hash's type) set; a key of the wrong
    type has been answered ``corrupt`` and, when ``missing`` is given, a session that
    is not there with that reply. A ``read_only`` script is flagged ``no-writes``.
    """
    flags = " flags=no-writes" if read_only else ""
    absent = f"if th == 'none' then return {{'{missing}'}} end\n" if missing else ""
    return (
        f"#!lua{flags}\n{_PRELUDE}"
        "local h, l, a = KEYS[1], KEYS[2], ARGV\n"
        "local th, err = key_types(h, l)\n"
        "if not th then return {'corrupt', err} end\n"
        f"{absent}"
        "if th == 'hash' then local n = newer(h); if n then return n end end\n"
        f"{body}"
    )


#: KEYS: session hash, runs list, then (single server only) the indexes a new session
#: joins: its ``x:`` keys, then the same scopes' ``xa:`` keys, then ``xc:`` keys.
#: ARGV: now, run_id, run_json, user, type, agent, team, status, preview ('' or '=' ..
#: text), input_tokens, output_tokens, ttl_ms ('0' for none), idx (the
#: new session's index keys, newline-joined), member (raw session ID), cutoff ('' or
#: the score at or below which index entries have expired), schema, expected version
#: ('' for none; '0': the session must not exist).
#: Then the state text read and the state text to write ('' and '' for a run without
#: state changes; a state changed since it was read is answered 'state', current text),
#: and the run's number of messages (kept as ``m:<seq>`` for READ_MESSAGES).
APPEND = _session_script(
    """
local rf = 'r:' .. a[2]
if th == 'hash' then
  local owner = redis.call('HGET', h, 'user')
  if (owner or '') ~= a[4] then return {'owner'} end
  local pos = redis.call('HGET', h, rf)
  if pos then
    if redis.call('LINDEX', l, index_of(h, pos)) == a[3] then return {'same', 0, info(h)} end
    return {'duplicate'}
  end
  local bad = counters_ok(h)
  if bad then return {'corrupt', bad} end
  local v = redis.call('HGET', h, 'version')
  if a[17] ~= '' and v ~= a[17] then return {'stale', v} end
  if a[18] ~= '' then
    local cur = redis.call('HGET', h, 'state') or '{}'
    if cur ~= a[18] then return {'state', cur} end
  end
else
  if a[17] ~= '' and a[17] ~= '0' then return {'stale', 'none'} end
  if a[18] ~= '' and a[18] ~= '{}' then return {'state', '{}'} end
  redis.call('DEL', l)
  redis.call('HSET', h, 'schema', a[16], 'type', a[5], 'name', 'null', 'name_source', 'null',
    'state', '{}', 'metadata', '{}', 'created', a[1], 'updated', a[1], 'version', 0,
    'runs', 0, 'in', 0, 'out', 0, 'idx', a[13], 'paused', 0)
  if a[4] ~= '' then redis.call('HSET', h, 'user', a[4]) end
  if a[6] ~= '' then redis.call('HSET', h, 'agent', a[6]) end
  if a[7] ~= '' then redis.call('HSET', h, 'team', a[7]) end
end
local n = redis.call('RPUSH', l, a[3])
if a[18] ~= '' then redis.call('HSET', h, 'state', a[19]) end
local seq = n - 1 + tonumber(redis.call('HGET', h, 'base') or '0')
redis.call('HSET', h, rf, seq, 'm:' .. seq, a[20], 'status', a[8])
redis.call('HINCRBY', h, 'version', 1)
redis.call('HINCRBY', h, 'runs', 1)
redis.call('HINCRBY', h, 'in', a[10])
redis.call('HINCRBY', h, 'out', a[11])
if a[9] ~= '' then redis.call('HSET', h, 'preview', string.sub(a[9], 2)) end
if a[8] == 'paused' then redis.call('HINCRBY', h, 'paused', 1) end
local updated = bump_updated(h, a[1])
redis.call('HSET', h, 'lra', updated)
expire(a[12], h, l)
local indexed = 0
if #KEYS > 2 and redis.call('HGET', h, 'idx') == a[13] then
  local created = redis.call('HGET', h, 'created')
  index_all(3, (#KEYS - 2) / 3, {{'GT', updated}, {'GT', updated}, {'NX', created}},
    a[14], a[15], a[12])
  indexed = 1
end
return {'ok', indexed, info(h)}
""",
    missing=None,
)

#: KEYS: session hash, runs list. ARGV: user, n ('-1' for every run), before_run (''
#: for none: the last runs; else the runs stored before that run, ``norun`` if unknown).
#: Returns the session fields, the runs, and the list position of the first one.
READ_SESSION = _session_script(
    """
local fields = info(h)
if a[1] ~= '' and fields[3] ~= a[1] then return {'missing'} end
local n = tonumber(a[2])
local stop = redis.call('LLEN', l)
if a[3] ~= '' then
  local pos = redis.call('HGET', h, 'r:' .. a[3])
  if not pos then return {'norun'} end
  stop = index_of(h, pos)
end
local start = 0
if n >= 0 then start = math.max(0, stop - n) end
local runs = {}
if stop > start then runs = redis.call('LRANGE', l, start, stop - 1) end
return {'ok', fields, runs, start}
""",
    missing="missing",
    read_only=True,
)

#: KEYS: session hash, runs list. ARGV: user, run_id.
#: Returns the run's position, its JSON, the number of runs, and the session fields.
READ_RUN = _session_script(
    """
local fields = info(h)
if a[1] ~= '' and fields[3] ~= a[1] then return {'missing'} end
local pos = redis.call('HGET', h, 'r:' .. a[2])
if not pos then return {'norun', fields} end
local text = redis.call('LINDEX', l, index_of(h, pos))
if not text then return {'corrupt', 'run position ' .. pos .. ' is past the end of the runs'} end
return {'ok', fields, pos, text, redis.call('LLEN', l)}
""",
    missing="missing",
    read_only=True,
)

#: KEYS: session hash, runs list. ARGV: user, run_id, old_json, new_json, now, status,
#: preview ('' or '=' .. text), input delta, output delta, ttl_ms, op token, the
#: state text read and the state text to write (as for APPEND), then the change in
#: paused runs (-1, 0 or 1), then the run's number of messages. The run's continuation
#: is activity: ``lra`` moves.
UPDATE_RUN = _session_script(
    """
if redis.call('HGET', h, 'op') == a[11] then return {'ok', info(h)} end
local owner = redis.call('HGET', h, 'user')
if (owner or '') ~= a[1] then return {'owner'} end
local seq = redis.call('HGET', h, 'r:' .. a[2])
if not seq then return {'norun'} end
local pos = index_of(h, seq)
if redis.call('LINDEX', l, pos) ~= a[3] then return {'conflict'} end
local bad = counters_ok(h)
if bad then return {'corrupt', bad} end
if a[12] ~= '' then
  local cur = redis.call('HGET', h, 'state') or '{}'
  if cur ~= a[12] then return {'state', cur} end
  redis.call('HSET', h, 'state', a[13])
end
redis.call('LSET', l, pos, a[4])
redis.call('HSET', h, 'm:' .. seq, a[15])
redis.call('HINCRBY', h, 'version', 1)
redis.call('HINCRBY', h, 'in', a[8])
redis.call('HINCRBY', h, 'out', a[9])
if pos == redis.call('LLEN', l) - 1 then
  redis.call('HSET', h, 'status', a[6])
  if a[7] ~= '' then redis.call('HSET', h, 'preview', string.sub(a[7], 2)) end
end
redis.call('HINCRBY', h, 'paused', a[14])
redis.call('HSET', h, 'lra', bump_updated(h, a[5]))
return finish(h, l, a[5], a[10], a[11])
""",
    missing="norun",
)

#: KEYS: session hash, runs list. ARGV: user, expected version (''), now, ttl_ms, op
#: token, then field/value pairs (name, name_source, state, metadata as JSON).
UPDATE_SESSION = _session_script(
    """
if redis.call('HGET', h, 'op') == a[5] then return {'ok', info(h)} end
if a[1] ~= '' and redis.call('HGET', h, 'user') ~= a[1] then return {'missing'} end
local bad = counters_ok(h)
if bad then return {'corrupt', bad} end
local version = redis.call('HGET', h, 'version')
if a[2] ~= '' and version ~= a[2] then return {'conflict', version} end
for i = 6, #a, 2 do redis.call('HSET', h, a[i], a[i + 1]) end
redis.call('HINCRBY', h, 'version', 1)
return finish(h, l, a[3], a[4], a[5])
""",
    missing="missing",
)

#: KEYS: session hash, runs list. ARGV: user, keep_last, now, ttl_ms, expected version
#: ('' for none; another version answers ``conflict`` and deletes nothing).
#: Deletes the oldest runs; run positions are sequence numbers minus the hash's 'base',
#: so the runs kept are not renumbered. Returns how many went, and the session fields.
TRIM = _session_script(
    """
if a[1] ~= '' and redis.call('HGET', h, 'user') ~= a[1] then return {'missing'} end
local bad = counters_ok(h)
if bad then return {'corrupt', bad} end
local version = redis.call('HGET', h, 'version')
if a[5] ~= '' and version ~= a[5] then return {'conflict', version} end
local cut = redis.call('LLEN', l) - tonumber(a[2])
if cut <= 0 then return {'ok', 0, info(h)} end
local doomed = redis.call('LRANGE', l, 0, cut - 1)
local base = tonumber(redis.call('HGET', h, 'base') or '0')
local ids, tin, tout, tp = {}, 0, 0, 0
for i, raw in ipairs(doomed) do
  local ok, run = pcall(cjson.decode, raw)
  if not ok or type(run) ~= 'table' or type(run['run_id']) ~= 'string'
      or type(run['metrics']) ~= 'table' then
    return {'corrupt', 'run ' .. (i - 1) .. ' cannot be decoded'}
  end
  ids[#ids + 1] = 'r:' .. run['run_id']
  ids[#ids + 1] = 'm:' .. (base + i - 1)
  tin = tin + (tonumber(run['metrics']['input_tokens']) or 0)
  tout = tout + (tonumber(run['metrics']['output_tokens']) or 0)
  if run['status'] == 'paused' then tp = tp + 1 end
end
redis.call('LTRIM', l, cut, -1)
for i = 1, #ids, 1000 do redis.call('HDEL', h, unpack(ids, i, math.min(i + 999, #ids))) end
redis.call('HINCRBY', h, 'base', cut)
redis.call('HSET', h, 'runs', redis.call('LLEN', l))
redis.call('HINCRBY', h, 'in', string.format('%d', -tin))
redis.call('HINCRBY', h, 'out', string.format('%d', -tout))
redis.call('HINCRBY', h, 'paused', string.format('%d', -tp))
redis.call('HINCRBY', h, 'version', 1)
bump_updated(h, a[3])
expire(a[4], h, l)
return {'ok', cut, info(h)}
""",
    missing="missing",
)

#: KEYS: session hash, runs list, delete marker. ARGV: user, op token, expected version
#: ('' for none). Returns the deleted session's index keys and its last update, last
#: activity and creation (its scores in the three index families, so they are cleared
#: only of this session, not of one made again since), or
#: ``conflict`` and the stored
#: version when an expected version is given and not the stored one (nothing deleted).
#: The marker keeps the token for a minute, so a delete retried after a lost reply still
#: reports that it deleted the session.
DELETE = (
    "#!lua\n"
    + _PRELUDE
    + """
local h, l, d, a = KEYS[1], KEYS[2], KEYS[3], ARGV
local th = redis.call('TYPE', h)['ok']
if th == 'none' then
  redis.call('DEL', l)
  if redis.call('GET', d) == a[2] then return {'ok', ''} end
  return {'missing'}
end
local idx, updated, active, created = '', '', '', ''
if th == 'hash' then
  if a[1] ~= '' and redis.call('HGET', h, 'user') ~= a[1] then return {'missing'} end
  local n = newer(h)
  if n then return n end
  local version = redis.call('HGET', h, 'version') or ''
  if a[3] ~= '' and version ~= a[3] then return {'conflict', version} end
  idx = redis.call('HGET', h, 'idx') or ''
  updated = redis.call('HGET', h, 'updated') or ''
  created = redis.call('HGET', h, 'created') or ''
  active = redis.call('HGET', h, 'lra') or created
elseif a[1] ~= '' then
  return {'missing'}
elseif a[3] ~= '' then
  return {'conflict', ''}
end
redis.call('DEL', h, l)
redis.call('SET', d, a[2], 'PX', 60000)
return {'ok', idx, updated, active, created}
"""
)

#: KEYS: session hash, runs list, then (single server only) the session's index keys
#: (``x:``, then ``xa:``, then ``xc:`` keys, as for APPEND).
#: ARGV: replace ('0'/'1'), ttl_ms, member, updated, cutoff, activity, created (the
#: scores), number of field/value pairs, the pairs, then the runs' JSON in order.
#: Returns the index keys of the session it replaced ('' if none).
IMPORT = (
    "#!lua\n"
    + _PRELUDE
    + """
local h, l, a = KEYS[1], KEYS[2], ARGV
local th, err = key_types(h, l)
local old = ''
if th == 'hash' then
  if a[1] ~= '1' then return {'exists'} end
  local n = newer(h)
  if n then return n end
  old = redis.call('HGET', h, 'idx') or ''
elseif not th then
  if a[1] ~= '1' then return {'exists'} end
end
redis.call('DEL', h, l)
local npairs = tonumber(a[8])
local first, last = 9, 8 + 2 * npairs
for i = first, last, 1000 do
  redis.call('HSET', h, unpack(a, i, math.min(i + 999, last)))
end
for i = last + 1, #a, 1000 do
  redis.call('RPUSH', l, unpack(a, i, math.min(i + 999, #a)))
end
expire(a[2], h, l)
if #KEYS > 2 then
  index_all(3, (#KEYS - 2) / 3, {{'', a[4]}, {'', a[6]}, {'', a[7]}}, a[3], a[5], a[2])
end
return {'ok', old}
"""
)

#: KEYS: session hash, runs list. ARGV: user, the version the caller read, count, now,
#: ttl_ms, run_count, input and output tokens, last status ('' for none), preview (''
#: or '=' .. text), last_run_at ('' for none), paused runs, the number of removed run
#: IDs, those IDs, then ID, JSON and number of messages of each new run. Replaces the
#: last ``count`` runs if the session is still at that version.
REPLACE = _session_script(
    """
if a[1] ~= '' and redis.call('HGET', h, 'user') ~= a[1] then return {'missing'} end
local bad = counters_ok(h)
if bad then return {'corrupt', bad} end
local version = redis.call('HGET', h, 'version')
if version ~= a[2] then return {'conflict', version} end
local count, len = tonumber(a[3]), redis.call('LLEN', l)
if count > len then return {'conflict', version} end
local gone, removed = tonumber(a[13]), {}
for i = 14, 13 + gone do removed[a[i]] = true end
for i = 14 + gone, #a, 3 do
  if redis.call('HEXISTS', h, 'r:' .. a[i]) == 1 and not removed[a[i]] then
    return {'duplicate', a[i]}
  end
end
local cut = len - count
if cut == 0 then redis.call('DEL', l) else redis.call('LTRIM', l, 0, cut - 1) end
for i = 14, 13 + gone do redis.call('HDEL', h, 'r:' .. a[i]) end
local pos = cut + tonumber(redis.call('HGET', h, 'base') or '0')
for i = pos, pos + count - 1 do redis.call('HDEL', h, 'm:' .. i) end
for i = 14 + gone, #a, 3 do
  redis.call('RPUSH', l, a[i + 1])
  redis.call('HSET', h, 'r:' .. a[i], pos, 'm:' .. pos, a[i + 2])
  pos = pos + 1
end
redis.call('HSET', h, 'runs', a[6], 'in', a[7], 'out', a[8], 'paused', a[12])
if a[11] == '' then redis.call('HDEL', h, 'lra') else redis.call('HSET', h, 'lra', a[11]) end
if a[9] == '' then redis.call('HDEL', h, 'status') else redis.call('HSET', h, 'status', a[9]) end
if a[10] == '' then redis.call('HDEL', h, 'preview')
else redis.call('HSET', h, 'preview', string.sub(a[10], 2)) end
redis.call('HINCRBY', h, 'version', 1)
bump_updated(h, a[4])
expire(a[5], h, l)
return {'ok', info(h)}
""",
    missing="missing",
)
