/**
 * The sweep index: one sorted set outside every tenant's slot, tenant → a deadline at or before its
 * earliest open hold. It is a hint, never the truth: every tenant script expires its own overdue
 * holds first, so a missed hint (a process that died between a reserve and its note) only delays
 * the expire audit event, never the returned points.
 *
 * KEYS[1]: the index. ARGV[1]: clock offset in ms.
 */

/** ARGV[2]: how many tenants at most. Returns tenants whose noted deadline has passed. */
export const sweepDueLua = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
`;

/**
 * ARGV[2]: tenant, ARGV[3]: its earliest deadline, or 0 when it holds nothing. A deadline is noted
 * when none is, when the noted one has passed (the sweep is done with it) or when it is earlier.
 * "Holds nothing" removes only a passed entry: a fresh one was noted by a reserve that raced the sweep.
 */
export const sweepNoteLua = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[1])
local tenant = ARGV[2]
local deadline = tonumber(ARGV[3])
local current = redis.call('ZSCORE', KEYS[1], tenant)
if current then current = tonumber(current) end
if deadline == 0 then
  if current and current <= now then redis.call('ZREM', KEYS[1], tenant) end
  return 0
end
if not current or current <= now or deadline < current then
  redis.call('ZADD', KEYS[1], deadline, tenant)
end
return 0
`;
