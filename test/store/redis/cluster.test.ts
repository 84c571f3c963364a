import { createClient, createCluster } from "@redis/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePolicy } from "../../../src/core/policy.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import { applyPolicy } from "../../../src/ledger/policy.js";
import {
  type RedisClusterHandle,
  redisClusterUnavailableReason,
  startRedisCluster,
} from "../../helpers/redis-cluster.js";
import { uniquePrefix } from "./support.js";

const reason = redisClusterUnavailableReason();
const tenantsCount = 120;
const attemptsPerTenant = 12;
const agentLimit = 8;

function suite() {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  async function keysPerNode(prefix: string): Promise<number[]> {
    return Promise.all(
      cluster.urls.map(async (url) => {
        const node = createClient({ url });
        await node.connect();
        let count = 0;
        let cursor = "0";
        do {
          const [next, keys] = (await node.sendCommand(["SCAN", cursor, "MATCH", `${prefix}:*`, "COUNT", "1000"])) as [
            string,
            string[],
          ];
          cursor = next;
          count += keys.length;
        } while (cursor !== "0");
        await node.close();
        return count;
      }),
    );
  }

  async function exerciseTenants(ledger: Ledger): Promise<void> {
    const tenants = Array.from({ length: tenantsCount }, (_, index) => `t${index}`);
    await Promise.all(
      tenants.flatMap((tenant) => [
        ledger.setBudget({ scope: `tenant:${tenant}`, limit: 100 }),
        ledger.setBudget({ scope: `tenant:${tenant}/agent:a`, limit: agentLimit }),
      ]),
    );
    const responses = await Promise.all(
      tenants.flatMap((tenant) =>
        Array.from({ length: attemptsPerTenant }, () =>
          ledger.reserve({ subject: { tenant, agent: "a" }, action: { name: "call", tier: "read" }, estimate: 1 }),
        ),
      ),
    );
    expect(responses.filter((response) => response.reasonCode === "LEDGER_UNAVAILABLE")).toEqual([]);
    const allowed = responses.filter((response) => response.decision !== "DENY");
    expect(allowed).toHaveLength(tenantsCount * agentLimit);
    await Promise.all(allowed.map((response) => ledger.commit(response.reservationId as string)));
    for (const tenant of tenants) {
      expect(await ledger.getBalance({ scope: `tenant:${tenant}` })).toMatchObject({ spent: agentLimit, reserved: 0 });
      expect(await ledger.getBalance({ scope: `tenant:${tenant}/agent:a` })).toMatchObject({
        spent: agentLimit,
        remaining: 0,
      });
    }
  }

  it("shards tenants over all three nodes with no CROSSSLOT error and exact totals", async () => {
    const prefix = uniquePrefix("cluster");
    const ledger = createLedger({
      redis: { cluster: cluster.urls },
      redisPrefix: prefix,
      sweepIntervalMs: 0,
      reservationGraceMs: 100,
    });
    await exerciseTenants(ledger);
    const perNode = await keysPerNode(prefix);
    for (const count of perNode) expect(count).toBeGreaterThan(0);

    // Cross-tenant reads walk the tenants set; the sweep visits tenants on every node.
    expect(await ledger.listBudgets({ allTenants: true })).toHaveLength(tenantsCount * 2);
    const denials = await ledger.audit({ decision: "DENY", limit: 100_000 });
    expect(denials).toHaveLength(tenantsCount * (attemptsPerTenant - agentLimit));
    const held = await Promise.all(
      ["t0", "t1", "t2", "t3", "t4", "t5"].map((tenant) =>
        ledger.reserve({ subject: { tenant }, action: { name: "call", tier: "read" }, estimate: 1, ttlMs: 1 }),
      ),
    );
    expect(held.every((response) => response.decision === "ALLOW")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 300)); // past TTL + grace
    expect(await ledger.sweep()).toBe(6);
    await ledger.close();
  }, 60_000);

  it("takes turns on the policy lease across the cluster: two applies at once end as one policy", async () => {
    const prefix = uniquePrefix("cluster-lease");
    const open = () => createLedger({ redis: { cluster: cluster.urls }, redisPrefix: prefix, sweepIntervalMs: 0 });
    const [a, b] = [open(), open()];
    const only = (toolset: string) =>
      parsePolicy({ owns: ["tenant:acme"], budgets: [{ scope: `tenant:acme/toolset:${toolset}`, limit: 3 }] });
    await Promise.all([applyPolicy(a, only("email")), applyPolicy(b, only("deploy"))]);
    const scopes = (await a.listBudgets({ allTenants: true })).map((budget) => budget.scope);
    expect([["tenant:acme/toolset:deploy"], ["tenant:acme/toolset:email"]]).toContainEqual(scopes);
    // Released: a third apply takes the lease at once.
    await applyPolicy(a, only("email"), { leaseWaitMs: 0 });
    await Promise.all([a.close(), b.close()]);
  }, 60_000);

  it("accepts a node-redis cluster client", async () => {
    const client = createCluster({ rootNodes: cluster.urls.map((url) => ({ url })) });
    await client.connect();
    const prefix = uniquePrefix("cluster-client");
    const ledger = createLedger({ redis: client, redisPrefix: prefix, sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:x", limit: 2 });
    const first = await ledger.reserve({ subject: { tenant: "x" }, action: { name: "a", tier: "read" }, estimate: 2 });
    expect(first.decision).toBe("ALLOW");
    await ledger.commit(first.reservationId as string);
    expect(await ledger.getBalance({ scope: "tenant:x" })).toMatchObject({ spent: 2, remaining: 0 });
    await ledger.close();
    await client.close();
  });
}

if (!reason) describe("redis store on a three-node Redis Cluster", suite);
else if (process.env.CI === "true") {
  describe("redis store on a three-node Redis Cluster", () => {
    it("needs redis-server and redis-cli on CI", () => {
      throw new Error(`The Redis Cluster suite cannot run on CI: ${reason}`);
    });
  });
} else {
  console.warn(`[tollgate] skipped the Redis Cluster suite: ${reason}`);
  describe.skip("redis store on a three-node Redis Cluster", suite);
}
