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
local due = redis.call('HMGET', reservationKey(ARGV[4]), 'st', 'x', 'g')
expireIfOverdue(ARGV[4], due[1], due[2], due[3])
return redis.call('HMGET', reservationKey(ARGV[4]), 'ev', 'h', 'st', 'sd', 'c', 'x', 'ch', 'e', 'p', 'g', 'ri')
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
