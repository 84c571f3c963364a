import { afterEach, expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import type { LedgerStore } from "../../../src/store/types.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const subject = { tenant: "acme", agent: "a1" };
const action = { name: "search", tier: "read" as const };
const runId = "a run: 1 2\n3";

describeRedis("the audit seq in Redis answers", () => {
  const redis = useRedisServer();
  const stores: LedgerStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  // Answers as the scripts remembered them before (all items as text): balances as seven items each,
  // "<lead> <window> <instance> <allocated> <spent> <reserved> <debt>", with or without the seq.
  const olderLayout = (answer: string[], withSeq: boolean): string[] => {
    const balances = answer.slice(11).flatMap((packed) => {
      const [lead, window, allocated, counters, ...instance] = packed.split(" ");
      return [lead, window, instance.join(" "), allocated, ...counters.split(":")];
    });
    return [...answer.slice(0, withSeq ? 11 : 10), ...balances];
  };

  for (const withSeq of [true, false]) {
    it(`a reserve remembered with seven items per balance ${withSeq ? "and" : "and before answers carried"} the seq still replays`, async () => {
      const prefix = uniquePrefix("audit-seq");
      const store = await createRedisStore({ redis: redis.client, prefix });
      stores.push(store);
      const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      await ledger.setBudget({ scope: "tenant:acme/agent:a1", limit: 50, window: "run" });
      const first = await ledger.reserve({ subject, action, estimate: 5, idempotencyKey: "k-1", runId });
      expect(first.auditSeq).toBe(3);
      // A run's instance holds the run id as given, spaces, colons and line breaks too.
      expect(first.balances.map((balance) => [balance.instance, balance.reserved, balance.remaining])).toEqual([
        ["life", 5, 95],
        [`run:${runId}`, 5, 45],
      ]);
      const [recordKey] = (await redis.client.sendCommand(["KEYS", `${prefix}:{tenant:acme}:i:reserve:*`])) as string[];
      const stored = (await redis.client.sendCommand(["GET", recordKey])) as string;
      const cut = stored.indexOf("\n");
      const answer = JSON.parse(stored.slice(cut + 1)) as string[];
      expect(answer[10]).toBe("3");
      const older = JSON.stringify(olderLayout(answer, withSeq));
      await redis.client.sendCommand(["SET", recordKey, `${stored.slice(0, cut)}\n${older}`, "KEEPTTL"]);
      const replay = await ledger.reserve({ subject, action, estimate: 5, idempotencyKey: "k-1", runId });
      expect(replay).toMatchObject({ replayed: true, reservationId: first.reservationId, balances: first.balances });
      expect(replay.auditSeq).toBe(withSeq ? 3 : undefined);
    });
  }

  it("a remembered answer with a malformed balance is refused, never replayed with NaN in it", async () => {
    const prefix = uniquePrefix("audit-seq");
    const store = await createRedisStore({ redis: redis.client, prefix });
    stores.push(store);
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const malformed = [
      "1 lifetime 100 0:5 life",
      "1 lifetime 1e3 0:5:0 life",
      "1 lifetime 100 0:5:0",
      "1 hourly 100 0:5:0 life",
      "9 lifetime 100 0:5:0 life",
      "1 lifetime 100 0:-5:0 life",
    ];
    for (const [index, balance] of malformed.entries()) {
      const key = `k-${index}`;
      await ledger.reserve({ subject, action, estimate: 5, idempotencyKey: key });
      const [recordKey] = (await redis.client.sendCommand([
        "KEYS",
        `${prefix}:{tenant:acme}:i:reserve:${key}`,
      ])) as string[];
      const stored = (await redis.client.sendCommand(["GET", recordKey])) as string;
      const cut = stored.indexOf("\n");
      const answer = JSON.parse(stored.slice(cut + 1)) as string[];
      expect(answer).toHaveLength(12);
      answer[11] = balance;
      await redis.client.sendCommand([
        "SET",
        recordKey,
        `${stored.slice(0, cut)}\n${JSON.stringify(answer)}`,
        "KEEPTTL",
      ]);
      const replay = await ledger.reserve({ subject, action, estimate: 5, idempotencyKey: key });
      expect({ balance, replay }).toMatchObject({
        balance,
        replay: { decision: "DENY", reasonCode: "LEDGER_UNAVAILABLE" },
      });
    }
  });
});
