/**
 * commit / release: settle a held reservation exactly once. Commit applies the reservation's
 * overage policy (REJECT, ALLOW_IF_AVAILABLE, ALLOW_WITH_OVERDRAFT) on every budget it holds.
 *
 * ARGV[4..]: reservationId, then, each left out when empty and none after it is given: fingerprint,
 * idempotency key, actual (the estimate when empty), actor (JSON string), reason (JSON string), and
 * for a release of a reserve whose answer was lost (see ReleaseCommand.lostReserve) "1" and that
 * reserve's idempotency key.
 *
 * Idempotency lives on the reservation record: the settle that finalizes it writes its key ("sk"),
 * fingerprint ("sf") and numbers ("ch", "so") there, so a retry with the same key and fingerprint
 * replays them (with the balances as they are now) and the same key with another fingerprint is a
 * conflict. An empty key with a fingerprint is the ledger's own retry token for one settle call: it
 * is kept on the record only. A caller's key is also kept as a tenant-wide record, as for every other
 * operation, so reusing it on another reservation is a conflict too.
 *
 * Returns a flat array (see `settleOutcomeOf` in redis-store.ts): "ok", status, charged, debtAdded,
 * uncharged, released, replayed ("" or "1"), unit, the audit event's seq ("" on a retry answered
 * from the reservation record), then per held budget one string (pushBalances in
 * lua/prelude.ts): its scope, window, allocated, counters and instance; or { "!", error, detail }.
 */
