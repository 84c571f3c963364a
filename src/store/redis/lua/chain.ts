/**
 * The audit hash chain's links and checkpoints (see chain-backend.ts and src/evidence/README.md).
 * The operation's own script numbers each event (its stream id, XADD 0-*); these functions only
 * compare and store what a client hashed with SHA-256, off the reserve/commit path.
 *
 * KEYS[1]: the tenant's links (`<base>chain`, a sorted set with one member per sealed batch: score
 * the batch's last seq, member its links "<seq>:<hash>,<seq>:<hash>,..." in rising seq). The sealed
 * head is `<base>chain-head` ("<seq>:<hash>"). ARGV[1]: the tenant's base ("<prefix>:{tenant:acme}:");
 * the stream and the checkpoints are derived from it, in the same slot.
 *
 * A batch is one member, so a seal costs the server the same few commands whatever its size: no
 * Lua string, no skiplist node, per link (per link they cost ~4 µs of server time, more than the
 * rest of the chain together).
 *
 * Bounds: batches wholly older than the stream's first entry - 1 are trimmed on every seal (the one
 * holding that seq stays: the retention anchor), so the links kept are the stream's and at most one
 * batch more; checkpoints below the same seq are trimmed (the newest always stays) and at most
 * ARGV's cap are kept. The chain keys of a tenant whose stream expires (a tenant without budgets)
 * get the stream's expiry.
 */
/** Helpers of the chain functions: top level of the library, so they are made once, at load. */
export const chainPreludeLua = `
local function chainSeqOf(member)
  return tonumber(string.match(member, '^(%d+):'))
end
-- The seq of the stream's first kept entry, or nil for an empty stream.
local function chainFirstKept(auditKey)
  local first = redis.call('XRANGE', auditKey, '-', '+', 'COUNT', 1)[1]
  if not first then return nil end
  return tonumber(string.match(first[1], '%-(%d+)$'))
end
-- Drops the members whose score is below the stream's first entry - 1, never the newest.
local function chainTrim(key, firstKept)
  if not firstKept then return end
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]
  if not newest then return end
  local keepFrom = math.min(firstKept - 1, tonumber(newest))
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', keepFrom))
end
local function chainFollowExpiry(auditKey, key1, key2, key3)
  local ttl = redis.call('PTTL', auditKey)
  if ttl > 0 then
    redis.call('PEXPIRE', key1, ttl)
    if key2 then redis.call('PEXPIRE', key2, ttl) end
    if key3 then redis.call('PEXPIRE', key3, ttl) end
  end
end
`;

/** Returns the sealed head "<seq>:<hash>", or "" for a chain not yet begun. */
export const chainHeadLua = `
return redis.call('GET', ARGV[1] .. 'chain-head') or ''
`;

/**
 * ARGV[2], ARGV[3]: the head the batch follows (seq, hash; "0" and the genesis hash for the first);
 * ARGV[4], ARGV[5]: the batch's last seq and hash; ARGV[6]: its links. Stores them and moves the
 * head only if the head is still ARGV[2]:ARGV[3]. Returns the head after the call ("<seq>:<hash>" or "").
 */
export const chainSealLua = `
local headKey = ARGV[1] .. 'chain-head'
local current = redis.call('GET', headKey) or ''
local expected = ''
if ARGV[2] ~= '0' then expected = ARGV[2] .. ':' .. ARGV[3] end
if current ~= expected or ARGV[6] == nil or ARGV[6] == '' then return current end
local last = tonumber(ARGV[4])
if not last or last <= tonumber(ARGV[2]) or #ARGV[5] ~= 64 then
  return redis.error_reply('INVARIANT_VIOLATED a chain batch must end after the head it follows')
end
local head = ARGV[4] .. ':' .. ARGV[5]
redis.call('SET', headKey, head)
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[6])
local auditKey = ARGV[1] .. 'audit'
local checkpointsKey = ARGV[1] .. 'checkpoints'
local firstKept = chainFirstKept(auditKey)
chainTrim(KEYS[1], firstKept)
chainTrim(checkpointsKey, firstKept)
chainFollowExpiry(auditKey, KEYS[1], headKey, checkpointsKey)
return head
`;

/**
 * ARGV[2]: the checkpoint's seq, ARGV[3]: its JSON, ARGV[4]: how many a tenant keeps at most. A
 * checkpoint at or below the newest kept one is ignored. Returns 1 when kept, 0 when ignored.
 */
export const chainCheckpointPutLua = `
local key = ARGV[1] .. 'checkpoints'
local newest = redis.call('ZRANGE', key, -1, -1)[1]
if newest and chainSeqOf(newest) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', key, ARGV[2], ARGV[2] .. ':' .. ARGV[3])
redis.call('ZREMRANGEBYRANK', key, 0, -(tonumber(ARGV[4]) + 1))
local auditKey = ARGV[1] .. 'audit'
chainTrim(key, chainFirstKept(auditKey))
chainFollowExpiry(auditKey, key)
return 1
`;

/** Returns the newest kept checkpoint's member "<seq>:<json>", or "". */
export const chainCheckpointLastLua = `
return redis.call('ZRANGE', ARGV[1] .. 'checkpoints', -1, -1)[1] or ''
`;
