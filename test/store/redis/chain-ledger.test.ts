import { afterEach, expect, it } from "vitest";
import { ValidationError } from "../../../src/core/errors.js";
import { verifyChain } from "../../../src/evidence/chain.js";
import { generateSigningKey, KeySet, privateKeyPem } from "../../../src/evidence/keys.js";
import { createLedger } from "../../../src/ledger/create-ledger.js";
import type { Ledger } from "../../../src/ledger/ledger.js";
import type { RedisLedgerStore } from "../../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

const key = generateSigningKey("tollgate-2026-12");

describeRedis("createLedger({ evidence }) on Redis", () => {
  const redis = useRedisServer();
  const ledgers: Ledger[] = [];
  afterEach(async () => {
    await Promise.all(ledgers.splice(0).map((ledger) => ledger.close()));
  });

  it("chains every decision of the ledger it builds and signs checkpoints with the given key", async () => {
    const ledger = createLedger({
      redis: redis.server.url,
      redisPrefix: uniquePrefix("evidence"),
      sweepIntervalMs: 0,
      evidence: { privateKey: privateKeyPem(key), keyId: key.keyId, checkpointEveryEvents: 4 },
    });
    ledgers.push(ledger);
    await ledger.setBudget({ scope: "tenant:acme", limit: 50 });
    const subject = { tenant: "acme", agent: "mailer" };
    const action = { name: "send_email", tier: "write-external" as const };
    for (let index = 0; index < 3; index++) {
      const held = await ledger.reserve({ subject, action, estimate: 20 });
      if (held.reservationId) await ledger.commit(held.reservationId);
    }
    const store = (await ledger.store) as RedisLedgerStore;
    const exported = await store.chainExport({ tenant: "tenant:acme" });
    // budget.set, two reserve + commit pairs, the third reserve denied: 6 events.
    expect(exported.records.map((record) => record.event.type)).toEqual([
      "budget.set",
      "reserve",
      "commit",
      "reserve",
      "commit",
      "reserve",
    ]);
    expect(exported.records[5].event).toMatchObject({ decision: "DENY" });
    expect(exported.checkpoints.at(-1)).toMatchObject({ seq: 6, keyId: key.keyId });
    expect(verifyChain(exported.records, exported.checkpoints, KeySet.of([key])).problems).toEqual([]);
  });

  it("refuses bad evidence options at once, naming the field", () => {
    const bad = () => createLedger({ redis: redis.server.url, evidence: { checkpointEveryEvents: 0 } });
    expect(bad).toThrow(ValidationError);
    try {
      bad();
    } catch (error) {
      expect((error as ValidationError).issues[0].path).toBe("evidence.checkpointEveryEvents");
    }
  });
});
