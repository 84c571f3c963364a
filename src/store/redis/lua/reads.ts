/**
 * Reads that first expire the tenant's overdue holds, so what they report is what a reserve would
 * see at the same instant.
 */

/** balance. ARGV[4..]: field, runId ("" for none). Returns a balance json or "null". */
export const balanceLua = `
local budgetField = ARGV[4]
local runId = ARGV[5]
expireDue()
local raw = storedBudget(budgetField)
if not raw then return 'null' end
local def = parseDef(raw)
local b = budgetAt(def, string.match(budgetField, '^[^|]+'), instanceOf(def.window, runId))
loadCounters({ b })
foldDue({ b })
return balanceJson(b, string.match(budgetField, '|(.*)$'))
`;

/** reservation. ARGV[4]: reservationId. Returns the record's fields ev, h, st, sd, c, x, ch, e, p, g, ri (nil when unknown). */
export const reservationLua = `
storedBudget(shapeGenField)
expireDue()
local key = reservationKey(ARGV[4])
local due, shared = readRecord(key)
if due == nil then return { false, false, false, false, false, false, false, false, false, false, false } end
expireIfOverdue(ARGV[4], due[1], due[5], shared.grace)
local r = readRecord(key)
local more = redis.call('HMGET', key, 'c', 'ch')
-- The fields in the order of a record before "k" (see readRecord in lua/prelude.ts).
return { shared.fragment, shared.holds, r[1], r[2], more[1], r[5], more[2], r[3], shared.policy, shared.grace, r[4] }
`;

/**
 * shapes: the tenant's budget fields ("<scope>|<unit>") and the generation of that set, read
 * together, for a client that sends a reserve only the candidate scopes whose shape has a budget.
 * Returns { generation, field... }.
 */
export const shapesLua = `
storedBudget(shapeGenField)
local fields = redis.call('HKEYS', budgetsKey)
local out = { redis.call('HGET', budgetsKey, shapeGenField) or '0' }
for _, budgetField in ipairs(fields) do
  if string.sub(budgetField, 1, 1) ~= '~' then out[#out + 1] = budgetField end
end
return out
`;
