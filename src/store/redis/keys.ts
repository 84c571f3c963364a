import { ValidationError } from "../../core/errors.js";

/**
 * Key layout. Every key of a tenant carries the tenant scope as its hash tag, so a tenant's whole
 * hierarchy lives in one Redis Cluster slot, each script touches one slot, and tenants shard.
 *
 *   <prefix>:{tenant:acme}:budgets         hash   "<scope>|<unit>" → "<gen>;<limit>;<overdraftLimit>;<window>;<bands>\n<JSON>",
 *                                                 "~gen": the generation of the set of budget fields (create, remove),
 *                                                 "~layout": the data layout (layout.ts), from the tenant's first budget on
 *                                                 "~ver": replaced on every definition write (what scripts cached stays valid while it is unchanged)
 *   <prefix>:{tenant:acme}:meta            hash   gen (budget generations)
 *   <prefix>:{tenant:acme}:counters        hash   "<gen>|<instance>" → "spent:reserved:debt" (gen names the budget);
 *                                                 one hash so a chain of any depth is one HMGET / HSET;
 *                                                 "~ver" mirrors the budgets hash's (read with the counters)
 *   <prefix>:{tenant:acme}:counters-idle   zset   window counter field → when it may be dropped if idle
 *   <prefix>:{tenant:acme}:r:<reservationId>
 *                                          hash   the reservation (st, e, c, x, ri, sd, and k: unit, policy,
 *                                                 grace, holds, event fragment in one field); expires
 *                                                 settledRetention after settling
 *   <prefix>:{tenant:acme}:holds           zset   open reservation id → deadline (expiresAt + grace), server ms
 *   <prefix>:{tenant:acme}:i:<op>:<key>    string idempotency record "<fingerprint>\n<outcome>", PX retention
 *   <prefix>:{tenant:acme}:idempotency     list   idempotency record keys, newest first: caps their count
 *   <prefix>:{tenant:acme}:settled         list   settled reservation ids, newest first: caps their count (trimmed in batches)
 *   <prefix>:{tenant:acme}:audit           stream capped (MAXLEN ~ auditEventsMax); id "0-<seq>" (XADD 0-*), short fields
 *                                                 the reader turns into the event (audit-reader.ts)
 *   <prefix>:{tenant:acme}:chain           zset   the audit hash chain's links (only with evidence on), one member per sealed
 *                                                 batch: score its last seq, member "<seq>:<hash>,<seq>:<hash>,...";
 *                                                 kept from the batch holding the stream's first entry - 1 (the anchor) on
 *   <prefix>:{tenant:acme}:chain-head      string the sealed head "<seq>:<hash>": the last linked event
 *   <prefix>:{tenant:acme}:checkpoints     zset   chain checkpoints: score seq, member "<seq>:<checkpoint JSON>"; kept from
 *                                                 the stream's first entry - 1 on (the newest always), at most 1,024
 *                                                 (the chain keys take the stream's expiry when it has one)
 *   <prefix>:tenants                       set    tenants with budgets, for listings and audit queries across tenants
 *   <prefix>:tenants-recent                zset   tenants without budgets seen lately → when (client ms), capped
 *   <prefix>:sweep                         zset   tenant → deadline hint for the expiry sweep
 *   <prefix>:policy-lease                  string the token of whoever is applying a policy now, PX lease (policy-lease.ts)
 *
 * The last four are outside any tenant's slot; they are written by separate commands and are never
 * needed for a decision to be right.
 *
 * A tenant written by an earlier build (no "~layout" in its budgets hash) is refused, not read
 * (layout.ts, StoreLayoutError).
 */
export interface KeySpace {
  /** "<prefix>:{tenant:acme}:" — what tenant scripts get as ARGV[1]. */
  tenantBase(tenantScope: string): string;
  /** The key a tenant script declares in KEYS (routes it to the tenant's slot). */
  tenantRoutingKey(tenantScope: string): string;
  auditStream(tenantScope: string): string;
  budgets(tenantScope: string): string;
  chainLinks(tenantScope: string): string;
  readonly tenants: string;
  readonly recentTenants: string;
  readonly sweepIndex: string;
  readonly policyLease: string;
}

export const keyPrefixDefault = "tollgate";
const prefixPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

export function keySpace(prefix = keyPrefixDefault): KeySpace {
  // Braces in the prefix would move the hash tag away from the tenant.
  if (!prefixPattern.test(prefix)) {
    throw new ValidationError([
      { code: "invalid_format", path: "prefix", message: "must be 1 to 64 characters of A-Z a-z 0-9 _ . : -" },
    ]);
  }
  const tenantBase = (tenantScope: string) => `${prefix}:{${tenantScope}}:`;
  return {
    tenantBase,
    tenantRoutingKey: (tenantScope) => `${tenantBase(tenantScope)}budgets`,
    auditStream: (tenantScope) => `${tenantBase(tenantScope)}audit`,
    budgets: (tenantScope) => `${tenantBase(tenantScope)}budgets`,
    chainLinks: (tenantScope) => `${tenantBase(tenantScope)}chain`,
    tenants: `${prefix}:tenants`,
    recentTenants: `${prefix}:tenants-recent`,
    sweepIndex: `${prefix}:sweep`,
    policyLease: `${prefix}:policy-lease`,
  };
}
