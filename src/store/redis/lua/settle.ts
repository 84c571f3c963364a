/**
 * commit / release: settle a held reservation exactly once. Commit applies the reservation's
 * overage policy (REJECT, ALLOW_IF_AVAILABLE, ALLOW_WITH_OVERDRAFT) on every budget it holds.
 *
 * ARGV[4..]: reservationId, actual ("" for the estimate), actor (JSON string or ""), reason (JSON
 * string or ""), idempotency key ("" for none), fingerprint. Returns the outcome json.
 */
const settleLua = (kind: "commit" | "release") => `
local kind = '${kind}'
local id = ARGV[4]
local actualArg = ARGV[5]
local actorJson = ARGV[6]
local reasonJson = ARGV[7]
local idemKey = ARGV[8]
local idemFingerprint = ARGV[9]

expireDue()
local replayed = replay(kind, idemKey, idemFingerprint)
if replayed then return replayed end

local key = reservationKey(id)
local r = redis.call('HMGET', key, 'st', 'sd', 'e', 'p', 'u', 'h', 'ev')
if not r[1] then return '{"ok":false,"error":"RESERVATION_NOT_FOUND"}' end
if r[1] == 'expired' then return '{"ok":false,"error":"RESERVATION_EXPIRED"}' end
if r[1] ~= 'held' then return '{"ok":false,"error":"RESERVATION_FINALIZED","detail":' .. str(r[1]) .. '}' end

local shadowDenied = r[2] == '1'
local estimate = tonumber(r[3])
local overagePolicy = r[4]
local held = heldBudgets(r[6], r[5])
local charged, debtAdded, uncharged = 0, 0, 0

if kind == 'commit' and not shadowDenied then
  local actual = estimate
  if actualArg ~= '' then actual = tonumber(actualArg) end
  local overage = actual - estimate
  if overage <= 0 then
    charged = actual
    for _, b in ipairs(held) do
      b.c.reserved = b.c.reserved - estimate
      b.c.spent = b.c.spent + actual
    end
  elseif overagePolicy == 'REJECT' then
    return '{"ok":false,"error":"OVERAGE_REJECTED","detail":' .. str('actual ' .. int(actual) .. ' exceeds the estimate ' .. int(estimate)) .. '}'
  elseif overagePolicy == 'ALLOW_IF_AVAILABLE' then
    -- The overage is charged only up to what every held budget still has; never debt.
    local available = overage
    for _, b in ipairs(held) do available = math.min(available, math.max(0, remainingOf(b))) end
    charged = estimate + available
    uncharged = overage - available
    for _, b in ipairs(held) do
      b.c.reserved = b.c.reserved - estimate
      b.c.spent = b.c.spent + charged
    end
  else
    -- ALLOW_WITH_OVERDRAFT: what a budget lacks becomes its debt, up to its overdraftLimit.
    for _, b in ipairs(held) do
      b.fromRemaining = math.min(overage, math.max(0, remainingOf(b)))
      b.toDebt = overage - b.fromRemaining
    end
    for _, b in ipairs(held) do
      if b.c.debt + b.toDebt > b.def.overdraftLimit then
        return '{"ok":false,"error":"OVERDRAFT_LIMIT_EXCEEDED","detail":' .. str(b.def.scope .. ' would owe '
          .. int(b.c.debt + b.toDebt) .. ', over its overdraftLimit ' .. int(b.def.overdraftLimit)) .. '}'
      end
    end
    charged = actual
    for _, b in ipairs(held) do
      b.c.reserved = b.c.reserved - estimate
      b.c.spent = b.c.spent + estimate + b.fromRemaining
      b.c.debt = b.c.debt + b.toDebt
      debtAdded = math.max(debtAdded, b.toDebt)
    end
  end
else
  for _, b in ipairs(held) do b.c.reserved = b.c.reserved - estimate end
end

for _, b in ipairs(held) do assertCounters(b) end
saveCounters(held)
local status = 'released'
if kind == 'commit' then status = 'committed' end
redis.call('HSET', key, 'st', status, 'ch', int(charged))
keepSettled(id)
redis.call('ZREM', holdsKey, id)

local released = estimate
local amount = released
if kind == 'commit' then
  released = math.max(0, estimate - charged)
  amount = charged
end
local detail = nil
if reasonJson ~= '' then
  detail = reasonJson
elseif uncharged > 0 then
  detail = str('uncharged overage ' .. int(uncharged))
end
local actorPart = ''
if actorJson ~= '' then actorPart = ',"actor":' .. actorJson end
appendAudit('"type":"' .. kind .. '",' .. r[7] .. actorPart .. ',"estimate":' .. int(estimate) .. ',"amount":' .. int(amount)
  .. ',"balances":' .. auditBalancesJson(held) .. field('detail', detail))
if shadowDenied then released = 0 end
local outcome = '{"ok":true,"reservationId":' .. str(id) .. ',"status":"' .. status .. '","charged":' .. int(charged)
  .. ',"debtAdded":' .. int(debtAdded) .. ',"uncharged":' .. int(uncharged) .. ',"released":' .. int(released)
  .. ',"balances":' .. balancesJson(held) .. '}'
remember(kind, idemKey, idemFingerprint, outcome)
return outcome
`;

export const commitLua = settleLua("commit");
export const releaseLua = settleLua("release");