const settleLua = (kind: "commit" | "release") => `
local kind = '${kind}'
local id = ARGV[4]
local idemFingerprint = ARGV[5] or ''
local idemKey = ARGV[6] or ''
local actualArg = ARGV[7] or ''
local actorJson = ARGV[8] or ''
local reasonJson = ARGV[9] or ''
if actualArg ~= '' then
  local actual = tonumber(actualArg)
  if not (actual ~= nil and actual >= 0 and actual <= 9007199254740991 and actual == math.floor(actual)) then
    violated('actual is a safe integer >= 0 (got ' .. string.sub(actualArg, 1, 32) .. ')')
  end
end
local lostReserve = ARGV[10] == '1'
local lostReserveKey = ARGV[11] or ''

expireDue()
local replayed = replayArray(kind, idemKey, idemFingerprint)
if replayed == false then return { '!', 'IDEMPOTENCY_CONFLICT', '' } end
if replayed then
  replayed[7] = '1'
  return replayed
end

local key = reservationKey(id)
-- r: st, sd, e, ri, x; k: the shared part (unit, policy, grace, holds, fragment).
local r, k = readRecord(key)
if r == nil then return { '!', 'RESERVATION_NOT_FOUND', '' } end
-- The hold's deadline (nil unless it is held), for removeDue below.
local expired, deadline = expireIfOverdue(id, r[1], r[5], k.grace)
if expired then return { '!', 'RESERVATION_EXPIRED', '' } end
-- A replay handed this reservation to a caller since its reserve's answer was lost: it is theirs.
if lostReserve and redis.call('HEXISTS', key, 'cl') == 1 then
  return { '!', 'RESERVATION_FINALIZED', 'handed to a caller by a replay' }
end
if r[1] ~= 'held' and idemFingerprint ~= '' then
  local tag = redis.call('HMGET', key, 'sf', 'sk')
  if (tag[2] or '') == idemKey and (tag[1] == idemFingerprint or idemKey ~= '') then
    if tag[1] ~= idemFingerprint then return { '!', 'IDEMPOTENCY_CONFLICT', '' } end
    -- A retry of the settle that finalized this reservation (its reply was lost): the same numbers.
    local numbers = redis.call('HMGET', key, 'ch', 'so')
    -- The settle's audit seq is the fourth number (absent in records settled before it was kept).
    local debtAdded, uncharged, released, seq = string.match(numbers[2], '^(%d+):(%d+):(%d+):?(%d*)$')
    return pushBalances({ 'ok', r[1], numbers[1], debtAdded, uncharged, released, '1', k.unit, seq or '' },
      heldBudgets(k.holds, k.unit, r[4] or ''), false)
  end
end
if r[1] == 'expired' then return { '!', 'RESERVATION_EXPIRED', '' } end
if r[1] ~= 'held' then return { '!', 'RESERVATION_FINALIZED', r[1] } end

local shadowDenied = r[2] == '1'
local estimate = tonumber(r[3])
local overagePolicy = k.policy
local runFields = {}
local held = heldBudgets(k.holds, k.unit, r[4] or '', runFields)
local charged, debtAdded, uncharged = 0, 0, 0

if kind == 'commit' and not shadowDenied then
  local actual = estimate
  if actualArg ~= '' then actual = tonumber(actualArg) end
  local overage = actual - estimate
  if overage <= 0 then
    charged = actual
    for i = 1, #held do local b = held[i]
      b.reserved = b.reserved - estimate
      b.spent = b.spent + actual
    end
  elseif overagePolicy == 'REJECT' then
    return { '!', 'OVERAGE_REJECTED', 'actual ' .. int(actual) .. ' exceeds the estimate ' .. int(estimate) }
  elseif overagePolicy == 'ALLOW_IF_AVAILABLE' then
    -- The overage is charged only up to what every held budget still has; never debt.
    local available = overage
    for i = 1, #held do available = math.min(available, math.max(0, remainingOf(held[i]))) end
    charged = estimate + available
    uncharged = overage - available
    for i = 1, #held do local b = held[i]
      b.reserved = b.reserved - estimate
      b.spent = b.spent + charged
    end
  else
    -- ALLOW_WITH_OVERDRAFT: what a budget lacks becomes its debt, up to its overdraftLimit.
    for i = 1, #held do local b = held[i]
      b.fromRemaining = math.min(overage, math.max(0, remainingOf(b)))
      b.toDebt = overage - b.fromRemaining
    end
    for i = 1, #held do local b = held[i]
      if b.debt + b.toDebt > b.def.overdraftLimit then
        return { '!', 'OVERDRAFT_LIMIT_EXCEEDED', b.scope .. ' would owe '
          .. int(b.debt + b.toDebt) .. ', over its overdraftLimit ' .. int(b.def.overdraftLimit) }
      end
    end
    charged = actual
    for i = 1, #held do local b = held[i]
      b.reserved = b.reserved - estimate
      b.spent = b.spent + estimate + b.fromRemaining
      b.debt = b.debt + b.toDebt
      debtAdded = math.max(debtAdded, b.toDebt)
    end
  end
else
  for i = 1, #held do held[i].reserved = held[i].reserved - estimate end
end

for i = 1, #held do local b = held[i]
  if b.reserved < 0 or b.spent < 0 or b.debt < 0 then assertCounters(b) end
end
saveCounters(held)
local status = 'released'
if kind == 'commit' then status = 'committed' end
local released = estimate
local amount = released
if kind == 'commit' then
  released = math.max(0, estimate - charged)
  amount = charged
end
if shadowDenied then released = 0 end
-- 'so' is written once the event's seq is known, with it.
local settled = { key, 'st', status, 'ch', countText(charged), 'so', '' }
if idemFingerprint ~= '' then settled[8], settled[9] = 'sf', idemFingerprint end
if idemKey ~= '' then settled[#settled + 1], settled[#settled + 2] = 'sk', idemKey end
redis.call('ZREM', holdsKey, id)
noteHoldRemoved(deadline)
removeDue(deadline, k.unit, k.holds, runFields, estimate)

local extra = nil
if actorJson ~= '' then extra = { '=actor', actorJson } end
if reasonJson ~= '' then
  extra = extra or {}
  extra[#extra + 1] = '=detail'
  extra[#extra + 1] = reasonJson
elseif uncharged > 0 then
  extra = extra or {}
  extra[#extra + 1] = '$detail'
  extra[#extra + 1] = 'uncharged overage ' .. int(uncharged)
end
local amountText = r[3]
if amount ~= estimate then amountText = countText(amount) end
local auditSeq = appendAudit(kind, k.fragment, extra, held, r[3] .. ' ' .. amountText .. ' ' .. id)
-- The record keeps the audit seq with the numbers, so a retry answered from it names the same event.
settled[7] = countText(debtAdded) .. ':' .. countText(uncharged) .. ':' .. countText(released) .. ':' .. auditSeq
redis.call('HSET', unpack(settled))
keepSettled(id, key)
if lostReserve and lostReserveKey ~= '' then
  -- The caller was told the reserve failed: a retry with its key is decided afresh, not replayed.
  local recordKey = idempotencyKey('reserve', lostReserveKey)
  local stored = redis.call('GET', recordKey)
  if stored and string.find(stored, '"' .. id .. '"', 1, true) then redis.call('DEL', recordKey) end
end
local reply = pushBalances({ 'ok', status, replyAmount(charged), replyAmount(debtAdded), replyAmount(uncharged),
  replyAmount(released), '',
  k.unit, auditSeq }, held, false)
rememberArray(kind, idemKey, idemFingerprint, reply)
return reply
`;

export const commitLua = settleLua("commit");
export const releaseLua = settleLua("release");
