/**
 * Budget definitions live in one hash per tenant, field "<scope>|<unit>", value
 * "<gen>;<limit>;<overdraftLimit>;<window>;<bands>\n<definition JSON with updatedAtMs and gen>" (see
 * parseDef in the prelude: the scripts read the text part, which costs a string.match instead of a
 * cjson.decode per budget on every reserve and settle). `gen` is a generation fixed when the budget is
 * created. Counter keys carry it, so a budget removed and added again starts from fresh counters, and
 * holds on the old one settle as no-ops.
 */

/**
 * budget.set. ARGV[4..]: field, definition JSON (without updatedAtMs), its text form without gen
 * ("<limit>;<overdraftLimit>;<window>;<bands>"), audit event fields, idempotency key ("" for none),
 * fingerprint. Returns the outcome json.
 */
export const budgetSetLua = `
local budgetField = ARGV[4]
local definitionJson = ARGV[5]
local definitionText = ARGV[6]
local eventFields = ARGV[7]
local idemKey = ARGV[8]
local idemFingerprint = ARGV[9]

local replayed = replay('budget.set', idemKey, idemFingerprint)
if replayed then return replayed end

local previous, marker = storedBudget(budgetField)
-- The tenant's first budget under this layout marks its budgets hash with it.
if not marker then redis.call('HSET', budgetsKey, layoutField, layoutVersion) end
local gen
if previous then
  gen = parseDef(previous).gen
else
  gen = int(redis.call('HINCRBY', metaKey, 'gen', 1))
end
local stored = string.sub(definitionJson, 1, -2) .. ',"updatedAtMs":' .. int(now) .. ',"gen":' .. gen .. '}'
redis.call('HSET', budgetsKey, budgetField, gen .. ';' .. definitionText .. '\\n' .. stored)
noteDefinitionsChanged()
-- A new budget changes which budgets exist: clients that filter candidate scopes refresh.
if not previous then redis.call('HINCRBY', budgetsKey, shapeGenField, 1) end
tenantKnown = true
if not previous and gen == '1' then
  -- The tenant's first budget: what it wrote while unknown stays from now on.
  redis.call('PERSIST', metaKey)
  redis.call('PERSIST', auditKey)
  redis.call('PERSIST', idempotencyIndexKey)
  redis.call('PERSIST', settledKey)
end
appendAudit('budget.set', eventFields)
local created = 'true'
if previous then created = 'false' end
local outcome = '{"ok":true,"definition":' .. stored .. ',"created":' .. created .. '}'
remember('budget.set', idemKey, idemFingerprint, outcome)
return outcome
`;

/**
 * budget.remove. ARGV[4..]: field, audit event fields, idempotency key, fingerprint. The lifetime
 * counters go with the budget; window counters of the old generation age out when idle.
 */
export const budgetRemoveLua = `
local budgetField = ARGV[4]
local eventFields = ARGV[5]
local idemKey = ARGV[6]
local idemFingerprint = ARGV[7]

local replayed = replay('budget.remove', idemKey, idemFingerprint)
if replayed then return replayed end

local previous = storedBudget(budgetField)
local removed = 'false'
if previous then
  removed = 'true'
  tenantKnown = true
  redis.call('HDEL', budgetsKey, budgetField)
  noteDefinitionsChanged()
  redis.call('HINCRBY', budgetsKey, shapeGenField, 1)
  redis.call('HDEL', countersKey, counterId(parseDef(previous).gen, 'life'))
  appendAudit('budget.remove', eventFields)
end
local outcome = '{"ok":true,"removed":' .. removed .. '}'
remember('budget.remove', idemKey, idemFingerprint, outcome)
return outcome
`;

/**
 * debt.repay: moves debt into spend (the operator accepts the overage), so the scope may reserve
 * again. ARGV[4..]: field, runId ("" for none), amount, audit event fields, idempotency key,
 * fingerprint.
 */
export const repayDebtLua = `
local budgetField = ARGV[4]
local runId = ARGV[5]
local amount = tonumber(ARGV[6])
local eventFields = ARGV[7]
local idemKey = ARGV[8]
local idemFingerprint = ARGV[9]

local replayed = replay('debt.repay', idemKey, idemFingerprint)
if replayed then return replayed end

local raw = storedBudget(budgetField)
if not raw then return '{"ok":true,"repaid":0,"balance":null}' end
local def = parseDef(raw)
local b = budgetAt(def, string.match(budgetField, '^[^|]+'), instanceOf(def.window, runId))
loadCounters({ b })
foldDue({ b })
local repaid = math.min(amount, b.debt)
b.debt = b.debt - repaid
b.spent = b.spent + repaid
assertCounters(b)
saveCounters({ b })
appendAudit('debt.repay', eventFields, { '#amount', repaid })
local outcome = '{"ok":true,"repaid":' .. int(repaid) .. ',"balance":' .. balanceJson(b, string.match(budgetField, '|(.*)$')) .. '}'
remember('debt.repay', idemKey, idemFingerprint, outcome)
return outcome
`;
