import { createClient } from "@redis/client";
import { afterAll, beforeAll, describe, it } from "vitest";
import type { NodeRedisClientLike } from "../../../src/store/redis/index.js";
import { type RedisServerHandle, redisUnavailableReason, startRedisServer } from "../../helpers/redis-server.js";

/**
 * describe() for suites that need a real Redis. Without one it skips and says why; on CI
 * (CI=true) a skip is an error, so a missing redis-server can never pass silently.
 */
export function describeRedis(name: string, body: () => void, options: { needsOwnServer?: boolean } = {}): void {
  const reason = redisUnavailableReason(options);
  if (!reason) {
    describe(name, body);
    return;
  }
  if (process.env.CI === "true") {
    describe(name, () => {
      it("needs Redis on CI", () => {
        throw new Error(`The Redis suite "${name}" cannot run on CI: ${reason}`);
      });
    });
    return;
  }
  console.warn(`[tollgate] skipped the Redis suite "${name}": ${reason}`);
  describe.skip(name, body);
}

export interface RedisFixture {
  readonly server: RedisServerHandle;
  /** A connected node-redis client for the test's own reads and for stores that share it. */
  readonly client: NodeRedisClientLike & { close(): Promise<unknown> };
}

/** Starts a server (or adopts REDIS_URL) for the enclosing describe, and a client on it. */
export function useRedisServer(options: { appendOnly?: boolean; needsOwnServer?: boolean } = {}): RedisFixture {
  const fixture = {} as { server: RedisServerHandle; client: RedisFixture["client"] };
  beforeAll(async () => {
    fixture.server = await startRedisServer(options);
    const client = createClient({ url: fixture.server.url, socket: { reconnectStrategy: () => 100 } });
    client.on("error", () => undefined);
    await client.connect();
    fixture.client = client as unknown as RedisFixture["client"];
  });
  afterAll(async () => {
    await fixture.client?.close().catch(() => undefined);
    await fixture.server?.stop();
  });
  return fixture;
}

let prefixCounter = 0;
/** A key prefix no other test uses, so tests share one server without seeing each other. */
export function uniquePrefix(label = "t"): string {
  prefixCounter++;
  return `tg-${label}-${process.pid}-${prefixCounter}-${Math.random().toString(36).slice(2, 8)}`;
}
