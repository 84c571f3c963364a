import { describe, expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import { testLedgerStore } from "../conformance.js";
import { testStoreHardening } from "../hardening.js";
import type { StoreHarness } from "../harness.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

describeRedis("redis store", () => {
  const redis = useRedisServer();

  // The same suite as the in-memory store, unchanged. Time moves by an offset the scripts add to
  // the server's TIME, so nothing sleeps.
  const redisHarness = async (): Promise<StoreHarness> => {
    let offsetMs = 0;
    const store = await createRedisStore({
      redis: redis.client,
      prefix: uniquePrefix("conformance"),
      timeOffsetMs: () => offsetMs,
    });
    return {
      store,
      advanceTimeMs: (ms: number) => {
        offsetMs += ms;
      },
      close: () => store.close(),
    };
  };
  testLedgerStore("redis", redisHarness);
  testStoreHardening("redis", redisHarness);

  describe("counters read back by the scripts are checked, never trusted", () => {
    for (const stored of ["0:-1000:0", "nan:0:0", "0:1.5:0", "0:0", "9007199254740993:0:0", ""]) {
      it(`counters stored as "${stored}" are an InvariantError and every reserve is DENY`, async () => {
        const prefix = uniquePrefix("readback");
        const store = await createRedisStore({ redis: redis.client, prefix });
        const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
        await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
        const held = await ledger.reserve({
          subject: { tenant: "acme" },
          action: { name: "a", tier: "read" },
          estimate: 5,
        });
        await ledger.commit(held.reservationId as string);
        const countersKey = `${prefix}:{tenant:acme}:counters`;
        const fields = ((await redis.client.sendCommand(["HKEYS", countersKey])) as string[]).filter(
          (name) => !name.startsWith("~"), // the definitions version's mirror
        );
        expect(fields).toHaveLength(1);
        await redis.client.sendCommand(["HSET", countersKey, fields[0], stored]);
        await expect(ledger.getBalance({ scope: "tenant:acme" })).rejects.toMatchObject({ code: "INVARIANT_VIOLATED" });
        const response = await ledger.reserve({
          subject: { tenant: "acme" },
          action: { name: "a", tier: "read" },
          estimate: 1,
        });
        expect(response).toMatchObject({ decision: "DENY", reasonCode: "LEDGER_UNAVAILABLE" });
        await store.close();
      });
    }
  });
});
