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

  it("reservation records written before their shared field are settled, extended, read and expired as before", async () => {
    const prefix = uniquePrefix("layout");
    let offsetMs = 0;
    const store = await createRedisStore({ redis: redis.client, prefix, timeOffsetMs: () => offsetMs });
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    /** A hold rewritten as the build before "k" wrote it: u, p, g, h and ev as fields of their own. */
    async function olderHold(estimate: number): Promise<string> {
      const held = await ledger.reserve({ subject: { tenant: "acme" }, action: read, estimate, ttlMs: 60_000 });
      const key = `${prefix}:{tenant:acme}:r:${held.reservationId}`;
      const shared = (await send(["HGET", key, "k"])) as string;
      const [head, holds, fragment] = shared.split("\n");
      const [unit, policy, grace] = head.split(" ");
      await send(["HDEL", key, "k"]);
      await send(["HSET", key, "u", unit, "p", policy, "g", grace, "h", holds, "ev", fragment]);
      return held.reservationId as string;
    }
    const committed = await olderHold(5);
    const record = await ledger.getReservation(committed);
    expect(record).toMatchObject({
      status: "held",
      estimate: 5,
      subjectScope: "tenant:acme",
      holds: [{ scope: "tenant:acme", instance: "life" }],
      overagePolicy: "ALLOW_IF_AVAILABLE",
      graceMs: 5000,
    });
    expect((await ledger.commit(committed, { actual: 4 })).charged).toBe(4);
    const extended = await olderHold(7);
    expect((await ledger.extend(extended, { ttlMs: 120_000 })).reservationId).toBe(extended);
    await ledger.release(extended);
    await olderHold(9);
    offsetMs += 10 * 60_000; // past its ttl and grace: the next call expires it
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ spent: 4, reserved: 0, remaining: 96 });
    const types = (await ledger.audit({ scope: "tenant:acme" })).map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(["commit", "extend", "release", "expire"]));
    await ledger.close();
  });
});
