import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyChain } from "../../../src/evidence/chain.js";
import { generateSigningKey, KeySet } from "../../../src/evidence/keys.js";
import {
  type RedisClusterHandle,
  redisClusterUnavailableReason,
  startRedisCluster,
} from "../../helpers/redis-cluster.js";
import { chainedStore } from "./chain-support.js";
import { uniquePrefix } from "./support.js";

const reason = redisClusterUnavailableReason();
const tenantsCount = 120;
const pairsPerTenant = 3;
const key = generateSigningKey("k1");

function suite() {
  let cluster: RedisClusterHandle;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it("120 tenants sharded over three nodes each get one whole, signed chain", async () => {
    const { store, ledger } = await chainedStore({ cluster: cluster.urls }, uniquePrefix("chain-cluster"), key, {
      checkpointEveryEvents: 5,
    });
    const tenants = Array.from({ length: tenantsCount }, (_, index) => `t${index}`);
    await Promise.all(tenants.map((tenant) => ledger.setBudget({ scope: `tenant:${tenant}`, limit: 100 })));
    await Promise.all(
      tenants.map(async (tenant) => {
        for (let index = 0; index < pairsPerTenant; index++) {
          const held = await ledger.reserve({
            subject: { tenant },
            action: { name: "call", tier: "read" },
            estimate: 1,
          });
          await ledger.commit(held.reservationId as string);
        }
      }),
    );
    const exported = await store.chainExport({});
    const verification = verifyChain(exported.records, exported.checkpoints, KeySet.of([key]));
    expect(verification.problems).toEqual([]);
    expect(verification.tenants).toHaveLength(tenantsCount);
    for (const tenant of verification.tenants) {
      expect(tenant).toMatchObject({ firstSeq: 1, lastSeq: 1 + pairsPerTenant * 2, unsignedTail: 0 });
    }
    await store.close();
  }, 60_000);
}

if (!reason) describe("redis store: the audit hash chain on a three-node Redis Cluster", suite);
else if (process.env.CI === "true") {
  describe("redis store: the audit hash chain on a three-node Redis Cluster", () => {
    it("needs redis-server and redis-cli on CI", () => {
      throw new Error(`The Redis Cluster suite cannot run on CI: ${reason}`);
    });
  });
} else {
  console.warn(`[tollgate] skipped the Redis Cluster chain suite: ${reason}`);
  describe.skip("redis store: the audit hash chain on a three-node Redis Cluster", suite);
}
