-- Inbox enqueue, insert-if-new: the dedupe check, the event's hash and the
-- stream entry in one step.
-- KEYS: P:key:<dedupe key>, P:seq, P:stream.
-- ARGV: prefix P, dedupe key, scheme, event id (or ''), event type,
-- received at (ms), body, stored headers, tenant (or '').
-- Answers 0 for a duplicate, else the new event's id.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], id)
redis.call('HSET', ARGV[1] .. ':ev:' .. id, 'key', ARGV[2], 'scheme', ARGV[3], 'event_id', ARGV[4],
  'event_type', ARGV[5], 'received_at', ARGV[6], 'body', ARGV[7], 'headers', ARGV[8], 'tenant', ARGV[9], 'state', 'pending',
  'attempts', 0, 'due_at', ARGV[6])
redis.call('XADD', KEYS[3], '*', 'ev', id)
return id
