/**
 * One request against one throttler record, atomically, as `@nestjs/throttler` 6.7's in-memory
 * storage decides it: a sliding log of hits (each hit counts for `ttl` after it was made), a
 * window whose end is reported as `timeToExpire`, and a block of `blockDuration` once the limit is
 * exceeded (with `blockDuration` 0: no block, a request is refused while `limit` hits are live and
 * let through as soon as the oldest expires).
 *
 * The record is one sorted set, so the script touches a single key and runs unchanged on a Redis
 * Cluster. Hits are members scored by their expiry (server time, ms, always positive); the
 * record's own state sits in members with negative scores, out of the hits' range: `window`
 * (−end of the window), `block` (−end of the block, present while blocked) and `seq` (−number of
 * hits ever made, naming each hit uniquely). Time is Redis's `TIME`, so instances whose clocks
 * disagree still share one window.
 *
 * KEYS[1]: the record. ARGV: ttl (ms), limit, blockDuration (ms).
 * Returns { totalHits, timeToExpire (s), isBlocked (0/1), timeToBlockExpire (s) }.
 */
export const THROTTLE_SCRIPT = `
local key = KEYS[1]
local ttl = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local blockDuration = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local function seconds(ms) return math.ceil(ms / 1000) end
-- The key is in the module's reserved space: anything else found there (another program's value,
-- perhaps without a TTL) would fail every request of this client into the failure policy for good.
local found = redis.call('TYPE', key).ok
if found ~= 'zset' and found ~= 'none' then redis.call('DEL', key) end

local window = redis.call('ZSCORE', key, 'window')
local expiresAt = now + ttl
if window then expiresAt = -tonumber(window) end
local blockScore = redis.call('ZSCORE', key, 'block')
local blocked = blockScore ~= false
local blockExpiresAt = 0
if blocked then blockExpiresAt = -tonumber(blockScore) end

redis.call('ZREMRANGEBYSCORE', key, 0, now)
local hits = redis.call('ZCOUNT', key, '(0', '+inf')
if expiresAt <= now then expiresAt = now + ttl end
local timeToExpire = seconds(expiresAt - now)

local function fire()
  local seq = -tonumber(redis.call('ZINCRBY', key, -1, 'seq'))
  redis.call('ZADD', key, now + ttl, 'hit:' .. seq)
  hits = hits + 1
end

local result
if blockDuration <= 0 then
  local refused = hits >= limit
  local timeToBlockExpire = 0
  if refused then
    local oldest = redis.call('ZRANGEBYSCORE', key, '(0', '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if oldest[2] then timeToBlockExpire = seconds(tonumber(oldest[2]) - now) else timeToBlockExpire = timeToExpire end
    result = { hits + 1, timeToExpire, 1, timeToBlockExpire }
  else
    fire()
    result = { hits, timeToExpire, 0, 0 }
  end
else
  if not blocked then fire() end
  if hits > limit and not blocked then
    blocked = true
    blockExpiresAt = now + blockDuration
    redis.call('ZADD', key, -blockExpiresAt, 'block')
  end
  local timeToBlockExpire = seconds(blockExpiresAt - now)
  if blocked and timeToBlockExpire <= 0 then
    redis.call('ZREMRANGEBYSCORE', key, '(0', '+inf')
    redis.call('ZREM', key, 'block')
    blocked = false
    hits = 0
    fire()
  end
  if blocked then result = { hits, timeToExpire, 1, timeToBlockExpire } else result = { hits, timeToExpire, 0, 0 } end
end

redis.call('ZADD', key, -expiresAt, 'window')
local lastsUntil = expiresAt
local newest = redis.call('ZREVRANGEBYSCORE', key, '+inf', '(0', 'WITHSCORES', 'LIMIT', 0, 1)
if newest[2] and tonumber(newest[2]) > lastsUntil then lastsUntil = tonumber(newest[2]) end
if blocked and blockExpiresAt > lastsUntil then lastsUntil = blockExpiresAt end
redis.call('PEXPIRE', key, math.max(1, math.ceil(lastsUntil - now)))
return result`;
