/**
 * Lua shared by every tenant function: clock, key layout, definitions, counters, the decision rule,
 * idempotency, audit and expiry. It is the top of the functions library (scripts.ts): it runs once,
 * when the library is loaded, and each operation is a function that calls begin() and then does its
 * own work, atomically on one tenant (one cluster slot).
 *
 * ARGV layout shared by every tenant function (see `runTenant` in redis-store.ts):
 *   1 base: key prefix ending in the tenant hash tag, e.g. "tollgate:{tenant:acme}:"
 *   2 clock offset in ms added to the server's TIME ("0" outside tests)
 *   3 limits, comma-separated: auditEventsMax (approximate stream cap), settledReservationRetentionMs,
 *     idempotencyRetentionMs, runCountersRetentionMs, expireBatchMax (overdue holds expired inline per
 *     call), settledReservationsMax and idempotencyKeysMax (per tenant), unknownTenantRetentionMs (how
 *     long the keys of a tenant that never had a budget live after its last write)
 * Operation arguments start at ARGV[4].
 *
 * Numbers: amounts are integers below 2^53, exact in Lua doubles. cjson prints only 14 significant
 * digits, so numbers are formatted with %d here and never go through cjson.
 *
 * Cost: this Redis's Lua hashes every byte of every string it creates (strings are interned), and
 * cjson.decode of a budget definition costs more than the HMGET that read it. So the hot path
 * decodes no JSON (definitions and holds are stored in a compact text form), writes each audit
 * event as short stream fields of strings it already has (no JSON built), and answers reserve and settle with flat arrays of numbers and short
 * strings that the client turns into objects (see redis-store.ts).
 *
 * Failures: Redis does not roll back a script's writes on error, so every invariant is checked
 * before the first write of an operation.
 */
