"""The Lua scripts a node runs in Redis: each chat operation is one atomic script.

Every script gets the key prefix (``chat:CLUSTER-NAME:``) as ``ARGV[1]``.  Keys under it:

``guest`` (INCR: guest numbers) · ``seq`` (INCR: join order in ``/who``) ·
``n:NICK`` (nick lease, lower case: the owner node's id) · ``node:ID`` (the node's
lease, ``PX``) · ``nodes`` (set of node ids) · ``m:ID`` (hash: the node's members,
lower-case nick -> ``Nick roomkey``) · ``reaped:ID`` (tombstone: the node's members were
parted) · ``rooms`` (hash: room key -> name, the rooms that exist) · ``r:KEY:log`` (the
room's stream) · ``r:KEY:who`` (sorted set of its members' nicks, in join order) ·
``r:KEY:at`` (hash: node id -> the id of an entry that node has read, reported when it
starts reading and every thousand lines, at most ten times a second) ·
``r:KEY:hist`` (list of its last MSG/ACTION lines as ``ID LINES``: one element per
batch of lines, see ``SAY``) · ``i:ID`` (the node's inbox stream: private messages and
wake-ups).

A room's stream entry carries one or more lines, always with its fields in this order:
``n`` (the room's number of its last line, from ``r:KEY:n``), ``c`` (how many numbers it
took: its lines, at least 1; a reader that sees ``n - c`` jump past the last number it read
knows it has missed lines), ``o`` (a members-list update: ``+NICK``, ``-NICK``,
``>OLD NEW`` or empty), then one or more ``s``/``d`` pairs: ``s`` the sender's connection
id (or empty: the lines go to everyone in the room, the sender included), ``d`` its lines
(whole lines; empty for an entry that only updates the members list).  The lines a node's
members say in one reactor turn go to a room as one entry, one ``s``/``d`` pair per run of
lines from one sender.
"""

from __future__ import annotations

__all__ = ["ALL", "BEAT", "CONNECT", "MOVE", "PRIV", "QUIT", "REAP", "REASSERT", "RENAME", "ROOMS",
           "SAY", "SNAPSHOT"]

#: A room's stream keeps the entries of the last minute; past ``maxlen`` lines, those every
#: node reading the room has read (``r:KEY:at``) go, and past ``HARD_FACTOR * maxlen`` the
#: oldest go whoever has read them: a node that falls behind by less than that loses nothing.
KEEP_SECONDS = 60
HARD_FACTOR = 5

_PRELUDE = f"""
local P = ARGV[1]
local KEEP_MS = {KEEP_SECONDS * 1000}
local HARD = {HARD_FACTOR}
""" + """
local function lower(s) return string.lower(s) end
local function oldest(ids)
  local best, bms, bseq = false, 0, 0
  for _, id in ipairs(ids) do
    local dash = string.find(id, '-', 1, true)
    local ms, seq = tonumber(string.sub(id, 1, dash - 1)), tonumber(string.sub(id, dash + 1))
    if not best or ms < bms or (ms == bms and seq < bseq) then best, bms, bseq = id, ms, seq end
  end
  return best
end
local function append(rk, maxlen, count, op, segs)
  local log = P..'r:'..rk..':log'
  local now = redis.call('TIME')
  local keep = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - KEEP_MS
  local n = redis.call('INCRBY', P..'r:'..rk..':n', count)
  local fields = {'n', n, 'c', count, 'o', op}
  for i = 1, #segs, 2 do
    local k = #fields
    fields[k + 1], fields[k + 2], fields[k + 3], fields[k + 4] = 's', segs[i], 'd', segs[i + 1]
  end
  local id = redis.call('XADD', log, 'MINID', '~', keep, '*', unpack(fields))
  maxlen = tonumber(maxlen)
  local every = math.max(1, math.floor(maxlen / 20))  -- (looked at every maxlen/20 lines)
  if n > maxlen and math.floor(n / every) > math.floor((n - count) / every) then
    -- past maxlen lines (the oldest entry says how many there are) ...
    local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)[1][2]
    local lines = n - (tonumber(first[2]) or n) + (tonumber(first[4]) or maxlen + 1)
    if lines > maxlen then
      local slowest = oldest(redis.call('HVALS', P..'r:'..rk..':at'))
      if slowest and lines <= HARD * maxlen then  -- ... drop what every reader has read
        redis.call('XTRIM', log, 'MINID', '~', slowest)
      else  -- ... or keep about maxlen lines
        local entries = redis.call('XLEN', log)
        redis.call('XTRIM', log, 'MAXLEN', '~', math.floor(entries * maxlen / lines))
      end
    end
  end
  return id, n
end
local function xadd(rk, maxlen, s, d, o)
  return (append(rk, maxlen, 1, o, {s, d}))
end
local function guest(node)
  while true do
    local nick = 'guest'..redis.call('INCR', P..'guest')
    if redis.call('SET', P..'n:'..nick, node, 'NX') then return nick end
  end
end
local function enter(node, nick, rk, rname, cid, maxlen, histn, line)
  redis.call('HSETNX', P..'rooms', rk, rname)
  local name = redis.call('HGET', P..'rooms', rk)
  local id = xadd(rk, maxlen, cid, line, '+'..nick)
  redis.call('ZADD', P..'r:'..rk..':who', redis.call('INCR', P..'seq'), nick)
  redis.call('HSET', P..'m:'..node, lower(nick), nick..' '..rk)
  local hist = {}
  if histn > 0 then hist = redis.call('LRANGE', P..'r:'..rk..':hist', -histn, -1) end
  return {nick, name, id, redis.call('ZRANGE', P..'r:'..rk..':who', 0, -1), hist}
end
local function part(nick, rk, cid, maxlen, line, default)
  local id = xadd(rk, maxlen, cid, line, '-'..nick)
  local who = P..'r:'..rk..':who'
  redis.call('ZREM', who, nick)
  if rk ~= default and redis.call('ZCARD', who) == 0
      and redis.call('EXISTS', P..'r:'..rk..':hist') == 0 then
    redis.call('HDEL', P..'rooms', rk)
    redis.call('DEL', P..'r:'..rk..':log', P..'r:'..rk..':n', P..'r:'..rk..':at')
  end
  return id
end
local function release(node, nick)
  redis.call('HDEL', P..'m:'..node, lower(nick))
  local key = P..'n:'..lower(nick)
  if redis.call('GET', key) == node then redis.call('DEL', key) end
end
"""

