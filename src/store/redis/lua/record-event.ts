/**
 * event.record: append an event that changes no balance (a person's approval decision) to the
 * tenant's audit stream, stamped with the server's clock and the tenant's sequence.
 *
 * ARGV[4]: the event's type, ARGV[5]: its other fields as a JSON object body (without braces).
 */
export const recordEventLua = `
appendAudit(ARGV[4], ARGV[5])
return 1
`;