export const preludeLua = `
-- Per-call state, set by begin() at the start of every function: the library's top level runs once,
-- when it is loaded, so nothing here may depend on a call.
local KEYS, ARGV
local base, now, timeSec, timeMicros, clockOffset
local budgetsKey, metaKey, holdsKey, auditKey, settledKey, idempotencyIndexKey, countersKey, countersIdleKey
local auditEventsMax, settledRetentionMs, idempotencyRetentionMs, runCountersRetentionMs, expireBatchMax
local settledReservationsMax, settledTrimSlack, idempotencyKeysMax, unknownTenantRetentionMs
local tenantKnown = nil
local dueBacklog = false
-- The earliest deadline in the holds index as expireDue found it (0: none), or false once unknown.
local earliestHold = false
-- The limits and key names only change with the store's options and the tenant: parsed again only then.
local limitsText, baseText
local lastTimeSec, lastTimeSecMs
-- While a batch runs (scripts.ts), its operations share the TIME the first one read; and once one of
-- them found no hold of its tenant due (expireDue), none is due for the rest of the batch (it runs at
-- that one instant, and every hold made or moved since has a later deadline): batchDueBase names that
-- tenant and batchEarliest is its earliest deadline as the batch's holds changed it (0: none, false:
-- unknown since a hold was removed or moved).
local inBatch, batchTime, batchDueBase, batchEarliest = false, nil, nil, false
-- Set when loadCachedCounters found the counters hash without the definitions version's mirror.
local countersUnmirrored = false

local function begin(keys, args)
  KEYS, ARGV = keys, args
  tenantKnown, dueBacklog, earliestHold, countersUnmirrored = nil, false, false, false
  if args[3] ~= limitsText then
    local limits = {}
    for limit in string.gmatch(args[3], '[^,]+') do limits[#limits + 1] = limit end
    auditEventsMax = limits[1]
    settledRetentionMs = limits[2]
    idempotencyRetentionMs = limits[3]
    runCountersRetentionMs = tonumber(limits[4])
    expireBatchMax = tonumber(limits[5])
    settledReservationsMax = tonumber(limits[6])
    settledTrimSlack = math.floor(settledReservationsMax / 64)
    idempotencyKeysMax = tonumber(limits[7])
    unknownTenantRetentionMs = limits[8]
    limitsText = args[3]
  end
  base = args[1]
  if base ~= baseText then
    budgetsKey = base .. 'budgets'
    metaKey = base .. 'meta'
    holdsKey = base .. 'holds'
    auditKey = base .. 'audit'
    settledKey = base .. 'settled'
    idempotencyIndexKey = base .. 'idempotency'
    countersKey = base .. 'counters'
    countersIdleKey = base .. 'counters-idle'
    baseText = base
  end
  local time = batchTime
  if time == nil then
    time = redis.call('TIME')
    if inBatch then batchTime = time end
  end
  -- The audit stream keeps TIME's own two strings (the reader computes atMs and the microseconds that
  -- order events of different tenants sharing a millisecond): no number is formatted for it.
  timeSec, timeMicros, clockOffset = time[1], time[2], args[2]
  -- The seconds change once a second: parsed only then.
  if timeSec ~= lastTimeSec then lastTimeSec, lastTimeSecMs = timeSec, tonumber(timeSec) * 1000 end
  now = lastTimeSecMs + math.floor(tonumber(timeMicros) / 1000)
  -- Outside tests the offset is '0': no number parsed for it.
  if clockOffset ~= '0' then now = now + tonumber(clockOffset) end
end

-- A field of the budgets hash that is no budget: the generation of the set of budget fields, bumped
-- whenever a budget is created or removed (see shapesLua in lua/reads.ts and the reserve).
local shapeGenField = '~gen'

-- The data layout (layout.ts): the budgets hash of every tenant this build wrote carries it. A tenant
-- whose budgets hash exists without it was written by an earlier build, whose counters, records and
-- audit entries this one would misread: refused before anything is read or written.
local layoutField, layoutVersion = '~layout', '2'
local function checkLayout(marker, present)
  if present and marker ~= layoutVersion then
    error('STORE_LAYOUT tenant ' .. base .. ' has budgets without the layout ' .. layoutVersion .. ' marker')
  end
end

-- A field of the budgets hash that is no budget: a value no write ever repeats, replaced whenever a
-- definition is written or removed (noteDefinitionsChanged). A call that finds the value it saw last
-- reuses the definitions it read then instead of reading them again (each is ~200 bytes of text,
-- ~6k instructions to hand to Lua per definition read). Unique: this Lua state's write count plus
-- the server's TIME, so neither a reloaded library nor a flushed and rebuilt tenant repeats one.
local definitionsVersionField = '~ver'
local definitionsWrites = 0
local function noteDefinitionsChanged()
  definitionsWrites = definitionsWrites + 1
  local version = timeSec .. '.' .. timeMicros .. '.' .. definitionsWrites
  redis.call('HSET', budgetsKey, definitionsVersionField, version)
  -- Mirrored in the counters hash: a call whose definitions are cached confirms them with the same
  -- HMGET that reads its counters (loadCachedCounters).
  redis.call('HSET', countersKey, definitionsVersionField, version)
end

-- The stored definitions of fields (count budget fields, then shapeGenField, layoutField and
-- definitionsVersionField), and the generation and layout marker read with them. entry (a cache
-- entry's table of its own) keeps what was read under the version and the tenant it was read for;
-- while the hash still has that version, only the three fields after the budgets are read.
local function definitionsOf(entry, fields, count)
  local defs, gen, marker
  if entry.defs and entry.base == base then
    local head = redis.call('HMGET', budgetsKey, shapeGenField, layoutField, definitionsVersionField)
    if head[3] == entry.version then defs, gen, marker = entry.defs, head[1], head[2] end
  end
  if defs == nil then
    defs = redis.call('HMGET', budgetsKey, unpack(fields))
    gen, marker = defs[count + 1], defs[count + 2]
    -- Kept only under a version: a hash without one is read in full every time.
    entry.base, entry.version, entry.defs = base, defs[count + 3], nil
    entry.gen, entry.marker = gen, marker
    if defs[count + 3] then entry.defs = defs end
  end
  -- The version as the budgets hash has it now, where loadCachedCounters found no mirror of it.
  if countersUnmirrored and entry.version then
    redis.call('HSET', countersKey, definitionsVersionField, entry.version)
  end
  countersUnmirrored = false
  return defs, gen, marker
end

-- One budget's stored definition (or nil), after the layout check; and the layout marker.
local function storedBudget(budgetField)
  local stored = redis.call('HMGET', budgetsKey, budgetField, shapeGenField, layoutField)
  checkLayout(stored[3], stored[1] ~= false or stored[2] ~= false)
  return stored[1] or nil, stored[3]
end

local function reservationKey(id) return base .. 'r:' .. id end
local function idempotencyKey(op, key) return base .. 'i:' .. op .. ':' .. key end

local function int(n) return string.format('%d', n) end
local function str(s) return cjson.encode(s) end
-- Scopes are validated to [A-Za-z0-9_.-] values joined by ':' and '/': nothing to escape.
local function quoted(scope) return '"' .. scope .. '"' end
local function field(name, json)
  if json == nil then return '' end
  return ',"' .. name .. '":' .. json
end
-- Callers test the condition themselves and call this only when it fails: a message built on
-- every call (string.format, concatenation, interning) cost more than the rest of a reserve.
local function violated(message)
  error('INVARIANT_VIOLATED ' .. message)
end
local function invariant(ok, message)
  if not ok then violated(message) end
end

-- A reserve's plan: what a caller's calls of one action on one subject share, sent as one argument
-- "<unit>\\n<tier>\\n<ttlMs>\\n<graceMs>\\n<overagePolicy>\\n<dryRun><shadow>\\n<shape generation>\\n
-- <event fragment>\\n<actor json>\\n<candidate scope>\\n..." (no part holds a newline: units, tiers
-- and policies are names, scopes are validated, JSON escapes its newlines). Parsed plans are kept by
-- their text across calls, as holdsCache keeps holds: each of ~14 arguments cost Redis ~1.5k
-- instructions to hand over, and the budget fields are built once per plan instead of per call. An
-- entry depends on nothing but its key; entries are shared and read only, but for the definitions
-- definitionsOf keeps in one. Dropped whole at planCacheMax entries.
local planCacheMax, planScopesMax = 4096, 256
local planCache, planCacheSize = {}, 0
local function planOf(text)
  local plan = planCache[text]
  if plan then return plan end
  local parts, at = {}, 1
  for _ = 1, planScopesMax + 9 do
    local cut = string.find(text, '\\n', at, true)
    if not cut then
      parts[#parts + 1] = string.sub(text, at)
      at = nil
      break
    end
    parts[#parts + 1] = string.sub(text, at, cut - 1)
    at = cut + 1
  end
  if at ~= nil or #parts < 9 then violated('a reserve plan has 9 parts and at most ' .. planScopesMax .. ' scopes') end
  local ttlMs, graceMs = tonumber(parts[3]), tonumber(parts[4])
  invariant(ttlMs ~= nil and ttlMs >= 1 and ttlMs == math.floor(ttlMs), 'ttlMs is a positive integer')
  invariant(graceMs ~= nil and graceMs >= 0 and graceMs == math.floor(graceMs), 'graceMs is an integer >= 0')
  local unit = parts[1]
  local scopes, fields = {}, {}
  for i = 10, #parts do
    scopes[#scopes + 1] = parts[i]
    fields[#fields + 1] = parts[i] .. '|' .. unit
  end
  local scopeCount = #scopes
  fields[scopeCount + 1] = shapeGenField
  fields[scopeCount + 2] = layoutField
  fields[scopeCount + 3] = definitionsVersionField
  plan = { unit = unit, tier = parts[2], ttlMs = ttlMs, graceMs = graceMs, graceText = parts[4],
    overagePolicy = parts[5], dryRun = string.sub(parts[6], 1, 1) == '1', shadow = string.sub(parts[6], 2, 2) == '1',
    shapeGen = parts[7], fragment = parts[8], actorJson = parts[9], scopes = scopes, fields = fields,
    scopeCount = scopeCount, definitions = {} }
  if planCacheSize >= planCacheMax then planCache, planCacheSize = {}, 0 end
  planCache[text] = plan
  planCacheSize = planCacheSize + 1
  return plan
end

-- A tenant that never had a budget (a random id from a hostile caller) leaves only keys that expire:
-- its audit stream, sequence and indexes live unknownTenantRetentionMs after its last write. Scripts
-- that saw one of the tenant's budgets set tenantKnown; others look it up once, when they write.
-- "gen" in meta marks a tenant that had budgets once: its generations must never restart.
local function expireUnlessKnown(key1, key2)
  if tenantKnown == nil then
    tenantKnown = redis.call('EXISTS', budgetsKey) == 1 or redis.call('HEXISTS', metaKey, 'gen') == 1
  end
  if tenantKnown then return end
  redis.call('PEXPIRE', key1, unknownTenantRetentionMs)
  if key2 then redis.call('PEXPIRE', key2, unknownTenantRetentionMs) end
end

-- A reservation record: "st" its status, "e" the estimate, "c" / "x" created and expires at, "ri" the
-- run id and "sd" "1" for a shadow-denied hold (both absent by default), and "k" what every hold of
-- one plan on one chain shares, "<unit> <overagePolicy> <graceMs>\\n<holds text>\\n<event fragment>"
-- (no part holds a newline), kept parsed by its text across calls like the plans. Records written
-- before "k" carry "u", "p", "g", "h" and "ev" as fields of their own, read the same.
local recordSharedCacheMax = 4096
local recordSharedCache, recordSharedCacheSize = {}, 0
local function recordSharedOf(text)
  local shared = recordSharedCache[text]
  if shared then return shared end
  local unit, policy, grace, holdsText, fragment = string.match(text, '^(%S+) (%S+) (%d+)\\n([^\\n]*)\\n(.*)$')
  if unit == nil then violated('the shared part of a reservation record is "<unit> <policy> <grace>" and two lines') end
  shared = { unit = unit, policy = policy, grace = grace, holds = holdsText, fragment = fragment }
  if recordSharedCacheSize >= recordSharedCacheMax then recordSharedCache, recordSharedCacheSize = {}, 0 end
  recordSharedCache[text] = shared
  recordSharedCacheSize = recordSharedCacheSize + 1
  return shared
end

-- The record of key: { st, sd, e, ri, x } (nil when there is none) and its shared part.
local function readRecord(key)
  local r = redis.call('HMGET', key, 'st', 'sd', 'e', 'ri', 'x', 'k')
  if not r[1] then return nil, nil end
  if r[6] then return r, recordSharedOf(r[6]) end
  local old = redis.call('HMGET', key, 'u', 'p', 'g', 'h', 'ev')
  return r, { unit = old[1], policy = old[2], grace = old[3], holds = old[4] or '', fragment = old[5] or '' }
end

-- ------------------------------------------------------------------ definitions

local TIERS = { 'read', 'write-local', 'write-external', 'mutation', 'execution' }
local TIER_DIGIT = { read = '1', ['write-local'] = '2', ['write-external'] = '3', mutation = '4', execution = '5' }

-- A stored definition is "<gen>;<limit>;<overdraftLimit>;<window>;<bands>\\n<definition json>": the
-- scripts read the text before the newline, listings the JSON after it. <bands> is
-- "<from>:<disabled tier digits>,..." (read = 1 ... execution = 5), empty without narrowing.
local function parseDefText(raw)
  local gen, limit, overdraft, window, bands = string.match(raw, '^(%d+);(%d+);(%d+);([%a]+);([^\\n]*)')
  return { gen = gen, limit = tonumber(limit), limitText = limit, overdraftLimit = tonumber(overdraft),
    window = window, bands = bands }
end

-- Parsed definitions by their stored text, across calls: a definition is parsed once, not on every
-- reserve and settle. Keyed by the whole stored value (generation included), so a changed budget is
-- a new entry; callers only add its counter names (counterName); dropped whole at defCacheMax entries.
local defCacheMax = 10000
local defCache, defCacheSize = {}, 0
local function parseDef(raw)
  local def = defCache[raw]
  if def then return def end
  def = parseDefText(raw)
  if defCacheSize >= defCacheMax then defCache, defCacheSize = {}, 0 end
  defCache[raw] = def
  defCacheSize = defCacheSize + 1
  return def
end

-- ------------------------------------------------------------------ windows and counters

local windowLengthMs = { minute = 60000, hour = 3600000, day = 86400000 }
local clockCountersRetentionMs = 2 * 86400000

local function instanceOf(window, runId)
  if window == 'lifetime' then return 'life' end
  -- Without a run id ('') the instance is 'run:', which no run id (never empty) can name.
  if window == 'run' then return 'run:' .. runId end
  return window .. ':' .. int(math.floor(now / windowLengthMs[window]))
end

local function remainingOf(b)
  return b.def.limit - b.spent - b.reserved - b.debt
end

local function assertCounters(b)
  if b.reserved >= 0 and b.spent >= 0 and b.debt >= 0 then return end
  for _, name in ipairs({ 'reserved', 'spent', 'debt' }) do
    if b[name] < 0 then violated(name .. ' >= 0 on ' .. b.scope .. ' (got ' .. int(b[name]) .. ')') end
  end
end

-- A counter is a budget's window instance, a field of the counters hash named "<gen>|<instance>" (a
-- budget's generation is unique in its tenant, so it names the budget).
local function counterId(gen, instance) return gen .. '|' .. instance end

-- The counter names of a definition, kept with the parsed definition (a few instances each), so a
-- steady call builds none.
local counterNamesMax = 8
local function counterName(def, instance)
  local names = def.counters
  if names == nil or names.size >= counterNamesMax then
    names = { size = 0 }
    def.counters = names
  end
  local name = names[instance]
  if name == nil then
    name = counterId(def.gen, instance)
    names[instance] = name
    names.size = names.size + 1
  end
  return name
end

-- A budget on the action's path and its window instance (index: its place among a reserve's
-- candidate scopes, given here so the table is made whole), with its counter's values (spent,
-- reserved, debt; found: whether the counter exists; text: its stored "spent:reserved:debt"), which
-- loadCounters fills in: one table per budget, made at its full size (a second table for the
-- counters, or fields added later, cost ~2.5k instructions per budget). The counter name kept with
-- the definition is looked up here first (a call to counterName per budget cost more than the lookup).
-- Tables a cache keeps (a plan's, a holds entry's) are reused by later calls with the same
-- definitions and instances: every counter field is set by loadCounters before it is read, and the
-- rest depend only on what the cache checked. Reused one call at a time (a call's work on one is done
-- before the next starts), never two lists of one entry at once.
local function budgetAt(def, scope, instance, index)
  local names = def.counters
  return { def = def, scope = scope, instance = instance,
    field = names and names[instance] or counterName(def, instance), index = index,
    spent = 0, reserved = 0, debt = 0, found = false, text = '0:0:0', auditHead = false }
end

-- All counters of a tenant live in one hash ("spent:reserved:debt" per counter),
-- so a chain of any depth is read with one HMGET and written with one HSET. What is read back is
-- checked before any script trusts it: three integers, each >= 0 and below 2^53.
-- Small counts as text and back, made on the first call after the library loads (its top level has
-- no string library): reserved and debt are mostly 0 or a few holds, and formatting or parsing a
-- number costs ~2k instructions.
local smallCountText, smallCountValue = nil, nil
local function makeSmallCounts()
  smallCountText, smallCountValue = {}, {}
  for n = 0, 1023 do
    local text = string.format('%d', n)
    smallCountText[n], smallCountValue[text] = text, n
  end
end
-- An amount's decimal text: small ones from the table.
local function countText(n)
  if smallCountText == nil then makeSmallCounts() end
  return smallCountText[n] or string.format('%d', n)
end

-- Called only when a stored counter is out of range: names the first one that is.
local function storedCountViolated(b, value, counts)
  for i, name in ipairs({ 'spent', 'reserved', 'debt' }) do
    if counts[i] < 0 then violated(name .. ' >= 0 on ' .. b.scope .. ' (stored ' .. string.sub(value, 1, 64) .. ')') end
    if counts[i] > 9007199254740991 then
      violated(name .. ' is a safe integer on ' .. b.scope .. ' (stored ' .. string.sub(value, 1, 64) .. ')')
    end
  end
end

-- The numbers of counter texts this library wrote, by the text itself, across calls: the next call
-- on a counter reads back what the last one wrote, and a lookup costs a fifth of parsing the text
-- (a pattern and three strings). An entry depends on nothing but its key, so it is never stale;
-- only texts saveCounters made from numbers a load accepts go in. Dropped whole at countsCacheMax entries.
local countsCacheMax = 4096
local countsCache, countsCacheSize = {}, 0

-- The counters hash fields of a list of budgets, in its order.
local function counterFieldsOf(list)
  local fields = {}
  for i = 1, #list do fields[i] = list[i].field end
  return fields
end

-- The same with the definitions version first: what loadCachedCounters reads.
local function withVersionField(fields)
  local out = { definitionsVersionField }
  for i = 1, #fields do out[i + 1] = fields[i] end
  return out
end

-- Fills in the counters of every budget in list from values[offset + i] (an HMGET of their fields).
local function fillCounters(list, values, offset)
  for i = 1, #list do local b = list[i]
    local value = values[offset + i]
    local known = value and countsCache[value]
    if known then
      b.spent, b.reserved, b.debt, b.found, b.text = known[1], known[2], known[3], true, value
    elseif value then
      local s, r, d = string.match(value, '^(%-?%d+):(%-?%d+):(%-?%d+)$')
      if s == nil then violated('counters of ' .. b.scope .. ' are three integers (stored ' .. string.sub(value, 1, 64) .. ')') end
      -- The pattern admits only digits: each is a number; checked in line, the message built only on failure.
      if smallCountValue == nil then makeSmallCounts() end
      local spent = smallCountValue[s] or tonumber(s)
      local reserved = smallCountValue[r] or tonumber(r)
      local debt = smallCountValue[d] or tonumber(d)
      if spent < 0 or reserved < 0 or debt < 0 or spent > 9007199254740991 or reserved > 9007199254740991
        or debt > 9007199254740991 then
        storedCountViolated(b, value, { spent, reserved, debt })
      end
      b.spent, b.reserved, b.debt, b.found, b.text = spent, reserved, debt, true, value
    else
      b.spent, b.reserved, b.debt, b.found, b.text = 0, 0, 0, false, '0:0:0'
    end
  end
end

-- Fills in the counters of every budget in list (fields: counterFieldsOf(list), when the caller
-- keeps it).
local function loadCounters(list, fields)
  if #list == 0 then return end
  fillCounters(list, redis.call('HMGET', countersKey, unpack(fields or counterFieldsOf(list))), 0)
end

-- A cache entry's definitions (definitionsOf) and the budget tables made from them, confirmed and
-- their counters loaded by one HMGET of the counters hash, which mirrors the definitions version
-- (countersWithVersion: withVersionField of the tables' counter fields). True when the version is
-- still the entry's; false (nothing filled in) when it moved or was never mirrored: the caller then
-- reads the definitions and counters as usual.
local function loadCachedCounters(entry, list, countersWithVersion)
  local values = redis.call('HMGET', countersKey, unpack(countersWithVersion))
  if values[1] ~= entry.version then
    -- Never mirrored (or the counters hash was removed): definitionsOf mirrors the version it confirms.
    if values[1] == false then countersUnmirrored = true end
    return false
  end
  fillCounters(list, values, 1)
  return true
end

-- Window counters that went idle are dropped a few at a time; one that still holds something stays.
local idleCountersPruneMax = 16
local function pruneIdleCounters()
  local idle = redis.call('ZRANGEBYSCORE', countersIdleKey, '-inf', now, 'LIMIT', 0, idleCountersPruneMax)
  if #idle == 0 then return end
  local values = redis.call('HMGET', countersKey, unpack(idle))
  for i = 1, #idle do local counterField = idle[i]
    local reserved = values[i] and tonumber(string.match(values[i], '^%-?%d+:(%-?%d+):'))
    if reserved and reserved > 0 then
      redis.call('ZADD', countersIdleKey, now + clockCountersRetentionMs, counterField)
    else
      redis.call('HDEL', countersKey, counterField)
      redis.call('ZREM', countersIdleKey, counterField)
    end
  end
end

-- Writes counters; window counters get (or push back) their idle deadline. Lifetime counters live
-- with their budget. The HSET's arguments are a table kept with the list (a cached list is saved on
-- every call with the same length).
local function saveCounters(list)
  local count = #list
  if count == 0 then return end
  if smallCountText == nil then makeSmallCounts() end
  local args = list.saveArgs
  if args == nil then
    args = {}
    list.saveArgs = args
  end
  local idleDeadlines = nil
  for i = 1, count do local b = list[i]
    args[2 * i - 1] = b.field
    -- countText in line: three calls per budget cost more than the lookups.
    local text = (smallCountText[b.spent] or string.format('%d', b.spent)) .. ':'
      .. (smallCountText[b.reserved] or string.format('%d', b.reserved)) .. ':'
      .. (smallCountText[b.debt] or string.format('%d', b.debt))
    args[2 * i] = text
    b.text = text
    -- Only numbers a load would accept: the cache never answers what parsing would refuse.
    if countsCache[text] == nil and b.spent >= 0 and b.reserved >= 0 and b.debt >= 0
      and b.spent <= 9007199254740991 and b.reserved <= 9007199254740991 and b.debt <= 9007199254740991 then
      if countsCacheSize >= countsCacheMax then countsCache, countsCacheSize = {}, 0 end
      countsCache[text] = { b.spent, b.reserved, b.debt }
      countsCacheSize = countsCacheSize + 1
    end
    if b.instance ~= 'life' then
      local retentionMs = clockCountersRetentionMs
      if b.def.window == 'run' then retentionMs = runCountersRetentionMs end
      idleDeadlines = idleDeadlines or {}
      idleDeadlines[#idleDeadlines + 1] = now + retentionMs
      idleDeadlines[#idleDeadlines + 1] = b.field
    end
  end
  redis.call('HSET', countersKey, unpack(args, 1, 2 * count))
  if idleDeadlines then
    redis.call('ZADD', countersIdleKey, unpack(idleDeadlines))
    pruneIdleCounters()
  end
end

-- A reservation's holds ("h"): "<gen> <instance code> <scope>" joined by ';', where the instance code
-- is L (lifetime), R (the run window of the reservation's runId, kept in "ri": a runId may contain
-- anything) or the clock window instance itself ("hour:491234").
local function holdOf(b)
  local def = b.def
  if def.window == 'lifetime' then
    -- The same text on every call: kept with the parsed definition (for its scope).
    if def.lifeHoldScope ~= b.scope then
      def.lifeHold, def.lifeHoldScope = def.gen .. ' L ' .. b.scope, b.scope
    end
    return def.lifeHold
  end
  local code = b.instance
  if def.window == 'run' then code = 'R' end
  return def.gen .. ' ' .. code .. ' ' .. b.scope
end

-- Parsed holds texts by the text itself, across calls: every reservation on one chain of budgets has
-- the same text, and parsing it (a pattern over ~200 characters, a string per part) cost a tenth of a
-- settle. An entry depends on nothing but its key, so it is never stale; each entry also keeps the
-- budgets hash fields of its holds per unit. Dropped whole at holdsCacheMax entries, as defCache is.
-- Entries are shared: nothing outside holdsOf and heldBudgets' fields lookup writes to one.
local holdsCacheMax = 4096
local holdsCache, holdsCacheSize = {}, 0
local function holdsOf(holdsText)
  local holds = holdsCache[holdsText]
  if holds then return holds end
  holds = { byUnit = {} }
  -- One pattern over the whole text (scopes have no space or ';').
  for gen, code, scope in string.gmatch(holdsText, '(%d+) (%S+) ([^;]+)') do
    -- instance: the counter's window instance, nil for the run window (it depends on the runId).
    local instance = code
    if code == 'L' then instance = 'life' elseif code == 'R' then instance = nil end
    holds[#holds + 1] = { gen = gen, instance = instance, scope = scope }
  end
  if holdsCacheSize >= holdsCacheMax then holdsCache, holdsCacheSize = {}, 0 end
  holdsCache[holdsText] = holds
  holdsCacheSize = holdsCacheSize + 1
  return holds
end

-- A holds entry's part for one unit: the holds' budget fields (then those definitionsOf reads after
-- them), the definitions last read and the budget tables made from them (heldBudgets), and the
-- overdue-slot entry of the chain (dueEntryOf): the only parts of a holds entry written to.
local function byUnitOf(holds, unit)
  local byUnit = holds.byUnit[unit]
  if byUnit == nil then
    local fields = {}
    for i = 1, #holds do fields[i] = holds[i].scope .. '|' .. unit end
    fields[#holds + 1] = shapeGenField
    fields[#holds + 2] = layoutField
    fields[#holds + 3] = definitionsVersionField
    byUnit = { fields = fields }
    holds.byUnit[unit] = byUnit
  end
  return byUnit
end

-- ------------------------------------------------------------------ overdue slots (see core/hold-deadline.ts)

-- A hold returns at its deadline: expiresAt + grace rounded down to a slot of the grace's scale.
-- The slot of each grace seen (a handful: one per store configuration), so no call loops for it.
local slotOfGrace, gracesKnown = {}, 0
local function deadlineOf(expiresAtMs, graceMs)
  local slotMs = slotOfGrace[graceMs]
  if slotMs == nil then
    slotMs = 1
    while slotMs * 2 <= graceMs / 4 do slotMs = slotMs * 2 end
    if gracesKnown < 64 then
      slotOfGrace[graceMs], gracesKnown = slotMs, gracesKnown + 1
    end
  end
  return math.floor((expiresAtMs + graceMs) / slotMs) * slotMs
end

-- Per deadline slot, the estimates of the open holds with that deadline whose amounts the counters
-- still count: "due:<deadline>" by the holds' budgets ("<unit> <holds text>": one entry per chain of
-- budgets, however many holds share it) and "due-run:<deadline>" by run-window counter field (run
-- ids are the caller's, so each run has its own entry). A hold adds its estimate when it is made and
-- takes it back when it settles, expires or moves (extend); an entry that reaches 0 is deleted, and
-- so is a slot left empty. A call that finds more overdue holds than it expires one by one
-- (expireBatchMax) folds the overdue slots' entries that touch the counters it reads into those
-- counters (foldDue), so every call sees exactly what is free, at a cost bounded by the overdue
-- slots and the chains of budgets (which the operator defines), never by the overdue holds. A folded
-- entry is deleted: the hold's own expiry later finds it below 0 and leaves those counters alone.
local dueSlotsFoldMax = 1024
-- The slot's chain key, and its run key only when there are run-window fields (most holds have
-- none). The last slot's text and chain key are kept: calls within one slot (1,024 ms by default)
-- share them.
local lastDueDeadline, lastDueBase, lastDueSlot, lastDueChainKey
local function dueKeys(deadline, withRunKey)
  if deadline ~= lastDueDeadline or base ~= lastDueBase then
    lastDueSlot = int(deadline)
    lastDueDeadline, lastDueBase, lastDueChainKey = deadline, base, base .. 'due:' .. lastDueSlot
  end
  if not withRunKey then return lastDueChainKey, nil end
  return lastDueChainKey, base .. 'due-run:' .. lastDueSlot
end

-- A deadline slot's decimal text, as dueKeys keeps it (the holds index's score).
local function dueSlotText(deadline)
  dueKeys(deadline, false)
  return lastDueSlot
end

-- The run-window counter fields among a hold's budgets.
local function runFieldsOf(list)
  local fields = {}
  for i = 1, #list do local b = list[i]
    if b.def.window == 'run' then fields[#fields + 1] = b.field end
  end
  return fields
end

-- A chain's field in an overdue slot, "<unit> <holds text>", kept with the parsed holds.
local function dueEntryOf(unit, holdsText)
  local byUnit = byUnitOf(holdsOf(holdsText), unit)
  local entry = byUnit.dueEntry
  if entry == nil then
    entry = unit .. ' ' .. holdsText
    byUnit.dueEntry = entry
  end
  return entry
end

-- Amounts go to redis.call as text made here: a Lua number argument is converted by Redis at ~3.7k
-- instructions, more than countText's lookup or even a string.format (~2.3k).
local function addDue(deadline, unit, holdsText, runFields, estimate)
  if estimate <= 0 or holdsText == '' then return end
  local chainKey, runKey = dueKeys(deadline, #runFields > 0)
  local amount = countText(estimate)
  redis.call('HINCRBY', chainKey, dueEntryOf(unit, holdsText), amount)
  for i = 1, #runFields do redis.call('HINCRBY', runKey, runFields[i], amount) end
end

local function takeDue(key, entry, estimate)
  local left = redis.call('HINCRBY', key, entry, '-' .. countText(estimate))
  if left <= 0 then redis.call('HDEL', key, entry) end
  return left >= 0
end

-- Takes a hold's estimate out of its slot. Returns whether the counters still counted it, for the
-- chain's lifetime and clock-window counters and per run-window counter field (false: folded).
local function removeDue(deadline, unit, holdsText, runFields, estimate)
  local runCounted = {}
  if estimate <= 0 or holdsText == '' then return true, runCounted end
  local chainKey, runKey = dueKeys(deadline, #runFields > 0)
  local chainCounted = takeDue(chainKey, dueEntryOf(unit, holdsText), estimate)
  for i = 1, #runFields do runCounted[runFields[i]] = takeDue(runKey, runFields[i], estimate) end
  return chainCounted, runCounted
end

-- Folds what overdue holds, not yet expired one by one, hold on these budgets into the counters, and
-- saves them. A chain entry is folded whole (every counter it names that still has its budget), so
-- it is folded once.
local function foldDue(list)
  if not dueBacklog or #list == 0 then return end
  local runFields = runFieldsOf(list)
  -- Per counter field: the amount to free, and where it is (for budgets not in list).
  local pending, order = {}, {}
  local function note(counterField, amount, gen, scope, unit, instance)
    local entry = pending[counterField]
    if not entry then
      entry = { amount = 0, gen = gen, scope = scope, unit = unit, instance = instance }
      pending[counterField] = entry
      order[#order + 1] = counterField
    end
    entry.amount = entry.amount + amount
  end
  local after = '-inf'
  for _ = 1, dueSlotsFoldMax do
    local slot = redis.call('ZRANGEBYSCORE', holdsKey, after, now, 'WITHSCORES', 'LIMIT', 0, 1)
    if #slot == 0 then break end
    after = '(' .. slot[2]
    local chainKey, runKey = dueKeys(tonumber(slot[2]), #runFields > 0)
    local chains = redis.call('HGETALL', chainKey)
    for i = 1, #chains, 2 do
      local amount = tonumber(chains[i + 1])
      local unit, holdsText = string.match(chains[i], '^(%S+) (.*)$')
      if amount > 0 then
        for item in string.gmatch(holdsText, '[^;]+') do
          local gen, code, scope = string.match(item, '^(%d+) (%S+) (.+)$')
          if code ~= 'R' then
            local instance = code
            if code == 'L' then instance = 'life' end
            note(counterId(gen, instance), amount, gen, scope, unit, instance)
          end
        end
      end
    end
    if #chains > 0 then redis.call('DEL', chainKey) end
    if #runFields > 0 then
      local values = redis.call('HMGET', runKey, unpack(runFields))
      local drop = {}
      for i = 1, #runFields do local counterField = runFields[i]
        local amount = tonumber(values[i])
        if amount and amount > 0 then
          note(counterField, amount)
          drop[#drop + 1] = counterField
        end
      end
      if #drop > 0 then redis.call('HDEL', runKey, unpack(drop)) end
    end
  end
  if #order == 0 then return end
  -- Budgets a chain names beyond this call's: loaded like any other, skipped when removed.
  local byField = {}
  for i = 1, #list do byField[list[i].field] = list[i] end
  local others, otherFields = {}, {}
  for i = 1, #order do local counterField = order[i]
    if not byField[counterField] then
      others[#others + 1] = pending[counterField]
      otherFields[#otherFields + 1] = pending[counterField].scope .. '|' .. pending[counterField].unit
    end
  end
  if #others > 0 then
    local defs = redis.call('HMGET', budgetsKey, unpack(otherFields))
    local extra = {}
    for i = 1, #others do local entry = others[i]
      if defs[i] then
        local def = parseDef(defs[i])
        if def.gen == entry.gen then
          local b = budgetAt(def, entry.scope, entry.instance)
          byField[b.field] = b
          extra[#extra + 1] = b
        end
      end
    end
    loadCounters(extra)
  end
  local touched = {}
  for i = 1, #order do local counterField = order[i]
    local b = byField[counterField]
    -- A counter that is gone (its budget removed) has nothing left to free.
    if b and b.found then
      b.reserved = b.reserved - pending[counterField].amount
      assertCounters(b)
      touched[#touched + 1] = b
    end
  end
  saveCounters(touched)
end

-- The budgets a reservation holds that still exist: a removed (or removed and re-added) budget is
-- skipped, so its holds settle as no-ops. runFields, when given, receives the run-window counter
-- fields the holds name, whether or not their budgets still exist (for removeDue).
local function heldBudgets(holdsText, unit, runId, runFields)
  local holds = holdsOf(holdsText)
  local held = {}
  local runInstance = nil
  for i = 1, #holds do
    if holds[i].instance == nil then
      runInstance = runInstance or instanceOf('run', runId)
      if runFields then runFields[#runFields + 1] = counterId(holds[i].gen, runInstance) end
    end
  end
  if #holds == 0 then return held end
  local byUnit = byUnitOf(holds, unit)
  -- The budget tables of the last call with these definitions (and run instance) are reused, as in
  -- the reserve; while the definitions version is unchanged one HMGET confirms them and loads them.
  local candidates = byUnit.candidates
  if candidates and byUnit.defs and byUnit.base == base and byUnit.candidatesDefs == byUnit.defs
    and byUnit.candidatesRun == runInstance and loadCachedCounters(byUnit, candidates, byUnit.countersWithVersion) then
    if byUnit.present then tenantKnown = true end
  else
    local defs, _, marker = definitionsOf(byUnit, byUnit.fields, #holds)
    local present = false
    for i = 1, #holds do
      if defs[i] then present = true end
    end
    checkLayout(marker, present)
    if present then tenantKnown = true end
    if not (candidates and byUnit.candidatesDefs == defs and byUnit.candidatesRun == runInstance) then
      candidates = {}
      for i = 1, #holds do local hold = holds[i]
        local raw = defs[i]
        if raw then
          local def = defCache[raw] or parseDef(raw)
          if def.gen == hold.gen then
            candidates[#candidates + 1] = budgetAt(def, hold.scope, hold.instance or runInstance)
          end
        end
      end
      byUnit.candidates, byUnit.candidatesDefs, byUnit.candidatesRun = candidates, defs, runInstance
      byUnit.counterFields = counterFieldsOf(candidates)
      byUnit.countersWithVersion = withVersionField(byUnit.counterFields)
    end
    byUnit.present = present
    loadCounters(candidates, byUnit.counterFields)
  end
  foldDue(candidates)
  -- Usually every one is found: then the list itself (no caller keeps it past its call).
  for i = 1, #candidates do
    if not candidates[i].found then
      for j = 1, #candidates do local b = candidates[j]
        if b.found then held[#held + 1] = b end
      end
      return held
    end
  end
  return candidates
end

local function balanceJson(b, unit)
  return '{"scope":' .. quoted(b.scope) .. ',"unit":"' .. unit .. '","window":"' .. b.def.window
    .. '","instance":' .. str(b.instance) .. ',"allocated":' .. b.def.limitText .. ',"spent":' .. int(b.spent)
    .. ',"reserved":' .. int(b.reserved) .. ',"debt":' .. int(b.debt) .. ',"remaining":' .. int(remainingOf(b)) .. '}'
end

-- An amount for a reply: an integer reply, or decimal text from 9e15 up. The client parses integer
-- replies as n * 10 + digit, which is not exact near 2^53 (9007199254740991 came back as ...992);
-- text is parsed exactly (src/store/redis/replies.ts). Text costs a string, so only where needed.
local exactIntegerReplyMax = 9e15
local function replyAmount(n)
  if n < exactIntegerReplyMax then return n end
  return int(n)
end

-- Balances for the client, one string per budget after the reply's leading items:
-- "<lead> <window> <allocated> <spent>:<reserved>:<debt> <instance>", where lead is the index into
-- the candidate scopes (byIndex) or the scope, the amounts are the texts stored (exact at any size),
-- and the instance comes last (a run's instance holds the caller's run id, which may hold spaces).
-- Seven items per budget cost ~1k instructions each to hand to Redis; a string of texts the call
-- already has costs one concatenation.
local function pushBalances(out, list, byIndex)
  local n = #out
  for i = 1, #list do local b = list[i]
    local lead = b.scope
    if byIndex then lead = countText(b.index) end
    out[n + i] = lead .. ' ' .. b.def.window .. ' ' .. b.def.limitText .. ' ' .. b.text .. ' ' .. b.instance
  end
  return out
end

-- ------------------------------------------------------------------ the decision rule (core/decision.ts)

-- The tier digits a budget's narrowing disables at this use ('' for none).
local function disabledDigitsAt(def, used)
  if def.bands == '' then return '' end
  if def.limit <= 0 then return '12345' end
  local utilization = used / def.limit
  local disabled = ''
  for from, digits in string.gmatch(def.bands, '([^:,]+):(%d*)') do
    if utilization >= tonumber(from) then disabled = digits else break end
  end
  return disabled
end

-- The union of the tiers the checked budgets disable with extra more used, in tier order.
local function capsAfter(checked, extra)
  local union = ''
  for i = 1, #checked do local b = checked[i]
    union = union .. disabledDigitsAt(b.def, b.spent + b.reserved + b.debt + extra)
  end
  if union == '' then return nil end
  local out = {}
  for digit = 1, 5 do
    if string.find(union, digit, 1, true) then out[#out + 1] = TIERS[digit] end
  end
  return table.concat(out, ',')
end

local allowAnswer = { decision = 'ALLOW' }

local function evaluate(checked, tier, estimate)
  if #checked == 0 then return { decision = 'DENY', reasonCode = 'BUDGET_NOT_FOUND' } end
  local narrowed = false
  for i = 1, #checked do local b = checked[i]
    local def = b.def
    -- A zero budget is a revoked grant: always DENY, even for a free action.
    if def.limit == 0 then return { decision = 'DENY', reasonCode = 'BUDGET_EXCEEDED', deniedScope = b.scope } end
    if b.debt > 0 then return { decision = 'DENY', reasonCode = 'DEBT_OUTSTANDING', deniedScope = b.scope } end
    -- An exhausted budget takes nothing new, not even a free action.
    local remaining = def.limit - b.spent - b.reserved - b.debt -- remainingOf(b) in line
    if remaining <= 0 or remaining < estimate then
      return { decision = 'DENY', reasonCode = 'BUDGET_EXCEEDED', deniedScope = b.scope }
    end
    if def.bands ~= '' then narrowed = true end
  end
  -- Without narrowing bands no tier is disabled: nothing more to work out (callers only read it).
  if not narrowed then return allowAnswer end
  local tierDigit = TIER_DIGIT[tier]
  for i = 1, #checked do local b = checked[i]
    local disabled = disabledDigitsAt(b.def, b.spent + b.reserved + b.debt)
    if disabled ~= '' and string.find(disabled, tierDigit, 1, true) then
      return { decision = 'DENY', reasonCode = 'TIER_DISABLED', deniedScope = b.scope, caps = capsAfter(checked, 0) }
    end
  end
  local caps = capsAfter(checked, estimate)
  if caps == nil then return { decision = 'ALLOW' } end
  return { decision = 'ALLOW_WITH_CAPS', caps = caps }
end

-- ------------------------------------------------------------------ idempotency and audit

local conflictJson = '{"ok":false,"error":"IDEMPOTENCY_CONFLICT"}'

-- Stored as "<fingerprint>\\n<outcome json>"; a replay is the outcome with "replayed":true.
local function replay(op, key, fingerprint)
  if key == '' then return nil end
  local stored = redis.call('GET', idempotencyKey(op, key))
  if not stored then return nil end
  local cut = string.find(stored, '\\n', 1, true)
  if string.sub(stored, 1, cut - 1) ~= fingerprint then return conflictJson end
  return '{"replayed":true,' .. string.sub(stored, cut + 2)
end

-- The same for operations that answer with a flat array (reserve, settle): the array is stored as
-- JSON of strings. Returns the stored array, or false on a conflict, or nil when there is none.
local function replayArray(op, key, fingerprint)
  if key == '' then return nil end
  local stored = redis.call('GET', idempotencyKey(op, key))
  if not stored then return nil end
  local cut = string.find(stored, '\\n', 1, true)
  if string.sub(stored, 1, cut - 1) ~= fingerprint then return false end
  return cjson.decode(string.sub(stored, cut + 1))
end

-- Records expire by time and, per tenant, by count: the oldest beyond idempotencyKeysMax goes.
local function remember(op, key, fingerprint, outcome)
  if key == '' then return end
  local recordKey = idempotencyKey(op, key)
  redis.call('SET', recordKey, fingerprint .. '\\n' .. outcome, 'PX', idempotencyRetentionMs)
  if redis.call('LPUSH', idempotencyIndexKey, recordKey) > idempotencyKeysMax then
    redis.call('DEL', redis.call('RPOP', idempotencyIndexKey))
  end
  expireUnlessKnown(idempotencyIndexKey)
end

local function rememberArray(op, key, fingerprint, reply)
  if key == '' then return end
  local strings = {}
  for i = 1, #reply do local item = reply[i]
    if type(item) == 'number' then strings[i] = int(item) else strings[i] = item end
  end
  remember(op, key, fingerprint, cjson.encode(strings))
end

-- A settled reservation is a status on its record, which expires settledRetentionMs after settling.
-- Per tenant at most settledReservationsMax of them (plus a slack of 1/64 of that) are kept: the ids
-- go on a list, newest first, and when it is longer than that, the oldest beyond
-- settledReservationsMax go at once, one RPOP and one DEL every settledTrimSlack settles instead of
-- on every settle. A late second settle within that gets a precise error.
local function keepSettled(id, key)
  redis.call('PEXPIRE', key, settledRetentionMs)
  local length = redis.call('LPUSH', settledKey, id)
  if length > settledReservationsMax + settledTrimSlack then
    local oldest = redis.call('RPOP', settledKey, length - settledReservationsMax)
    local keys = {}
    for i = 1, #oldest do keys[i] = reservationKey(oldest[i]) end
    redis.call('DEL', unpack(keys))
  end
  expireUnlessKnown(settledKey)
end

-- A budget's "<scope> <allocated> " in an audit event's balances, kept with its table.
local function auditHeadOf(b)
  local head = b.auditHead
  if not head then
    head = b.scope .. ' ' .. b.def.limitText .. ' '
    b.auditHead = head
  end
  return head
end

-- An audit event is a stream entry of short fields that the reader (audit-reader.ts) turns into the
-- event's JSON; nothing here builds JSON. kind: the event's type; fragment: JSON fields every event
-- of the operation carries (an object body without braces, from the client or the reservation
-- record, spliced by the reader as it is; '' for none); extra (optional, a table of the caller's own,
-- which gets the other fields appended): more fields as a flat list of name, value, where the name
-- is the event's key after a kind character: '$' a string value, '#' an integer (decimal text or a
-- Lua number, which Redis formats exactly below 2^53), '=' JSON text;
-- balances (optional): the budgets whose balances the event reports, one field 'C' of
-- "<scope> <allocated> <spent>:<reserved>:<debt>" per budget joined by ';' ('' for none; scopes have no
-- space or ';'), the counters as the counters hash holds them now (b.text: what loadCounters read or
-- saveCounters wrote; every path that changes a counter saves it before its event); the reader
-- works out remaining. (Entries written before it carry 'B', with remaining in place of the
-- counters: old readers skip 'C' instead of misreading it.)
--
-- The head ('H'): "<kind> <seconds> <microseconds>" (TIME's two strings as the server gave them),
-- then for the events of a reservation (numbers: the caller's "<estimate> <decision or amount>
-- <reservationId>", the id '' for a reserve that holds nothing) those three: one field instead of up
-- to six name/value pairs, each argument costing Redis ~1k instructions. The test clock offset is
-- 'o' when there is one. Entries written before 'H' carry 't', 's', 'u' and the three as '#estimate',
-- '$decision' / '#amount' and '$reservationId' (the reader reads both; a reader from before 'H' reads
-- none of it: there is no released build that wrote the earlier layout).
--
-- The event's sequence is its stream id: "0-*" has the stream number its entries 0-1, 0-2, ... (the
-- stream keeps its last id when trimmed), so no counter is read or written for it. Returns the
-- event's seq.
local function appendAudit(kind, fragment, extra, balances, numbers)
  local head
  if numbers then
    head = kind .. ' ' .. timeSec .. ' ' .. timeMicros .. ' ' .. numbers
  else
    head = kind .. ' ' .. timeSec .. ' ' .. timeMicros
  end
  local packed = nil
  if balances then
    -- One field for all of them, of strings the call has already (the reader works out remaining):
    -- a string.format per budget, or a table.concat, cost 20-30k instructions per event.
    -- Each budget's "<scope> <allocated> " is kept with its table (fixed while the table is reused),
    -- and budgets are joined four at a time, each group in one concatenation (every intermediate
    -- string costs ~1k; table.concat over a kept parts table measured 10k more per pair at four).
    packed = ''
    for i = 1, #balances, 4 do
      local a, b, c, d = balances[i], balances[i + 1], balances[i + 2], balances[i + 3]
      local group
      if d then
        group = auditHeadOf(a) .. a.text .. ';' .. auditHeadOf(b) .. b.text .. ';' .. auditHeadOf(c) .. c.text .. ';'
          .. auditHeadOf(d) .. d.text
      elseif c then
        group = auditHeadOf(a) .. a.text .. ';' .. auditHeadOf(b) .. b.text .. ';' .. auditHeadOf(c) .. c.text
      elseif b then
        group = auditHeadOf(a) .. a.text .. ';' .. auditHeadOf(b) .. b.text
      else
        group = auditHeadOf(a) .. a.text
      end
      if i == 1 then packed = group else packed = packed .. ';' .. group end
    end
  end
  local id
  if extra == nil and clockOffset == '0' and fragment ~= '' and packed then
    -- The common event (a reservation's, nothing optional): no table at all.
    id = redis.call('XADD', auditKey, 'MAXLEN', '~', auditEventsMax, '0-*', 'H', head, 'f', fragment, 'C', packed)
  else
    -- The optional fields go after the caller's (a table of its own, appended to here).
    local rest = extra or {}
    local n = #rest
    if clockOffset ~= '0' then
      rest[n + 1], rest[n + 2] = 'o', clockOffset
      n = n + 2
    end
    if fragment ~= '' then
      rest[n + 1], rest[n + 2] = 'f', fragment
      n = n + 2
    end
    if packed then rest[n + 1], rest[n + 2] = 'C', packed end
    id = redis.call('XADD', auditKey, 'MAXLEN', '~', auditEventsMax, '0-*', 'H', head, unpack(rest))
  end
  expireUnlessKnown(auditKey)
  -- The event's seq (its id "0-<seq>") as the decimal text it is (the client reads either): an
  -- operation's answer names its own event.
  return string.sub(id, 3)
end

-- ------------------------------------------------------------------ expiry (server clock)

-- A record's deadline, from its text fields.
local function recordDeadline(expiresAtText, graceText)
  return deadlineOf(tonumber(expiresAtText), tonumber(graceText))
end

-- A hold added to the holds index with this deadline, or one removed or moved (any deadline), as the
-- batch's knowledge of the tenant's earliest deadline goes (see batchEarliest).
local function noteHoldAdded(deadline)
  if inBatch and batchDueBase == base and batchEarliest and (batchEarliest == 0 or deadline < batchEarliest) then
    batchEarliest = deadline
  end
end
local function noteHoldRemoved(deadline)
  if inBatch and batchDueBase == base and deadline ~= nil and deadline ~= batchEarliest then return end
  batchEarliest = false
end

local function expireOne(id)
  local key = reservationKey(id)
  local r, k = readRecord(key)
  if r == nil or r[1] ~= 'held' then
    -- Settled meanwhile or aged out: the index entry is stale.
    redis.call('ZREM', holdsKey, id)
    noteHoldRemoved(nil)
    return false
  end
  local deadline = recordDeadline(r[5], k.grace)
  if deadline > now then return false end
  local estimate = tonumber(r[3])
  local runFields = {}
  local held = heldBudgets(k.holds, k.unit, r[4] or '', runFields)
  redis.call('ZREM', holdsKey, id)
  noteHoldRemoved(nil)
  -- What a fold moved into the counters already is not taken out again.
  local chainCounted, runCounted = true, nil
  if estimate > 0 then chainCounted, runCounted = removeDue(deadline, k.unit, k.holds, runFields, estimate) end
  local changed = {}
  for i = 1, #held do local b = held[i]
    local counted = chainCounted
    if runCounted and b.def.window == 'run' then counted = runCounted[b.field] end
    if counted then
      b.reserved = b.reserved - estimate
      changed[#changed + 1] = b
    end
    assertCounters(b)
  end
  saveCounters(changed)
  redis.call('HSET', key, 'st', 'expired')
  keepSettled(id, key)
  local amount = r[3]
  if r[2] == '1' then amount = '0' end
  appendAudit('expire', k.fragment, nil, held, r[3] .. ' ' .. amount .. ' ' .. id)
  return true
end

-- Expires this tenant's overdue holds one by one, at most expireBatchMax per call (each writes its
-- audit event). When that leaves some behind, foldDue makes what the call reads exact all the same.
local function expireDue()
  if inBatch and batchDueBase == base then
    earliestHold = batchEarliest
    return 0
  end
  -- The earliest hold first: when it is not due (the common case) that is the only call, and it is
  -- what nextDeadline answers.
  local first = redis.call('ZRANGE', holdsKey, '0', '0', 'WITHSCORES')
  if #first == 0 then
    earliestHold = 0
    if inBatch then batchDueBase, batchEarliest = base, 0 end
    return 0
  end
  if tonumber(first[2]) > now then
    earliestHold = tonumber(first[2])
    if inBatch then batchDueBase, batchEarliest = base, earliestHold end
    return 0
  end
  local due = redis.call('ZRANGEBYSCORE', holdsKey, '-inf', now, 'LIMIT', 0, expireBatchMax)
  local expired = 0
  for i = 1, #due do local id = due[i]
    if expireOne(id) then expired = expired + 1 end
  end
  dueBacklog = #due >= expireBatchMax
  return expired
end

-- A held reservation past its deadline that expireDue has not reached yet is expired now, before a
-- settle, extend or read looks at it. Returns true when it was, and a held one's deadline.
local function expireIfOverdue(id, status, expiresAtText, graceText)
  if status ~= 'held' then return false end
  local deadline = recordDeadline(expiresAtText, graceText)
  if deadline > now then return false, deadline end
  return expireOne(id), deadline
end

-- The earliest deadline left, or 0: tells the sweep index when to come back for this tenant.
local function nextDeadline()
  if earliestHold then return earliestHold end
  if inBatch and batchDueBase == base and batchEarliest then return batchEarliest end
  local first = redis.call('ZRANGE', holdsKey, '0', '0', 'WITHSCORES')
  if #first == 0 then return 0 end
  return tonumber(first[2])
end
`;
