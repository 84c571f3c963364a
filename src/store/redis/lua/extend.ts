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
local r = redis.call('HMGET', key, 'st', 'g', 'ev', 'h', 'u', 'ri', 'x', 'e')
if not r[1] then return { '{"ok":false,"error":"RESERVATION_NOT_FOUND"}', 0 } end
if expireIfOverdue(id, r[1], r[7], r[2]) then r[1] = 'expired' end
if r[1] == 'expired' then return { '{"ok":false,"error":"RESERVATION_EXPIRED"}', 0 } end
if r[1] ~= 'held' then return { '{"ok":false,"error":"RESERVATION_FINALIZED"}', 0 } end

local expiresAtMs = now + ttlMs
local deadline = recordDeadline(int(expiresAtMs), r[2])
local earliest = nextDeadline()
local hint = 0
if deadline < earliest then hint = deadline end
local runFields = {}
-- Idle window counters must outlive the holds on them.
saveCounters(heldBudgets(r[4], r[5], r[6] or '', runFields))
redis.call('HSET', key, 'x', int(expiresAtMs))
redis.call('ZADD', holdsKey, deadline, id)
-- The hold moves to its new slot.
local estimate = tonumber(r[8])
removeDue(recordDeadline(r[7], r[2]), r[5], r[4], runFields, estimate)
addDue(deadline, r[5], r[4], runFields, estimate)
appendAudit('extend', r[3], { '$reservationId', id, '$detail', 'expiresAtMs=' .. int(expiresAtMs) })
local outcome = '{"ok":true,"reservationId":' .. str(id) .. ',"expiresAtMs":' .. int(expiresAtMs) .. '}'
remember('extend', idemKey, idemFingerprint, outcome)
return { outcome, hint }
`;