#: ARGV: P node roomkey roomname cid maxlen histn -> {nick, roomname, id, who, hist}
CONNECT = _PRELUDE + """
local node = ARGV[2]
local nick = guest(node)
return enter(node, nick, ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]),
             'JOIN '..nick..'\\n')
"""

#: ARGV: P node nick oldkey newkey newname cid maxlen histn maxrooms default
#: -> false (max-rooms) or as CONNECT
MOVE = _PRELUDE + """
local node, nick, newkey = ARGV[2], ARGV[3], ARGV[5]
if redis.call('HEXISTS', P..'rooms', newkey) == 0
    and redis.call('HLEN', P..'rooms') >= tonumber(ARGV[10]) then
  return false
end
part(nick, ARGV[4], ARGV[7], ARGV[8], 'PART '..nick..' moved\\n', ARGV[11])
return enter(node, nick, newkey, ARGV[6], ARGV[7], ARGV[8], tonumber(ARGV[9]),
             'JOIN '..nick..'\\n')
"""

#: ARGV: P node nick roomkey cid maxlen line default -> id
QUIT = _PRELUDE + """
local id = part(ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
release(ARGV[2], ARGV[3])
return id
"""

#: ARGV: P node old new roomkey maxlen -> false (nick in use) or id
RENAME = _PRELUDE + """
local node, old, new, rk = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if lower(old) ~= lower(new) then
  if not redis.call('SET', P..'n:'..lower(new), node, 'NX') then return false end
  release(node, old)
end
redis.call('HSET', P..'m:'..node, lower(new), new..' '..rk)
local who = P..'r:'..rk..':who'
redis.call('ZREM', who, old)
redis.call('ZADD', who, redis.call('INCR', P..'seq'), new)
return xadd(rk, ARGV[6], '', 'NICK '..old..' '..new..'\\n', '>'..old..' '..new)
"""

#: ARGV: P maxlen histn then, for each batch: roomkey, lines, pairs, tail, then ``pairs``
#: times (cid, lines): one stream entry per batch, and one history element ``ID LINES``
#: (``tail``: the batch's last ``histn`` lines, or empty when that is the whole batch)
#: -> the room's number of each batch's last line
SAY = _PRELUDE + """
local maxlen, histn = ARGV[2], tonumber(ARGV[3])
local numbers = {}
local i = 4
while i <= #ARGV do
  local rk, count, pairs, tail = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]),
                                  ARGV[i + 3]
  local segs = {}
  for j = 1, 2 * pairs do segs[j] = ARGV[i + 3 + j] end
  local id, n = append(rk, maxlen, count, '', segs)
  numbers[#numbers + 1] = n
  if histn > 0 then
    if tail == '' then
      local parts = {}
      for j = 2, #segs, 2 do parts[#parts + 1] = segs[j] end
      tail = table.concat(parts)
    end
    local hist = P..'r:'..rk..':hist'
    redis.call('RPUSH', hist, id..' '..tail)
    redis.call('LTRIM', hist, -histn, -1)
  end
  i = i + 4 + 2 * pairs
end
return numbers
"""

