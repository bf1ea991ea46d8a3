import type { RedisConnection } from '../redis/redis-connection.factory';

/**
 * The fencing counter outlives the lock so that tokens keep counting up while a key is in use;
 * it is refreshed at each acquisition and dropped after a week of disuse, so one-off lock keys do
 * not accumulate. A dropped (or lost) counter is re-seeded from the server clock, which keeps
 * tokens increasing (see ACQUIRE).
 */
export const FENCE_RETENTION_MS = 7 * 24 * 3600 * 1000;

// Shared by the scripts: a lock value is `<owner>:<token>`; owners are fixed-length hex ids.
const HELD_BY_OWNER = `
local held = redis.call('GET', KEYS[1])
local mine = ARGV[1] .. ':'
local is_mine = held and string.sub(held, 1, #mine) == mine`;

/**
 * KEYS: lock, fence. ARGV: owner, ttl ms, fence retention ms.
 * Returns {1, token} when acquired (also when the lock already holds this owner: a retried
 * attempt whose first reply was lost gets the token it was issued), else {0, holder's PTTL}.
 *
 * The token is the larger of the incremented counter and the server's TIME in microseconds.
 * The counter alone could repeat tokens: after a restart that lost it, or restored an older copy
 * (an RDB snapshot, AOF everysec, a lagging replica promoted). With the clock as a floor, a token
 * exceeds every earlier one provided the server clock did not step back and the key averaged
 * fewer than one acquisition per microsecond. Tokens stay below 2^53 until the year 2255.
 * Concatenation would print large Lua numbers in exponent form, hence string.format('%d').
 */
const ACQUIRE = `${HELD_BY_OWNER}
if held then
  if is_mine then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return {1, tonumber(string.sub(held, #mine + 1))}
  end
  return {0, redis.call('PTTL', KEYS[1])}
end
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
local token = redis.call('INCR', KEYS[2])
if token < floor then
  token = floor
  redis.call('SET', KEYS[2], string.format('%d', token))
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], mine .. string.format('%d', token), 'PX', ARGV[2])
return {1, token}`;

/** KEYS: lock. ARGV: owner, ttl ms. Returns 1 when extended. */
const EXTEND = `${HELD_BY_OWNER}
if not is_mine then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

/**
 * KEYS: lock. ARGV: owner, release channel. Returns 1 when deleted. The channel is not a key;
 * it carries the lock's hash tag so that a sharded SPUBLISH could replace PUBLISH unchanged.
 */
const RELEASE = `${HELD_BY_OWNER}
if not is_mine then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '')
return 1`;

/** The commands `defineLockScripts` adds to a connection. */
export interface LockScriptCommands {
  elileLockAcquire(
    lock: string,
    fence: string,
    owner: string,
    ttlMs: number,
    retentionMs: number,
  ): Promise<[number, number]>;
  elileLockExtend(lock: string, owner: string, ttlMs: number): Promise<number>;
  elileLockRelease(lock: string, owner: string, channel: string): Promise<number>;
}

/**
 * Registers the lock scripts with ioredis's `defineCommand`: they run by SHA and fall back to
 * EVAL when Redis lost its script cache (restart, failover, SCRIPT FLUSH). They are never sent
 * inside MULTI, where ioredis cannot recover from NOSCRIPT.
 */
export function defineLockScripts(connection: RedisConnection): LockScriptCommands {
  if (!('elileLockAcquire' in connection)) {
    connection.defineCommand('elileLockAcquire', { numberOfKeys: 2, lua: ACQUIRE });
    connection.defineCommand('elileLockExtend', { numberOfKeys: 1, lua: EXTEND });
    connection.defineCommand('elileLockRelease', { numberOfKeys: 1, lua: RELEASE });
  }
  return connection as unknown as LockScriptCommands;
}
