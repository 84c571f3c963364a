/**
 * reserve / decide: check every budgeted scope of the chain, then hold the estimate on all or none.
 *
 * ARGV[4..]: reservationId, estimate, the plan (see planOf in lua/prelude.ts: what a caller's calls of
 * one action on one subject share, one argument the script parses once), then, each left out when
 * empty: runId, idempotency key, fingerprint.
 *
 * Returns a flat array (see `reserveOutcomeOf` in redis-store.ts): decision, reasonCode, deniedScope,
 * disabled tiers (comma-separated), reservationId, expiresAtMs, deadline to note in the sweep index,
 * shadow reasonCode, shadow deniedScope, replayed ("" or "1"), the audit event's seq ("" for a dry
 * run; a replay: the first call's), then per checked budget one string (pushBalances in
 * lua/prelude.ts): its candidate index, window, allocated, counters and instance. "" and 0 stand for
 * absent. On an idempotency conflict: { "!", "IDEMPOTENCY_CONFLICT" }; when the set of budgets
 * changed since the client's filter: { "!", "SHAPES_CHANGED", current generation }.
 */
export const reserveLua = `
local id = ARGV[4]
local plan = planOf(ARGV[6])
local unit = plan.unit
local tier = plan.tier
local estimate = tonumber(ARGV[5])
local runId = ARGV[7] or ''
local ttlMs = plan.ttlMs
local graceMs = plan.graceMs
local overagePolicy = plan.overagePolicy
local dryRun = plan.dryRun
local shadow = plan.shadow
local idemKey = ARGV[8] or ''
local idemFingerprint = ARGV[9] or ''
local fragment = plan.fragment
local actorJson = plan.actorJson
local shapeGen = plan.shapeGen

-- Before the first write (expireDue writes): a number that is not a safe integer is never held.
if not (estimate ~= nil and estimate >= 0 and estimate <= 9007199254740991 and estimate == math.floor(estimate)) then
  violated('estimate is a safe integer >= 0 (got ' .. string.sub(ARGV[5], 1, 32) .. ')')
end

expireDue()
if not dryRun then
  local replayed = replayArray('reserve', idemKey, idemFingerprint)
  if replayed == false then return { '!', 'IDEMPOTENCY_CONFLICT' } end
  if replayed then
    replayed[7] = 0
    replayed[10] = '1'
    -- The hold is the caller's now: a release of it as a lost reserve is refused (lua/settle.ts).
    if replayed[5] ~= '' and redis.call('HGET', reservationKey(replayed[5]), 'st') == 'held' then
      redis.call('HSET', reservationKey(replayed[5]), 'cl', '1')
    end
    return replayed
  end
end

local scopeCount = plan.scopeCount
local entry = plan.definitions
-- The budget tables of the last call on this plan with these definitions, while every window
-- instance is still the same (budgetAt: reused tables); otherwise made afresh and kept.
local checked = plan.checked
if checked and entry.defs and entry.base == base and plan.checkedDefs == entry.defs then
  for i = 1, #checked do local b = checked[i]
    if b.def.window ~= 'lifetime' and instanceOf(b.def.window, runId) ~= b.instance then
      checked = nil
      break
    end
  end
else
  checked = nil
end
local storedGen, marker
-- While the definitions version is unchanged, one HMGET confirms the cached tables and loads them.
if checked and loadCachedCounters(entry, checked, plan.checkedCountersWithVersion) then
  storedGen, marker = entry.gen, entry.marker
else
  local defs
  defs, storedGen, marker = definitionsOf(entry, plan.fields, scopeCount)
  -- Tables whose instances were found current above are kept if the definitions are the same.
  if checked == nil or plan.checkedDefs ~= defs then
    checked = {}
    for i = 1, scopeCount do
      local raw = defs[i]
      if raw then
        -- The cached definition and the lifetime instance looked up in line (a call each cost ~0.5k).
        local def = defCache[raw] or parseDef(raw)
        local instance = 'life'
        if def.window ~= 'lifetime' then instance = instanceOf(def.window, runId) end
        checked[#checked + 1] = budgetAt(def, plan.scopes[i], instance, i)
      end
    end
    plan.checked, plan.checkedDefs, plan.checkedFields = checked, defs, counterFieldsOf(checked)
    plan.checkedCountersWithVersion = withVersionField(plan.checkedFields)
    -- What the holds below make from the tables, made again for new ones.
    plan.holdsText, plan.runFields, plan.shared = nil, nil, nil
  end
  loadCounters(checked, plan.checkedFields)
end
checkLayout(marker, storedGen ~= false)
-- The client left out the scopes whose shape had no budget when the set of budgets was at
-- generation shapeGen: valid only while it still is. Otherwise it refreshes and asks again.
local currentGen = storedGen or '0'
if shapeGen ~= '' and shapeGen ~= currentGen then return { '!', 'SHAPES_CHANGED', currentGen } end
if #checked > 0 then tenantKnown = true end
foldDue(checked)

local verdict = evaluate(checked, tier, estimate)
local allowed = verdict.decision ~= 'DENY'

if dryRun then
  return pushBalances({ verdict.decision, verdict.reasonCode or '', verdict.deniedScope or '', verdict.caps or '',
    '', 0, 0, '', '', '', '' }, checked, true)
end

local decision, reasonCode, deniedScope, caps = verdict.decision, verdict.reasonCode, verdict.deniedScope, verdict.caps
local shadowReason, shadowScope = '', ''
if shadow and not allowed then
  -- Shadow mode never blocks: the answer is ALLOW, and what enforcement would have said is kept aside.
  shadowReason, shadowScope = reasonCode or '', deniedScope or ''
  decision, reasonCode, deniedScope, caps = 'ALLOW', nil, nil, nil
end

local heldId, expiresAtMs, hint = '', 0, 0
if allowed or shadow then
  local key = reservationKey(id)
  if redis.call('EXISTS', key) == 1 then violated('reservation id ' .. id .. ' reused') end
  local holds = {}
  if allowed then
    for i = 1, #checked do local b = checked[i]
      b.reserved = b.reserved + estimate
      if b.reserved < 0 or b.spent < 0 or b.debt < 0 then assertCounters(b) end
      -- remainingOf(b) in line
      if b.def.limit - b.spent - b.reserved - b.debt < 0 then violated('remaining >= 0 after a hold on ' .. b.scope) end
    end
    saveCounters(checked)
    -- The holds text and run fields of these tables: fixed while they are reused (the same
    -- definitions and instances), so made once per list.
    if plan.holdsText == nil then
      for i = 1, #checked do holds[i] = holdOf(checked[i]) end
      plan.holdsText, plan.runFields = table.concat(holds, ';'), runFieldsOf(checked)
    end
  end
  expiresAtMs = now + ttlMs
  local deadline = deadlineOf(expiresAtMs, graceMs)
  local earliest = nextDeadline()
  if earliest == 0 or deadline < earliest then hint = deadline end
  local holdsText = ''
  if allowed then holdsText = plan.holdsText end
  -- The record: fields at their default (no run id, not shadow-denied, nothing charged) are left out.
  -- The part every hold of this plan on these tables shares (readRecord in lua/prelude.ts), made
  -- once per list like the holds text.
  local shared
  if allowed then
    if plan.shared == nil then
      plan.shared = unit .. ' ' .. overagePolicy .. ' ' .. plan.graceText .. '\\n' .. holdsText .. '\\n' .. fragment
    end
    shared = plan.shared
  else
    shared = unit .. ' ' .. overagePolicy .. ' ' .. plan.graceText .. '\\n\\n' .. fragment
  end
  local record = { key, 'st', 'held', 'k', shared, 'e', ARGV[5], 'c', int(now), 'x', int(expiresAtMs) }
  if runId ~= '' then record[#record + 1], record[#record + 2] = 'ri', runId end
  if not allowed then record[#record + 1], record[#record + 2] = 'sd', '1' end
  redis.call('HSET', unpack(record))
  -- The score as the deadline slot's text (dueKeys keeps it): a number argument costs Redis a conversion.
  redis.call('ZADD', holdsKey, dueSlotText(deadline), id)
  noteHoldAdded(deadline)
  if allowed then addDue(deadline, unit, holdsText, plan.runFields, estimate) end
  heldId = id
end

-- The event's optional fields (appendAudit): a table only when there is one.
local extra = nil
if actorJson ~= '' or reasonCode or caps or shadowReason ~= '' then
  extra = {}
  if actorJson ~= '' then extra[1], extra[2] = '=actor', actorJson end
  if reasonCode then
    extra[#extra + 1] = '$reasonCode'
    extra[#extra + 1] = reasonCode
  end
  if deniedScope then
    extra[#extra + 1] = '$deniedScope'
    extra[#extra + 1] = deniedScope
  end
  if caps then
    extra[#extra + 1] = '=caps'
    extra[#extra + 1] = '{"disabledTiers":["' .. string.gsub(caps, ',', '","') .. '"]}'
  end
  if shadowReason ~= '' then
    extra[#extra + 1] = '=shadow'
    extra[#extra + 1] = '{"decision":"DENY","reasonCode":"' .. shadowReason .. '"'
      .. field('deniedScope', shadowScope ~= '' and quoted(shadowScope) or nil) .. '}'
  end
end
local auditSeq = appendAudit('reserve', fragment, extra, checked, ARGV[5] .. ' ' .. decision .. ' ' .. heldId)
local reply = pushBalances({ decision, reasonCode or '', deniedScope or '', caps or '', heldId, expiresAtMs, hint,
  shadowReason, shadowScope, '', auditSeq }, checked, true)
rememberArray('reserve', idemKey, idemFingerprint, reply)
return reply
`;
