-- Dedupe release: delete the key if this token still holds it.
-- KEYS: the dedupe key. ARGV: the in-flight value (i:<token>).
-- Answers 1 when deleted, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
