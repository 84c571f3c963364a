import { TollgateError } from "../../core/errors.js";

/**
 * The data layout this build writes and reads. Every tenant's budgets hash carries it in the field
 * `~layout` (written with the tenant's first budget); a tenant whose budgets hash lacks it was
 * written by an earlier build (text-encoded counters, audit entries of one JSON field), whose keys
 * this build must not misread: its scripts refuse such a tenant with `STORE_LAYOUT`, and the audit
 * reader refuses entries of the earlier form.
 */
export const storeLayout = "2";

/**
 * Keys of an earlier store layout where this build expected its own: nothing was read or written.
 * Not transient (the same keys answer the same); migrate or use another key prefix.
 */
export class StoreLayoutError extends TollgateError {
  constructor(detail: string) {
    super(
      "STORE_REPLY_INVALID",
      `The Redis store holds keys of another data layout than this build's (layout ${storeLayout}): ${detail}. Use a new key prefix (redisPrefix) or remove the old keys.`,
    );
  }
}
