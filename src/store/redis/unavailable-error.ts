import { LedgerUnavailableError } from "../../core/errors.js";

/**
 * Redis could not be reached or did not answer in time. A LedgerUnavailableError (code
 * LEDGER_UNAVAILABLE, transient): the ledger retries settlements with the same idempotency tag and
 * turns it into DENY / LEDGER_UNAVAILABLE for reservations.
 */
export class RedisUnavailableError extends LedgerUnavailableError {}
