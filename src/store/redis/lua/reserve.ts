/**
 * reserve / decide: check every budgeted scope of the chain, then hold the estimate on all or none.
 *
 * ARGV[4..]: reservationId, unit, tier, estimate, runId ("" for none), ttlMs, graceMs, overagePolicy,
 * dryRun ("1"/"0"), shadow ("1"/"0"), idempotency key ("" for none), fingerprint,
 * reserveEvent (JSON fields of the audit event known up front), recordEvent (JSON fields every later
 * event of this reservation repeats; with the numeric fields it is also the record's fixed part),
 * then the candidate scopes, outermost first.
 *
 * Returns { outcome json, deadline to note in the sweep index or 0 }.
 */
export const reserveLua = `
local id = ARGV[4]
local unit = ARGV[5]
local tier = ARGV[6]
local estimate = tonumber(ARGV[7])
local runId = ARGV[8]
local ttlMs = tonumber(ARGV[9])
local graceMs = tonumber(ARGV[10])
local overagePolicy = ARGV[11]
local dryRun = ARGV[12] == '1'
local shadow = ARGV[13] == '1'
local idemKey = ARGV[14]
local idemFingerprint = ARGV[15]
local reserveEvent = ARGV[16]
local recordEvent = ARGV[17]
local firstScope = 18

expireDue()
if not dryRun then
  local replayed = replay('reserve', idemKey, idemFingerprint)
  if replayed then return { replayed, 0 } end
end

local fields = {}
for i = firstScope, #ARGV do fields[#fields + 1] = ARGV[i] .. '|' .. unit end
local defs = redis.call('HMGET', budgetsKey, unpack(fields))
local checked = {}
for i, raw in ipairs(defs) do
  if raw then
    local def = cjson.decode(raw)
    checked[#checked + 1] = budgetAt(def, fields[i], instanceOf(def.window, runId))
  end
end
loadCounters(checked)

local verdict = evaluate(checked, tier, estimate)
local allowed = verdict.decision ~= 'DENY'
local function capsJson(caps)
  if caps == nil then return nil end
  return '{"disabledTiers":' .. tiersJson(caps) .. '}'
end

if dryRun then
  return { '{"decision":"' .. verdict.decision .. '"' .. field('reasonCode', verdict.reasonCode and str(verdict.reasonCode))
    .. field('deniedScope', verdict.deniedScope and str(verdict.deniedScope)) .. field('caps', capsJson(verdict.caps))
    .. ',"balances":' .. balancesJson(checked) .. '}', 0 }
end

local decision, reasonCode, deniedScope, caps = verdict.decision, verdict.reasonCode, verdict.deniedScope, verdict.caps
local shadowJson = nil
if shadow and not allowed then
  -- Shadow mode never blocks: the answer is ALLOW, and what enforcement would have said is kept aside.
  shadowJson = '{"decision":"DENY"' .. field('reasonCode', reasonCode and str(reasonCode))
    .. field('deniedScope', deniedScope and str(deniedScope)) .. '}'
  decision, reasonCode, deniedScope, caps = 'ALLOW', nil, nil, nil
end

local heldPart = ''
local hint = 0
if allowed or shadow then
  local key = reservationKey(id)
  invariant(redis.call('EXISTS', key) == 0, 'reservation id ' .. id .. ' reused')
  local holds = {}
  if allowed then
    for i, b in ipairs(checked) do
      b.c.reserved = b.c.reserved + estimate
      holds[i] = '{"scope":' .. str(b.def.scope) .. ',"instance":' .. str(b.instance) .. ',"gen":' .. int(b.def.gen) .. '}'
    end
    saveCounters(checked)
  end
  local expiresAtMs = now + ttlMs
  local deadline = expiresAtMs + graceMs
  local earliest = nextDeadline()
  if earliest == 0 or deadline < earliest then hint = deadline end
  local shadowDenied = '0'
  if not allowed then shadowDenied = '1' end
  redis.call('HSET', key, 'ev', recordEvent, 'h', '[' .. table.concat(holds, ',') .. ']',
    'u', unit, 'e', int(estimate), 'g', int(graceMs), 'p', overagePolicy, 'st', 'held', 'sd', shadowDenied,
    'c', int(now), 'x', int(expiresAtMs), 'ch', '0')
  redis.call('ZADD', holdsKey, deadline, id)
  heldPart = ',"reservationId":' .. str(id) .. ',"expiresAtMs":' .. int(expiresAtMs)
end

local answer = '"decision":"' .. decision .. '"' .. field('reasonCode', reasonCode and str(reasonCode))
  .. field('deniedScope', deniedScope and str(deniedScope)) .. field('caps', capsJson(caps))
local heldId = ''
if heldPart ~= '' then heldId = ',"reservationId":' .. str(id) end
appendAudit('"type":"reserve",' .. reserveEvent .. heldId .. ',' .. answer .. field('shadow', shadowJson)
  .. ',"balances":' .. auditBalancesJson(checked))
local outcome = '{' .. answer .. heldPart .. ',"balances":' .. balancesJson(checked) .. field('shadow', shadowJson) .. '}'
remember('reserve', idemKey, idemFingerprint, outcome)
return { outcome, hint }
`;
