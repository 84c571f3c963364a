/**
 * The audit hash chain's links and checkpoints (see chain-backend.ts and src/evidence/README.md).
 * The operation's own script numbers each event (its stream id, XADD 0-*); these functions only
 * compare and store what a client hashed with SHA-256, off the reserve/commit path.
 *
 * KEYS[1]: the tenant's links (`<base>chain`, a sorted set: score seq, member "<seq>:<hash>"; the
 * highest member is the sealed head). ARGV[1]: the tenant's base ("<prefix>:{tenant:acme}:"); the
 * stream and the checkpoints are derived from it, in the same slot.
 *
 * Bounds: links older than the stream's first entry - 1 are trimmed on every seal (that one stays,
 * as the retention anchor), the sealed head always stays; checkpoints below the same seq are
 * trimmed (the newest always stays) and at most ARGV's cap are kept. Links and checkpoints of a
 * tenant whose stream expires (a tenant without budgets) get the stream's expiry.
 */
/** Helpers of the chain functions: top level of the library, so they are made once, at load. */
export const chainPreludeLua = `
local function chainLastMember(key)
  return redis.call('ZRANGE', key, -1, -1)[1]
end
local function chainSeqOf(member)
  return tonumber(string.match(member, '^(%d+):'))
end
-- The seq of the stream's first kept entry, or nil for an empty stream.
local function chainFirstKept(auditKey)
  local first = redis.call('XRANGE', auditKey, '-', '+', 'COUNT', 1)[1]
  if not first then return nil end
  return tonumber(string.match(first[1], '%-(%d+)$'))
end
-- Drops the members below the stream's first entry - 1, never the highest.
local function chainTrim(key, firstKept)
  local last = chainLastMember(key)
  if not last then return end
  local keepFrom = chainSeqOf(last)
  if firstKept and firstKept - 1 < keepFrom then keepFrom = firstKept - 1 end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', keepFrom))
end
local function chainFollowExpiry(auditKey, key1, key2)
  local ttl = redis.call('PTTL', auditKey)
  if ttl > 0 then
    redis.call('PEXPIRE', key1, ttl)
    if key2 then redis.call('PEXPIRE', key2, ttl) end
  end
end
`;

/** Returns the sealed head's member "<seq>:<hash>", or "" for a chain not yet begun. */
export const chainHeadLua = `
return chainLastMember(KEYS[1]) or ''
`;

/**
 * ARGV[2], ARGV[3]: the head the batch follows (seq, hash; "0" and the genesis hash for the first);
 * then pairs seq, hash, in rising seq. Stores them and so moves the head only if the head is still
 * ARGV[2]:ARGV[3]. Returns the head after the call ("<seq>:<hash>" or "").
 */
export const chainSealLua = `
local linksKey = KEYS[1]
local current = chainLastMember(linksKey) or ''
local expected = ''
if ARGV[2] ~= '0' then expected = ARGV[2] .. ':' .. ARGV[3] end
if current ~= expected or #ARGV < 5 then return current end
local last = tonumber(ARGV[2])
local pairsArgs = {}
for i = 4, #ARGV - 1, 2 do
  local seq, hash = tonumber(ARGV[i]), ARGV[i + 1]
  if not seq or seq <= last or seq % 1 ~= 0 or #hash ~= 64 or string.find(hash, '[^0-9a-f]') then
    return redis.error_reply('INVARIANT_VIOLATED chain links must rise by seq and carry a SHA-256 hex hash')
  end
  last = seq
  pairsArgs[#pairsArgs + 1] = ARGV[i]
  pairsArgs[#pairsArgs + 1] = ARGV[i] .. ':' .. hash
end
-- In pieces: unpack of a long list would overflow the Lua stack.
for at = 1, #pairsArgs, 400 do
  redis.call('ZADD', linksKey, unpack(pairsArgs, at, math.min(at + 399, #pairsArgs)))
end
local auditKey = ARGV[1] .. 'audit'
local checkpointsKey = ARGV[1] .. 'checkpoints'
local firstKept = chainFirstKept(auditKey)
chainTrim(linksKey, firstKept)
chainTrim(checkpointsKey, firstKept)
chainFollowExpiry(auditKey, linksKey, checkpointsKey)
return chainLastMember(linksKey)
`;

/**
 * ARGV[2]: the checkpoint's seq, ARGV[3]: its JSON, ARGV[4]: how many a tenant keeps at most. A
 * checkpoint at or below the newest kept one is ignored. Returns 1 when kept, 0 when ignored.
 */
export const chainCheckpointPutLua = `
local key = ARGV[1] .. 'checkpoints'
local newest = chainLastMember(key)
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
