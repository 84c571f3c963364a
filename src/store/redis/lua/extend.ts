/**
 * extend: push a held reservation's deadline to now + ttlMs (server clock).
 *
 * ARGV[4..]: reservationId, ttlMs, idempotency key ("" for none), fingerprint.
 * Returns { outcome json, deadline to note in the sweep index or 0 }.
 */
export const extendLua = `
local id = ARGV[4]
local ttlMs = tonumber(ARGV[5])
local idemKey = ARGV[6]
local idemFingerprint = ARGV[7]

expireDue()
local replayed = replay('extend', idemKey, idemFingerprint)
if replayed then return { replayed, 0 } end

local key = reservationKey(id)
-- r: st, sd, e, ri, x; k: the shared part (unit, policy, grace, holds, fragment).
local r, k = readRecord(key)
if r == nil then return { '{"ok":false,"error":"RESERVATION_NOT_FOUND"}', 0 } end
if expireIfOverdue(id, r[1], r[5], k.grace) then r[1] = 'expired' end
if r[1] == 'expired' then return { '{"ok":false,"error":"RESERVATION_EXPIRED"}', 0 } end
if r[1] ~= 'held' then return { '{"ok":false,"error":"RESERVATION_FINALIZED"}', 0 } end

local expiresAtMs = now + ttlMs
local deadline = recordDeadline(int(expiresAtMs), k.grace)
local earliest = nextDeadline()
local hint = 0
if deadline < earliest then hint = deadline end
local runFields = {}
-- Idle window counters must outlive the holds on them.
saveCounters(heldBudgets(k.holds, k.unit, r[4] or '', runFields))
redis.call('HSET', key, 'x', int(expiresAtMs))
redis.call('ZADD', holdsKey, deadline, id)
noteHoldRemoved(nil)
-- The hold moves to its new slot.
local estimate = tonumber(r[3])
removeDue(recordDeadline(r[5], k.grace), k.unit, k.holds, runFields, estimate)
addDue(deadline, k.unit, k.holds, runFields, estimate)
appendAudit('extend', k.fragment, { '$reservationId', id, '$detail', 'expiresAtMs=' .. int(expiresAtMs) })
local outcome = '{"ok":true,"reservationId":' .. str(id) .. ',"expiresAtMs":' .. int(expiresAtMs) .. '}'
remember('extend', idemKey, idemFingerprint, outcome)
return { outcome, hint }
`;
