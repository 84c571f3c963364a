import type { EvidenceConfig } from "../../evidence/options.js";
import type { LedgerStore } from "../types.js";
import { type ConnectionTimeouts, openConnection, type RedisTarget } from "./connection.js";
import { keySpace } from "./keys.js";
import { RedisLedgerStore, type RedisStoreLimits } from "./redis-store.js";

export type { NodeRedisClientLike, NodeRedisClusterLike, RedisTarget } from "./connection.js";
export { RedisUnavailableError } from "./connection.js";
export { keyPrefixDefault } from "./keys.js";
export { StoreLayoutError } from "./layout.js";
export { RedisLedgerStore } from "./redis-store.js";

export interface RedisStoreOptions extends RedisStoreLimits, Partial<ConnectionTimeouts> {
  /** A redis:// URL, cluster node URLs (`[...]` or `{ cluster: [...] }`), or a node-redis client or cluster. */
  redis: unknown;
  /** Key prefix (default "tollgate"); the tenant hash tag follows it. */
  prefix?: string;
  /**
   * Ignored on purpose: expiry and windows run on the Redis server's clock (TIME), never a client's,
   * so processes with skewed clocks agree.
   */
  clock?: () => number;
  /** Test only: milliseconds added to the server's TIME, so a suite moves time without sleeping. */
  timeOffsetMs?: () => number;
  /**
   * Chains the audit events into each tenant's SHA-256 hash chain (hashed and linked off the
   * reserve/commit path, in batches) and signs checkpoints (parseEvidenceOptions). Without it the
   * store writes no links and runs no linker.
   */
  evidence?: EvidenceConfig;
}

/** Below the ledger's 2 s store timeout, so a retry still fits. */
export const commandTimeoutMsDefault = 1_500;
export const readyWaitMsDefault = 1_000;

/**
 * The distributed LedgerStore on Redis 7+ or Valkey. Resolves at once, without waiting for the
 * server: each call waits for the connection at most `readyWaitMs`, so an unreachable Redis turns
 * into DENY / LEDGER_UNAVAILABLE in bounded time and the store reconnects by itself.
 */
export async function createRedisStore(options: RedisStoreOptions): Promise<LedgerStore> {
  const keys = keySpace(options.prefix);
  const connection = await openConnection(redisTargetOf(options.redis), {
    commandTimeoutMs: options.commandTimeoutMs ?? commandTimeoutMsDefault,
    readyWaitMs: options.readyWaitMs ?? readyWaitMsDefault,
  });
  const store = new RedisLedgerStore({ ...options, connection, keys });
  // Load the functions ahead of the first call; if Redis is not there yet, the first FCALL loads them.
  store.preload().catch(() => undefined);
  return store;
}

/** A Keyv built on `@keyv/redis` is recognised: its node-redis client is reused. */
function redisTargetOf(redis: unknown): RedisTarget {
  const keyvStore = (redis as { opts?: { store?: unknown }; store?: unknown } | null)?.store;
  const keyvClient = (keyvStore as { client?: unknown } | undefined)?.client;
  if (keyvClient && (keyvStore as { constructor?: { name?: string } }).constructor?.name === "KeyvRedis") {
    return keyvClient as RedisTarget;
  }
  return redis as RedisTarget;
}
