import { afterEach, expect, it } from "vitest";
import { StoreLedger } from "../../../src/ledger/ledger.js";
import { createRedisStore } from "../../../src/store/redis/index.js";
import type { LedgerStore } from "../../../src/store/types.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const subject = { tenant: "acme", agent: "a1" };
const action = { name: "search", tier: "read" as const };

describeRedis("the audit seq in Redis answers", () => {
  const redis = useRedisServer();
  const stores: LedgerStore[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  it("a reserve remembered before answers carried the seq still replays, without one", async () => {
    const prefix = uniquePrefix("audit-seq");
    const store = await createRedisStore({ redis: redis.client, prefix });
    stores.push(store);
    const ledger = new StoreLedger(store, { sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const first = await ledger.reserve({ subject, action, estimate: 5, idempotencyKey: "k-1" });
    expect(first.auditSeq).toBe(2);
    // The remembered answer as the scripts wrote it before: the same fields, no seq after "replayed".
    const [recordKey] = (await redis.client.sendCommand(["KEYS", `${prefix}:{tenant:acme}:i:reserve:*`])) as string[];
    const stored = (await redis.client.sendCommand(["GET", recordKey])) as string;
    const cut = stored.indexOf("\n");
    const answer = JSON.parse(stored.slice(cut + 1)) as unknown[];
    expect(answer[10]).toBe("2");
    answer.splice(10, 1);
    await redis.client.sendCommand(["SET", recordKey, `${stored.slice(0, cut)}\n${JSON.stringify(answer)}`, "KEEPTTL"]);
    const replay = await ledger.reserve({ subject, action, estimate: 5, idempotencyKey: "k-1" });
    expect(replay).toMatchObject({ replayed: true, reservationId: first.reservationId, balances: first.balances });
    expect(replay.auditSeq).toBeUndefined();
  });
});
