import { expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore, StoreLayoutError } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const read = { name: "lookup", tier: "read" as const };

describeRedis("redis store: keys of an earlier data layout are refused, never misread", () => {
  const redis = useRedisServer();
  const send = (args: string[]) => redis.client.sendCommand(args);

  /** A tenant as the build before layout 2 left it: a budget (no ~layout field), text counters, a JSON audit entry. */
  async function earlierLayout(prefix: string): Promise<void> {
    const base = `${prefix}:{tenant:acme}:`;
    const definition = JSON.stringify({
      scope: "tenant:acme",
      unit: "RISK_POINTS",
      limit: 100,
      window: "lifetime",
      overdraftLimit: 0,
      updatedAtMs: 1,
      gen: 1,
    });
    await send(["HSET", `${base}budgets`, "tenant:acme|RISK_POINTS", `1;100;0;lifetime;\n${definition}`, "~gen", "1"]);
    await send(["HSET", `${base}meta`, "gen", "1"]);
    await send(["HSET", `${base}counters`, "1:tenant:acme|RISK_POINTS|life", "10:0:0"]);
    await send(["XADD", `${base}audit`, "0-1", "e", '{"atMs":1,"_us":1000,"type":"budget.set","scope":"tenant:acme"}']);
  }

  it("a reserve, a read, a budget change and an audit query on such a tenant fail with StoreLayoutError", async () => {
    const prefix = uniquePrefix("layout");
    await earlierLayout(prefix);
    const store = await createRedisStore({ redis: redis.client, prefix });
    const layoutError = { code: "STORE_REPLY_INVALID", name: "StoreLayoutError" };
    await expect(store.getBalance({ scope: "tenant:acme", unit: "RISK_POINTS" })).rejects.toBeInstanceOf(
      StoreLayoutError,
    );
    await expect(
      store.putBudget({
        definition: {
          scope: "tenant:acme",
          unit: "RISK_POINTS",
          limit: 5,
          window: "lifetime",
          overdraftLimit: 0,
          narrowing: null,
        },
      }),
    ).rejects.toMatchObject(layoutError);
    await expect(store.removeBudget({ scope: "tenant:acme", unit: "RISK_POINTS" })).rejects.toMatchObject(layoutError);
    await expect(store.audit({ scope: "tenant:acme" })).rejects.toBeInstanceOf(StoreLayoutError);
    // Through the ledger a reserve fails closed: DENY, and nothing was written.
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    const response = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 1 });
    expect(response.decision).toBe("DENY");
    expect(await send(["HGETALL", `${prefix}:{tenant:acme}:counters`])).toEqual([
      "1:tenant:acme|RISK_POINTS|life",
      "10:0:0",
    ]);
    expect(await send(["XLEN", `${prefix}:{tenant:acme}:audit`])).toBe(1);
    expect(await send(["HEXISTS", `${prefix}:{tenant:acme}:budgets`, "~layout"])).toBe(0);
    await ledger.close();
  });

  it("a tenant of this layout carries the marker from its first budget on, also after removing it", async () => {
    const prefix = uniquePrefix("layout");
    const store = await createRedisStore({ redis: redis.client, prefix });
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
    expect(await send(["HGET", `${prefix}:{tenant:acme}:budgets`, "~layout"])).toBe("2");
    await ledger.removeBudget({ scope: "tenant:acme" });
    expect(await send(["HGET", `${prefix}:{tenant:acme}:budgets`, "~layout"])).toBe("2");
    expect(await ledger.listBudgets({ scope: "tenant:acme" })).toEqual([]);
    await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
    const held = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate: 3 });
    await ledger.commit(held.reservationId as string);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 3 });
    await ledger.close();
  });
});
