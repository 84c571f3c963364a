/** Every queue, log and cache has a limit. Units last. */
export const reservationTtlMsDefault = 60_000;
export const reservationTtlMsMax = 86_400_000;
export const reservationGraceMsDefault = 5_000;
/** Audit events kept per tenant (both stores)... */
export const auditEventsMaxDefault = 10_000;
/** ...and by the embedded store for all tenants together. */
export const auditEventsTotalMaxDefault = 100_000;
export const idempotencyKeysMaxDefault = 100_000;
export const idempotencyRetentionMsDefault = 86_400_000;
/** Settled reservations are remembered this long so a late second settle gets a precise error. */
export const settledReservationRetentionMsDefault = 3_600_000;
export const settledReservationsMaxDefault = 10_000;
export const sweepIntervalMsDefault = 1_000;
export const actionNameLengthMax = 128;
export const runIdLengthMax = 256;
export const idempotencyKeyLengthMax = 256;
export const auditQueryLimitMax = 100_000;
/** A reservation id is `<tenant>:<36 characters>` (a uuid, or a slot id of that shape): the longest tenant id (128), a colon and 36. */
export const reservationIdLengthMax = 128 + 1 + 36;
/** How long a policy apply waits for another's lease on the store, by default and at most. */
export const policyLeaseWaitMsDefault = 60_000;
export const policyLeaseWaitMsMax = 3_600_000;
