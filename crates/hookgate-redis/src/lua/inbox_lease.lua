-- Inbox lease: nothing while paused; due retries move into the stream,
-- expired leases are taken back (XAUTOCLAIM), new entries are read
-- (XREADGROUP); each event still pending or leased gets the next token, the
-- other entries are acknowledged and deleted.
-- KEYS: P:stream, P:delayed, P:paused.
-- ARGV: prefix P, group, consumer, now (ms), lease (ms), max, then max tokens.
-- Answers rows {id, token, attempt, scheme, body, interrupted (1/0), headers,
-- tenant ('' for none, and for events stored before tenants were kept)}.
if redis.call('GET', KEYS[3]) == '1' then return {} end
local now = tonumber(ARGV[4])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, id in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'ev', id)
  redis.call('ZREM', KEYS[2], id)
end
local max = tonumber(ARGV[6])
local entries = {}
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[2], ARGV[3], ARGV[5], '0-0', 'COUNT', max)
for _, e in ipairs(claimed[2]) do if e then table.insert(entries, e) end end
if #entries < max then
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', max - #entries, 'STREAMS', KEYS[1], '>')
  if r then for _, e in ipairs(r[1][2]) do table.insert(entries, e) end end
end
local out = {}
for _, e in ipairs(entries) do
  local entry, id = e[1], e[2][2]
  local ev = ARGV[1] .. ':ev:' .. id
  local state = redis.call('HGET', ev, 'state')
  if (state == 'pending' or state == 'leased') and #out < max then
    local token = ARGV[7 + #out]
    local attempts = redis.call('HINCRBY', ev, 'attempts', 1)
    redis.call('HSET', ev, 'state', 'leased', 'token', token, 'due_at', now + tonumber(ARGV[5]), 'entry', entry)
    table.insert(out, {id, token, attempts, redis.call('HGET', ev, 'scheme'), redis.call('HGET', ev, 'body'),
      state == 'leased' and 1 or 0, redis.call('HGET', ev, 'headers') or '', redis.call('HGET', ev, 'tenant') or ''})
  else
    redis.call('XACK', KEYS[1], ARGV[2], entry)
    redis.call('XDEL', KEYS[1], entry)
  end
end
return out
