import { afterEach, expect, it } from "vitest";
import { verifyChain } from "../../../src/evidence/chain.js";
import { generateSigningKey, KeySet, privateKeyPem } from "../../../src/evidence/keys.js";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore, type RedisLedgerStore } from "../../../src/store/redis/index.js";
import { chainedStore, chainWorkers, nextLine, spend, startChainWorker } from "./chain-support.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const key = generateSigningKey("k1");
const keys = KeySet.of([key]);
const pem = privateKeyPem(key);

describeRedis(
  "redis store: the audit hash chain across processes and faults",
  () => {
    const redis = useRedisServer({ needsOwnServer: true });
    afterEach(() => {
      for (const child of chainWorkers) child.kill("SIGKILL");
    });

    async function plainStore(prefix: string): Promise<RedisLedgerStore> {
      return (await createRedisStore({ redis: redis.client, prefix })) as RedisLedgerStore;
    }

    it("four processes, each with its own linker, reserving and committing on one tenant write one unbroken chain", async () => {
      const prefix = uniquePrefix("chain-race");
      const store = await plainStore(prefix);
      await new StoreLedger(store, { sweepIntervalMs: 0 }).setBudget({ scope: "tenant:race", limit: 1_000_000 });
      const workers = Array.from({ length: 4 }, () =>
        startChainWorker(["contend", redis.server.url, prefix, "250"], pem),
      );
      expect(await Promise.all(workers.map((worker) => nextLine(worker.lines, 40_000)))).toEqual([
        "ready",
        "ready",
        "ready",
        "ready",
      ]);
      for (const worker of workers) worker.child.stdin?.end("go\n");
      const results = await Promise.all(workers.map((worker) => nextLine(worker.lines, 60_000)));
      expect(await Promise.all(workers.map((worker) => worker.done))).toEqual([0, 0, 0, 0]);
      const counts = results.map((line) => JSON.parse(line) as { allowed: number; other: number });
      expect(counts.map((count) => count.allowed)).toEqual([250, 250, 250, 250]);

      // No linking here: what the workers' linkers sealed is the whole chain.
      const exported = await store.chainExport({ tenant: "tenant:race" });
      const events = 1 + 4 * 250 * 2;
      expect(exported.records.map((record) => record.seq)).toEqual(Array.from({ length: events }, (_, i) => i + 1));
      expect(exported.checkpoints.length).toBeGreaterThan(1);
      const verification = verifyChain(exported.records, exported.checkpoints, keys);
      expect(verification.problems).toEqual([]);
      expect(verification.tenants[0].signedThroughSeq).toBeGreaterThan(events - 100);
      await store.close();
    }, 120_000);

    it("a process killed between its writes and their linking leaves events the next linker links", async () => {
      const prefix = uniquePrefix("chain-crash");
      const store = await plainStore(prefix);
      await new StoreLedger(store, { sweepIntervalMs: 0 }).setBudget({ scope: "tenant:crash", limit: 1_000 });
      const worker = startChainWorker(["write", redis.server.url, prefix, "20"], pem);
      expect(await nextLine(worker.lines, 40_000)).toBe("written");
      worker.child.kill("SIGKILL");
      await worker.done;
      expect((await store.chainExport({ tenant: "tenant:crash" })).records).toEqual([]); // nothing linked yet

      const next = await chainedStore(redis.client, prefix, key);
      await spend(next.ledger, 1, "crash");
      const exported = await next.store.chainExport({ tenant: "tenant:crash" });
      expect(exported.records).toHaveLength(1 + 20 * 2 + 2);
      expect(verifyChain(exported.records, exported.checkpoints, keys).problems).toEqual([]);
      await Promise.all([next.store.close(), store.close()]);
    }, 60_000);

    it("a store down while linking fails nothing on the reserve path; the chain is completed when it is back", async () => {
      const prefix = uniquePrefix("chain-down");
      const { store, ledger } = await chainedStore(redis.server.url, prefix, key, {
        linkIntervalMs: 20,
        checkpointEveryEvents: 10,
      });
      await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
      await spend(ledger, 10);
      redis.server.pause(); // the linker's calls now time out, again and again
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      redis.server.resume();
      await spend(ledger, 10); // every pair allowed and committed
      const held = await ledger.reserve({
        subject: { tenant: "acme", agent: "a1" },
        action: { name: "search", tier: "read" },
        estimate: 2,
      });
      expect(held.decision).toBe("ALLOW");
      await ledger.commit(held.reservationId as string);
      const exported = await store.chainExport({ tenant: "tenant:acme" });
      expect(exported.records).toHaveLength(1 + 21 * 2);
      expect(verifyChain(exported.records, exported.checkpoints, keys).problems).toEqual([]);
      await store.close();
    }, 60_000);
  },
  { needsOwnServer: true },
);
