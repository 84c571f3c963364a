/**
 * expire: the sweep's step for one tenant. Returns every hold whose TTL + grace has passed (up to
 * expireBatchMax) and tells the sweep index when to come back.
 *
 * No operation arguments. Returns { expired count, earliest deadline left or 0 }.
 */
export const expireLua = `
local expired = expireDue()
return { expired, nextDeadline() }
`;
