import { expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const read = { name: "lookup", tier: "read" as const };
const subject = { tenant: "acme", agent: "a" };

/**
 * The functions library keeps parsed plans, holds and the definitions it read across calls
 * (lua/prelude.ts). Every test here fails if a cached definition outlives the stored one.
 */
describeRedis("redis store: what the library keeps across calls never outlives what is stored", () => {
  const redis = useRedisServer();

  async function ledgerOn(prefix: string) {
    const store = await createRedisStore({ redis: redis.client, prefix });
    return new StoreLedger(store, { sweepIntervalMs: 0 });
  }

  it("a changed limit is seen by the next reserve and by the commit of a hold made before it", async () => {
    const ledger = await ledgerOn(uniquePrefix("cache"));
    await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
    await ledger.setBudget({ scope: "tenant:acme/agent:a", limit: 10 });
    // Warm: the same plan and holds, twice, so both are answered from the caches.
    for (let round = 0; round < 2; round++) {
      const held = await ledger.reserve({ subject, action: read, estimate: 1 });
      await ledger.commit(held.reservationId as string);
    }
    const held = await ledger.reserve({ subject, action: read, estimate: 1 });
    expect(held.decision).toBe("ALLOW");

    await ledger.setBudget({ scope: "tenant:acme/agent:a", limit: 4 });
    // 2 spent + 1 held of 4: one more fits, two do not.
    expect(await ledger.decide({ subject, action: read, estimate: 2 })).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
      deniedScope: "tenant:acme/agent:a",
    });
    const commit = await ledger.commit(held.reservationId as string);
    expect(commit.balances?.find((b) => b.scope === "tenant:acme/agent:a")).toMatchObject({
      allocated: 4,
      spent: 3,
      remaining: 1,
    });
    await ledger.close();
  });

  it("a budget removed and added again is a new budget for holds and reserves alike", async () => {
    const ledger = await ledgerOn(uniquePrefix("cache"));
    await ledger.setBudget({ scope: "tenant:acme", limit: 10 });
    for (let round = 0; round < 2; round++) {
      const held = await ledger.reserve({ subject, action: read, estimate: 3 });
      await ledger.commit(held.reservationId as string);
    }
    const held = await ledger.reserve({ subject, action: read, estimate: 3 });
    await ledger.removeBudget({ scope: "tenant:acme" });
    await ledger.setBudget({ scope: "tenant:acme", limit: 5 });
    // The hold was on the removed budget: its commit charges nothing to the new one.
    const commit = await ledger.commit(held.reservationId as string);
    expect(commit.balances ?? []).toEqual([]);
    expect(await ledger.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: 5, spent: 0, remaining: 5 });
    expect(await ledger.decide({ subject, action: read, estimate: 5 })).toMatchObject({ decision: "ALLOW" });
    expect(await ledger.decide({ subject, action: read, estimate: 6 })).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
    });
    await ledger.close();
  });

  it("a tenant flushed and rebuilt under the same keys is read afresh", async () => {
    const prefix = uniquePrefix("cache");
    const ledger = await ledgerOn(prefix);
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    for (let round = 0; round < 3; round++) {
      const held = await ledger.reserve({ subject, action: read, estimate: 1 });
      await ledger.commit(held.reservationId as string);
    }
    const keys = (await redis.client.sendCommand(["KEYS", `${prefix}:*`])) as string[];
    await redis.client.sendCommand(["DEL", ...keys]);
    // The same store, the same tenant, the same first writes: only the limit differs.
    await ledger.setBudget({ scope: "tenant:acme", limit: 1 });
    expect(await ledger.decide({ subject, action: read, estimate: 2 })).toMatchObject({
      decision: "DENY",
      reasonCode: "BUDGET_EXCEEDED",
    });
    const held = await ledger.reserve({ subject, action: read, estimate: 1 });
    expect((await ledger.commit(held.reservationId as string)).balances?.[0]).toMatchObject({
      allocated: 1,
      spent: 1,
    });
    await ledger.close();
  });

  it("holds of two runs on one run-window budget settle on their own run's counter", async () => {
    const ledger = await ledgerOn(uniquePrefix("cache"));
    await ledger.setBudget({ scope: "tenant:acme/agent:a", limit: 10, window: "run" });
    for (let round = 0; round < 3; round++) {
      // The same holds text for both runs: the run instance comes from each reservation's run id.
      const first = await ledger.reserve({ subject, action: read, estimate: 2, runId: "run-1" });
      const second = await ledger.reserve({ subject, action: read, estimate: 1, runId: "run-2" });
      await ledger.commit(first.reservationId as string);
      await ledger.commit(second.reservationId as string);
    }
    const balance = (runId: string) => ledger.getBalance({ scope: "tenant:acme/agent:a", runId });
    expect(await balance("run-1")).toMatchObject({ spent: 6, reserved: 0, remaining: 4 });
    expect(await balance("run-2")).toMatchObject({ spent: 3, reserved: 0, remaining: 7 });
    await ledger.close();
  });

  it("a counters hash that lost its mirror of the definitions version gets the current one back", async () => {
    const prefix = uniquePrefix("cache");
    const ledger = await ledgerOn(prefix);
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 50 });
    // Warm until the plan and holds are answered from the caches (the client learns the shapes first).
    for (let round = 0; round < 4; round++) {
      const held = await ledger.reserve({ subject, action: read, estimate: 1 });
      await ledger.commit(held.reservationId as string);
    }
    const hashes = { budgets: `${prefix}:{tenant:acme}:budgets`, counters: `${prefix}:{tenant:acme}:counters` };
    const version = async (key: string) => redis.client.sendCommand(["HGET", key, "~ver"]);
    await redis.client.sendCommand(["HDEL", hashes.counters, "~ver"]);
    const held = await ledger.reserve({ subject, action: read, estimate: 1 });
    expect(held.balances?.[0]).toMatchObject({ allocated: 50, spent: 4, reserved: 1 });
    // Mirrored as the budgets hash has it now; the next calls are answered from it.
    expect(await version(hashes.counters)).toBe(await version(hashes.budgets));
    expect((await ledger.commit(held.reservationId as string)).balances?.[0]).toMatchObject({ spent: 5 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 6 });
    expect(await ledger.decide({ subject, action: read, estimate: 2 })).toMatchObject({ decision: "DENY" });
    expect(await ledger.decide({ subject, action: read, estimate: 1 })).toMatchObject({ decision: "ALLOW" });
    await ledger.close();
  });

  it("two stores on one server with the same tenant under different prefixes keep their own limits", async () => {
    const first = await ledgerOn(uniquePrefix("cache"));
    const second = await ledgerOn(uniquePrefix("cache"));
    await first.setBudget({ scope: "tenant:acme", limit: 100 });
    await second.setBudget({ scope: "tenant:acme", limit: 2 });
    for (let round = 0; round < 3; round++) {
      const one = await first.reserve({ subject, action: read, estimate: 1 });
      const other = await second.reserve({ subject, action: read, estimate: 1 });
      await first.commit(one.reservationId as string);
      if (other.reservationId) await second.commit(other.reservationId);
    }
    expect(await first.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: 100, spent: 3 });
    expect(await second.getBalance({ scope: "tenant:acme" })).toMatchObject({ allocated: 2, spent: 2 });
    await first.close();
    await second.close();
  });
});
