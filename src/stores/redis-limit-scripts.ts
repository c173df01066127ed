/**
 * The Lua scripts of the Redis limit store. Each check is one script: atomic on the server, one
 * round trip (sent with EVALSHA, and EVAL when the server does not have it cached: ioredis'
 * `defineCommand`). Each touches exactly one key (`KEYS[1]`), always under the bucket's
 * `{hash tag}`, and leaves it with a TTL. Times are the caller's ms (`ARGV`); every TTL is
 * relative to that `now` (PEXPIRE, never PEXPIREAT), so a caller's clock far from the server's
 * cannot make a key outlive its use or vanish early. Floats are stored with `%.17g` so they
 * read back exactly; results that may be fractional come back as strings (Redis would truncate
 * a Lua number to an integer). The arithmetic mirrors memory-limits.ts line for line.
 */

/** GCRA check-and-spend. ARGV: now, emission interval ms, burst, cost, epsilon. Returns {allowed, remaining, retryAfterMs, resetMs}. */
export const RATE = `
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local eps = tonumber(ARGV[5])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local newTat = tat + t * cost
local allowAt = newTat - t * burst
if allowAt - now > eps then
  return {0, 0, math.ceil(allowAt - now), math.ceil(tat - now)}
end
local ttl = math.ceil(newTat - now)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], string.format('%.17g', newTat), 'PX', ttl)
return {1, math.floor((now - (newTat - t * burst)) / t + eps), 0, ttl}
`;

/** Gives back GCRA units. ARGV: now, emission interval ms, cost. */
export const REFUND_RATE = `
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
tat = tat - tonumber(ARGV[2]) * tonumber(ARGV[3])
if tat <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil(tat - now))
return 1
`;

/** Quota check-and-charge. ARGV: limit, cost, need, ttlMs. Returns {allowed, used (string)}. */
export const QUOTA = `
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local need = tonumber(ARGV[3])
local used = tonumber(redis.call('GET', KEYS[1])) or 0
if used + need > limit then return {0, string.format('%.17g', used)} end
if cost > 0 then
  used = tonumber(redis.call('INCRBYFLOAT', KEYS[1], string.format('%.17g', cost)))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {1, string.format('%.17g', used)}
`;

/** Adds to a quota counter, never below 0. ARGV: delta, ttlMs. Returns the new value (string). */
export const ADD_QUOTA = `
local v = tonumber(redis.call('INCRBYFLOAT', KEYS[1], string.format('%.17g', tonumber(ARGV[1]))))
if v < 0 then
  redis.call('SET', KEYS[1], '0')
  v = 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return string.format('%.17g', v)
`;

/** Sets the key's TTL to the latest lease expiry (a sorted set scored by expiry ms). */
const EXPIRE_AT_LAST_LEASE = `
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then
  local ttl = math.ceil(tonumber(last[2]) - now)
  if ttl < 1 then ttl = 1 end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
`;

/** Takes a concurrency slot. ARGV: now, limit, leaseId, leaseMs. Returns {allowed, count}. */
export const ACQUIRE = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then return {0, n} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
${EXPIRE_AT_LAST_LEASE}
return {1, redis.call('ZCARD', KEYS[1])}
`;

/** Extends a live lease. ARGV: now, leaseId, leaseMs. Returns 1 when renewed, 0 when it was gone. */
export const RENEW = `
local now = tonumber(ARGV[1])
local s = redis.call('ZSCORE', KEYS[1], ARGV[2])
if (not s) or tonumber(s) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
${EXPIRE_AT_LAST_LEASE}
return 1
`;

/** Sliding-window repeat count. ARGV: now, limit, windowMs, member. Returns {allowed, count, retryAfterMs}. */
export const REPEAT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, math.ceil(tonumber(oldest[2]) + window - now)}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window))
return {1, n + 1, 0}
`;