#: ARGV: P target-nick-lower line -> false (no such nick) or 1
PRIV = _PRELUDE + """
local node = redis.call('GET', P..'n:'..ARGV[2])
if not node then return false end
redis.call('XADD', P..'i:'..node, 'MAXLEN', '~', 10000, '*', 't', ARGV[2], 'd', ARGV[3])
return 1
"""

#: ARGV: P -> {name, count, name, count, ...} for every room with members
ROOMS = _PRELUDE + """
local out = {}
local rooms = redis.call('HGETALL', P..'rooms')
for i = 1, #rooms, 2 do
  local n = redis.call('ZCARD', P..'r:'..rooms[i]..':who')
  if n > 0 then
    out[#out + 1] = rooms[i + 1]
    out[#out + 1] = n
  end
end
return out
"""

#: ARGV: P node lease-ms -> 0 (lease held), 1 (lease new: first start or store emptied),
#: 2 (the node was declared dead and its members parted)
BEAT = _PRELUDE + """
local node = ARGV[2]
local prev = redis.call('SET', P..'node:'..node, '1', 'PX', ARGV[3], 'GET')
redis.call('SADD', P..'nodes', node)
if prev then return 0 end
if redis.call('DEL', P..'reaped:'..node) == 1 then return 2 end
return 1
"""

#: ARGV: P node maxlen default -> how many members of dead nodes were parted
REAP = _PRELUDE + """
local count = 0
for _, dead in ipairs(redis.call('SMEMBERS', P..'nodes')) do
  if dead ~= ARGV[2] and redis.call('EXISTS', P..'node:'..dead) == 0 then
    local members = redis.call('HGETALL', P..'m:'..dead)
    for i = 1, #members, 2 do
      local sp = string.find(members[i + 1], ' ', 1, true)
      local nick, rk = string.sub(members[i + 1], 1, sp - 1), string.sub(members[i + 1], sp + 1)
      part(nick, rk, '', ARGV[3], 'PART '..nick..' disconnected\\n', ARGV[4])
      redis.call('HDEL', P..'r:'..rk..':at', dead)
      local key = P..'n:'..members[i]
      if redis.call('GET', key) == dead then redis.call('DEL', key) end
      count = count + 1
    end
    redis.call('DEL', P..'m:'..dead)
    redis.call('SREM', P..'nodes', dead)
    redis.call('SET', P..'reaped:'..dead, '1', 'PX', 3600000)
  end
end
return count
"""

#: ARGV: P node nick roomkey roomname cid maxlen announce(0/1)
#: -> {nick (a guest nick if NICK was taken meanwhile), id or false}
REASSERT = _PRELUDE + """
local node, nick, rk, cid, maxlen = ARGV[2], ARGV[3], ARGV[4], ARGV[6], ARGV[7]
local key = P..'n:'..lower(nick)
local holder = redis.call('GET', key)
redis.call('HSETNX', P..'rooms', rk, ARGV[5])
local who = P..'r:'..rk..':who'
if holder and holder ~= node then
  local new = guest(node)
  redis.call('HSET', P..'m:'..node, lower(new), new..' '..rk)
  redis.call('ZADD', who, redis.call('INCR', P..'seq'), new)
  return {new, xadd(rk, maxlen, '', 'NICK '..nick..' '..new..'\\n', '+'..new)}
end
redis.call('SET', key, node)
redis.call('HSET', P..'m:'..node, lower(nick), nick..' '..rk)
if redis.call('ZSCORE', who, nick) then return {nick, false} end
redis.call('ZADD', who, redis.call('INCR', P..'seq'), nick)
local line = ''
if ARGV[8] == '1' then line = 'JOIN '..nick..'\\n' end
return {nick, xadd(rk, maxlen, cid, line, '+'..nick)}
"""

#: ARGV: P roomkey -> {last id or false, who}
SNAPSHOT = _PRELUDE + """
local log = P..'r:'..ARGV[2]..':log'
local last = false
local newest = redis.call('XREVRANGE', log, '+', '-', 'COUNT', 1)
if #newest > 0 then last = newest[1][1] end
return {last, redis.call('ZRANGE', P..'r:'..ARGV[2]..':who', 0, -1)}
"""

#: Every script, loaded on each new connection before it is used.
ALL = (CONNECT, MOVE, QUIT, RENAME, SAY, PRIV, ROOMS, BEAT, REAP, REASSERT, SNAPSHOT)
