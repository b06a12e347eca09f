-- Inbox settle: how an attempt ends (done, a retry, dead), if the token
-- still holds the event (and, for done, its lease still runs).
-- KEYS: P:ev:<id>, P:stream, the target set (P:done, P:delayed or P:dead).
-- ARGV: token, now (ms), group, id, new state, score, error, lease check
-- (1/0), keep the body of a done event (1/0).
-- Answers 1 when settled, 0 when the token or the lease no longer holds.
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
if ARGV[8] == '1' and (tonumber(redis.call('HGET', KEYS[1], 'due_at')) or 0) <= tonumber(ARGV[2]) then return 0 end
local entry = redis.call('HGET', KEYS[1], 'entry')
if entry then
  redis.call('XACK', KEYS[2], ARGV[3], entry)
  redis.call('XDEL', KEYS[2], entry)
end
redis.call('HSET', KEYS[1], 'state', ARGV[5], 'token', '', 'last_error', ARGV[7])
if ARGV[5] == 'pending' then
  redis.call('HSET', KEYS[1], 'due_at', ARGV[6])
else
  redis.call('HSET', KEYS[1], 'finished_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'due_at')
  if ARGV[5] == 'done' and ARGV[9] ~= '1' then redis.call('HDEL', KEYS[1], 'body', 'headers') end
end
redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
return 1
