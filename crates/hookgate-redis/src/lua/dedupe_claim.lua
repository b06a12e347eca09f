-- Dedupe claim: the current value if the key is taken, else take the key
-- for the lease.
-- KEYS: the dedupe key. ARGV: the in-flight value (i:<token>), the lease (ms).
-- Answers nil (new), 'd' (done) or 'i:<token>' (in flight).
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
