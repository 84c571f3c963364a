import { PeerDependencyError } from "../../core/errors.js";
import type { LedgerStore } from "../types.js";

export interface RedisStoreOptions {
  redis: unknown;
  prefix?: string;
  clock?: () => number;
}

/** Placeholder until the Redis store lands (issue 4). */
export async function createRedisStore(_options: RedisStoreOptions): Promise<LedgerStore> {
  throw new PeerDependencyError("@redis/client", "The Redis store (not built yet)");
}
