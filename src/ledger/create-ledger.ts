import Keyv from "keyv";
import { ValidationError } from "../core/errors.js";
import type { Policy, PolicyDocument } from "../core/policy.js";
import { type EvidenceOptions, parseEvidenceOptions } from "../evidence/options.js";
import { KeyvSingleProcessStore, type KeyvStoreOptions } from "../store/keyv-store.js";
import type { LedgerStore } from "../store/types.js";
import { type Ledger, type LedgerOptions, StoreLedger } from "./ledger.js";
import { applyPolicyOnOpen, resolvePolicySync } from "./policy.js";

export interface CreateLedgerOptions extends LedgerOptions, Omit<KeyvStoreOptions, "keyv" | "evidence"> {
  /**
   * A keyv instance (any adapter; single process), or a ready LedgerStore. A Keyv built on
   * `@keyv/redis` is recognised and its Redis connection reused for the distributed store.
   */
  store?: Keyv | LedgerStore;
  /** The distributed store: a Redis URL, a node-redis client or cluster, or cluster node URLs. */
  redis?: string | object | { cluster: string[] };
  /** Key prefix for the Redis store. */
  redisPrefix?: string;
  /**
   * A policy file path (`.yaml`, `.yml`, `.json`) or document, applied when the store opens (the
   * first call waits for it). Its `mode` applies unless `mode` is given here. An invalid file
   * throws a PolicyError at once, naming file, path and line.
   */
  policy?: string | PolicyDocument | Policy;
  /**
   * Chains every audit event into its tenant's SHA-256 hash chain and, with a private key, signs
   * checkpoints every `checkpointEveryEvents` events or `checkpointIntervalMs` (see the README's
   * Evidence section). On either store; a ready store is built with its own.
   */
  evidence?: EvidenceOptions;
}

/**
 * Creates a ledger. With no options: the embedded keyv store in memory, zero setup, one process.
 * Store connections open lazily, so this returns at once; the first call waits for them.
 */
export function createLedger(options: CreateLedgerOptions = {}): Ledger {
  // --- policy option (issue 5): load it now so a bad file fails here; apply it as the store opens ---
  const { policy: policyInput, ...withoutPolicy } = options;
  if (policyInput !== undefined) {
    const policy = resolvePolicySync(policyInput);
    const mode = withoutPolicy.mode ?? policy.mode;
    // Built only to open the store (no sweep timer); the ledger returned waits for the policy on it.
    const opener = createLedger({ ...withoutPolicy, mode, sweepIntervalMs: 0 });
    return new StoreLedger(applyPolicyOnOpen(opener.store, policy), { ...withoutPolicy, mode, policy });
  }
  // --- end policy option ---
  const { store, redis, redisPrefix, evidence: evidenceInput, ...rest } = withoutPolicy;
  // Validated now, so a bad key fails here; each store takes the validated copy.
  const evidence = evidenceInput === undefined ? undefined : parseEvidenceOptions(evidenceInput);
  if (store !== undefined && redis !== undefined) {
    throw new ValidationError([
      { code: "invalid_value", path: "redis", message: "give either store or redis, not both" },
    ]);
  }
  // The retention limits mean the same on either store; the Redis store keeps the server's clock.
  const limits = {
    auditEventsMax: rest.auditEventsMax,
    idempotencyKeysMax: rest.idempotencyKeysMax,
    idempotencyRetentionMs: rest.idempotencyRetentionMs,
    settledReservationRetentionMs: rest.settledReservationRetentionMs,
    settledReservationsMax: rest.settledReservationsMax,
  };
  if (redis !== undefined) {
    return new StoreLedger(openRedisStore({ ...limits, redis, prefix: redisPrefix, evidence }), rest);
  }
  if (store === undefined || isKeyv(store)) {
    const keyv = store as Keyv | undefined;
    const keyvRedisClient = keyv ? redisClientOfKeyv(keyv) : undefined;
    if (keyvRedisClient) {
      return new StoreLedger(
        openRedisStore({ ...limits, redis: keyvRedisClient, prefix: redisPrefix, evidence }),
        rest,
      );
    }
    return new StoreLedger(new KeyvSingleProcessStore({ ...rest, keyv, evidence }), rest);
  }
  if (isLedgerStore(store)) {
    if (evidence !== undefined) {
      throw new ValidationError([
        { code: "unsupported", path: "evidence", message: "a ready store is built with its own evidence options" },
      ]);
    }
    return new StoreLedger(store, rest);
  }
  throw new ValidationError([
    { code: "invalid_type", path: "store", message: "must be a Keyv instance or a LedgerStore" },
  ]);
}

async function openRedisStore(options: import("../store/redis/index.js").RedisStoreOptions): Promise<LedgerStore> {
  const { createRedisStore } = await import("../store/redis/index.js");
  return createRedisStore(options);
}

function isKeyv(value: unknown): value is Keyv {
  return (
    value instanceof Keyv ||
    (typeof value === "object" &&
      value !== null &&
      "opts" in value &&
      typeof (value as Keyv).get === "function" &&
      typeof (value as Keyv).set === "function" &&
      !("reserve" in value))
  );
}

function isLedgerStore(value: unknown): value is LedgerStore {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as LedgerStore).reserve === "function" &&
    typeof (value as LedgerStore).commit === "function"
  );
}

/** The node-redis client inside a `@keyv/redis` adapter, if this keyv has one. */
function redisClientOfKeyv(keyv: Keyv): object | undefined {
  const adapter = (keyv as unknown as { opts?: { store?: unknown }; store?: unknown }).store ?? keyv.opts?.store;
  if (!adapter || typeof adapter !== "object") return undefined;
  if ((adapter as { constructor?: { name?: string } }).constructor?.name !== "KeyvRedis") return undefined;
  return (adapter as { client?: object }).client;
}
