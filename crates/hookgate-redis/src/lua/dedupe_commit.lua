-- Dedupe commit: mark the key done for the retention if this token still
-- holds it, or its lease lapsed and nobody claimed it since.
-- KEYS: the dedupe key. ARGV: the in-flight value (i:<token>), the retention (ms).
-- Answers 1 when marked done, 0 when another delivery holds the key.
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] or cur == false then
  redis.call('SET', KEYS[1], 'd', 'PX', ARGV[2])
  return 1
end
return 0
