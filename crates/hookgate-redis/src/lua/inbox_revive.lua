-- Inbox replay of one event: a done or dead event that still has its body
-- becomes pending again, due now.
-- KEYS: P:ev:<id>, P:stream, P:dead, P:done. ARGV: id, now (ms), dry run (1/0).
-- Answers 1 when replayed (or, on a dry run, replayable), else 0.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'done' and state ~= 'dead' then return 0 end
if redis.call('HEXISTS', KEYS[1], 'body') == 0 then return 0 end
if ARGV[3] == '1' then return 1 end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'pending', 'attempts', 0, 'due_at', ARGV[2], 'token', '', 'last_error', '')
redis.call('HDEL', KEYS[1], 'finished_at')
redis.call('XADD', KEYS[2], '*', 'ev', ARGV[1])
return 1
