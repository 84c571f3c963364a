import { afterEach, describe, expect, it, vi } from "vitest";
import { parsePolicy } from "../../../src/core/policy.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import { applyPolicy } from "../../../src/ledger/policy.js";
import { openConnection } from "../../../src/store/redis/connection.js";
import { withRedisLease } from "../../../src/store/redis/policy-lease.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const onlyToolset = (toolset: string) =>
  parsePolicy({ owns: ["tenant:acme"], budgets: [{ scope: `tenant:acme/toolset:${toolset}`, limit: 7 }] });

describeRedis("the policy lease on Redis", () => {
  const redis = useRedisServer();
  const ledgers: Ledger[] = [];
  // Each ledger on its own connection, as two operators' processes would be.
  const ledgerOn = (prefix: string) => {
    const ledger = createLedger({ redis: redis.server.url, redisPrefix: prefix, sweepIntervalMs: 0 });
    ledgers.push(ledger);
    return ledger;
  };
  afterEach(async () => {
    await Promise.all(ledgers.splice(0).map((ledger) => ledger.close()));
  });
  const scopesOf = async (ledger: Ledger) =>
    (await ledger.listBudgets({ allTenants: true })).map((budget) => budget.scope).sort();

  it("two writers applying different policies at once take turns: the store ends as one of them, whole", async () => {
    const prefix = uniquePrefix("lease");
    const [a, b] = [ledgerOn(prefix), ledgerOn(prefix)];
    const results = await Promise.all([applyPolicy(a, onlyToolset("email")), applyPolicy(b, onlyToolset("deploy"))]);
    const scopes = await scopesOf(a);
    // Whichever went second planned from what the first left, and removed its budget.
    expect([["tenant:acme/toolset:deploy"], ["tenant:acme/toolset:email"]]).toContainEqual(scopes);
    expect(results.map((result) => result.applied.length).sort()).toEqual([1, 2]);
    expect(await redis.client.sendCommand(["EXISTS", `${prefix}:policy-lease`])).toBe(0);
  });

  it("replicas opening with createLedger({ policy }) at once take turns too", async () => {
    const prefix = uniquePrefix("lease");
    const open = (toolset: string) => {
      const ledger = createLedger({
        redis: redis.server.url,
        redisPrefix: prefix,
        sweepIntervalMs: 0,
        policy: { owns: ["tenant:acme"], budgets: [{ scope: `tenant:acme/toolset:${toolset}`, limit: 7 }] },
      });
      ledgers.push(ledger);
      return ledger;
    };
    const [a, b] = [open("email"), open("deploy")];
    await Promise.all([a.store, b.store]);
    expect([["tenant:acme/toolset:deploy"], ["tenant:acme/toolset:email"]]).toContainEqual(await scopesOf(a));
  });

  it("waits for a lease another holds, then fails with POLICY_APPLY_BUSY and changes nothing", async () => {
    const prefix = uniquePrefix("lease");
    const ledger = ledgerOn(prefix);
    await redis.client.sendCommand(["SET", `${prefix}:policy-lease`, "someone-else", "PX", "60000"]);
    await expect(applyPolicy(ledger, onlyToolset("email"), { leaseWaitMs: 300 })).rejects.toMatchObject({
      code: "POLICY_APPLY_BUSY",
      transient: true,
    });
    expect(await scopesOf(ledger)).toEqual([]);
    // Left alone: the other holder's lease is still its own.
    expect(await redis.client.sendCommand(["GET", `${prefix}:policy-lease`])).toBe("someone-else");
    await redis.client.sendCommand(["DEL", `${prefix}:policy-lease`]);
    await applyPolicy(ledger, onlyToolset("email"), { leaseWaitMs: 0 });
    expect(await scopesOf(ledger)).toEqual(["tenant:acme/toolset:email"]);
  });

  it("takes over a lease whose holder died once it lapses", async () => {
    const prefix = uniquePrefix("lease");
    const ledger = ledgerOn(prefix);
    await redis.client.sendCommand(["SET", `${prefix}:policy-lease`, "died", "PX", "400"]);
    await applyPolicy(ledger, onlyToolset("email"), { leaseWaitMs: 5_000 });
    expect(await scopesOf(ledger)).toEqual(["tenant:acme/toolset:email"]);
  });

  describe("renewal", () => {
    const connections: { close(): Promise<void> }[] = [];
    afterEach(async () => {
      await Promise.all(connections.splice(0).map((connection) => connection.close()));
    });
    const connect = async () => {
      const connection = await openConnection(redis.server.url, { commandTimeoutMs: 2_000, readyWaitMs: 2_000 });
      connections.push(connection);
      return connection;
    };

    it("keeps a lease held past its first grant while the work runs, and says when it was lost", async () => {
      const key = `${uniquePrefix("lease")}:policy-lease`;
      const [mine, theirs] = [await connect(), await connect()];
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      await withRedisLease(
        mine,
        key,
        async (held) => {
          await sleep(2_500);
          // Two and a half grants of 1 s have passed: renewed, so no one else could take it.
          await expect(withRedisLease(theirs, key, async () => "ran", { waitMs: 0 })).rejects.toMatchObject({
            code: "POLICY_APPLY_BUSY",
          });
          expect(held()).toBe(true);
          // Someone takes the key from under us: the next renewal is refused, and held() says so.
          await redis.client.sendCommand(["SET", key, "intruder", "PX", "60000"]);
          await vi.waitFor(() => expect(held()).toBe(false), { timeout: 5_000, interval: 50 });
        },
        { waitMs: 0, leaseMs: 1_000 },
      );
      // Our release leaves the intruder's lease alone.
      expect(await redis.client.sendCommand(["GET", key])).toBe("intruder");
    });
  });
});
