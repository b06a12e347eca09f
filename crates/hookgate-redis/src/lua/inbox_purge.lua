-- Inbox purge: delete the events of a set (P:dead or P:done) that finished
-- before a time, with their dedupe keys.
-- KEYS: the set. ARGV: prefix P, before (ms).
-- Answers how many were deleted.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
for _, id in ipairs(ids) do
  local ev = ARGV[1] .. ':ev:' .. id
  local key = redis.call('HGET', ev, 'key')
  if key then redis.call('DEL', ARGV[1] .. ':key:' .. key) end
  redis.call('DEL', ev)
  redis.call('ZREM', KEYS[1], id)
end
return #ids
