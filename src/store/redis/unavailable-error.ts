/**
 * Redis could not be reached or did not answer in time. Deliberately not a TollgateError: the
 * ledger treats it as transient, retries settlements with the same idempotency key, and turns it
 * into DENY / LEDGER_UNAVAILABLE for reservations.
 */
export class RedisUnavailableError extends Error {
  readonly code = "REDIS_UNAVAILABLE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RedisUnavailableError";
  }
}
