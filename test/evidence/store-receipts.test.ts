import { afterAll, describe, expect, it } from "vitest";
import { StoreReplyError, ValidationError } from "../../src/core/errors.js";
import { generateSigningKey, KeySet, privateKeyPem } from "../../src/evidence/keys.js";
import { chainRecordOfReceipt, verifyReceipt } from "../../src/evidence/receipt.js";
import { createLedger } from "../../src/ledger/create-ledger.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import type { RedisLedgerStore } from "../../src/store/redis/index.js";
import { describeRedis, uniquePrefix, useRedisServer } from "../store/redis/support.js";

const key = generateSigningKey("k-receipts");
const keys = KeySet.of([key]);
const subject = { tenant: "acme", agent: "mailer" };
const action = { name: "send_email", tier: "write-external" as const };
const evidence = { privateKey: privateKeyPem(key), keyId: key.keyId, serverId: "https://tollgate.test/acme" };

async function expectValidation(promise: Promise<unknown>, path: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ValidationError);
  expect((error as ValidationError).issues.map((issue) => issue.path)).toContain(path);
}

/** Each store: a ledger with evidence and a key, one with evidence and no key, and one without. */
function receiptCases(name: string, make: (options: object) => Ledger, auditEventsMax: (max: number) => object) {
  describe(`ledger.receipt() on the ${name} store`, () => {
    const ledgers: Ledger[] = [];
    const open = (options: object) => {
      const ledger = make({ sweepIntervalMs: 0, ...options });
      ledgers.push(ledger);
      return ledger;
    };
    afterAll(async () => {
      await Promise.all(ledgers.map((ledger) => ledger.close()));
    });

    it("signs a receipt for the reserve and the commit an answer's auditSeq names; each verifies alone", async () => {
      const ledger = open({ evidence });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      const held = await ledger.reserve({ subject, action, estimate: 20 });
      const committed = await ledger.commit(held.reservationId as string, { actual: 15 });
      expect(held.auditSeq).toBeGreaterThan(0);
      expect(committed.auditSeq).toBe((held.auditSeq as number) + 1);
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
      const reserved = await ledger.receipt({
        scope: "tenant:acme/agent:mailer",
        seq: held.auditSeq as number,
        traceId,
      });
      const settled = await ledger.receipt({ scope: "tenant:acme", seq: committed.auditSeq as number });
      expect(reserved).toMatchObject({
        schema_version: "cycles-evidence/v0.1",
        artifact_type: "reserve",
        server_id: "https://tollgate.test/acme",
        signer_did: key.publicKeyHex,
        trace_id: traceId,
      });
      expect(settled.artifact_type).toBe("commit");
      for (const receipt of [reserved, settled]) {
        expect(verifyReceipt(receipt, keys)).toMatchObject({ ok: true, disposition: "key_set", keyId: key.keyId });
      }
      // The record inside is the chain's own: the same hash an export holds at that seq.
      const store = await ledger.store;
      const exported = await store.chainExport?.({ tenant: "tenant:acme" });
      const atSeq = exported?.records.find((record) => record.seq === held.auditSeq);
      expect(chainRecordOfReceipt(reserved as never)).toEqual(atSeq);
      expect(chainRecordOfReceipt(settled as never)?.event).toMatchObject({ type: "commit", amount: 15 });
      // One byte of the payload changed: the receipt no longer verifies.
      const edited = structuredClone(settled) as unknown as {
        payload: { commit: { tollgate_chain_record: { event: { amount: number } } } };
      };
      edited.payload.commit.tollgate_chain_record.event.amount = 16;
      expect(verifyReceipt(edited, keys)).toMatchObject({ ok: false, problem: { kind: "edited" } });
    });

    it("signs a decide() made for the receipt, question and answer inside, and writes no audit event", async () => {
      const ledger = open({ evidence });
      await ledger.setBudget({ scope: "tenant:acme", limit: 30 });
      const before = await ledger.audit({ scope: "tenant:acme" });
      const allowed = await ledger.receipt({ decide: { subject, action, estimate: 20 } });
      const denied = await ledger.receipt({ decide: { subject, action, estimate: 40, runId: "run-7" } });
      expect(allowed.artifact_type).toBe("decide");
      expect(allowed.payload.decide).toMatchObject({
        tollgate_decision: {
          tenant: "tenant:acme",
          subject: "tenant:acme/agent:mailer",
          action,
          estimate: 20,
          unit: "RISK_POINTS",
          decision: "ALLOW",
          balances: [{ scope: "tenant:acme", allocated: 30, remaining: 30 }],
        },
      });
      expect(denied.payload.decide).toMatchObject({
        tollgate_decision: {
          decision: "DENY",
          reasonCode: "BUDGET_EXCEEDED",
          deniedScope: "tenant:acme",
          runId: "run-7",
        },
      });
      for (const receipt of [allowed, denied]) expect(verifyReceipt(receipt, keys)).toMatchObject({ ok: true });
      expect(chainRecordOfReceipt(allowed as never)).toBeUndefined();
      expect(await ledger.audit({ scope: "tenant:acme" })).toEqual(before);
      await expectValidation(ledger.receipt({ decide: { subject, action, estimate: -1 } }), "decide.estimate");
      await expectValidation(ledger.receipt({ decide: { subject, action, estimate: 1 }, seq: 1 } as never), "seq");
    });

    it("refuses bad input naming the field, and events that have no receipt or are not kept", async () => {
      const ledger = open({ evidence });
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: 0 }), "seq");
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: 1.5 }), "seq");
      await expectValidation(ledger.receipt({ scope: "acme", seq: 1 }), "scope");
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: 1, traceId: "XYZ" }), "traceId");
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: 1, extra: 1 } as never), "extra");
      // seq 1 is the budget.set: a budget change has no Cycles artifact type.
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: 1 }), "event.type");
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: 99 }), "seq");
      await expectValidation(ledger.receipt({ scope: "tenant:nobody", seq: 1 }), "seq");
    });

    it("needs a signing key: evidence without one, or none at all, is a ValidationError", async () => {
      const unsigned = open({ evidence: {} });
      await unsigned.setBudget({ scope: "tenant:acme", limit: 100 });
      const held = await unsigned.reserve({ subject, action, estimate: 1 });
      await expectValidation(
        unsigned.receipt({ scope: "tenant:acme", seq: held.auditSeq as number }),
        "evidence.privateKey",
      );
      const plain = open({});
      await plain.setBudget({ scope: "tenant:acme", limit: 100 });
      await expectValidation(plain.receipt({ scope: "tenant:acme", seq: 1 }), "evidence.privateKey");
    });

    it("has no receipt for an event retention dropped", async () => {
      const ledger = open({ evidence, ...auditEventsMax(4) });
      await ledger.setBudget({ scope: "tenant:acme", limit: 1_000 });
      let first: number | undefined;
      for (let index = 0; index < 20; index++) {
        const held = await ledger.reserve({ subject, action, estimate: 1 });
        first ??= held.auditSeq;
        await ledger.commit(held.reservationId as string);
      }
      await expectValidation(ledger.receipt({ scope: "tenant:acme", seq: first as number }), "seq");
    });
  });
}

receiptCases(
  "embedded",
  (options) => createLedger(options),
  (max) => ({ auditEventsMax: max }),
);

describeRedis("ledger.receipt() on Redis", () => {
  const redis = useRedisServer();
  receiptCases(
    "Redis",
    (options) => createLedger({ redis: redis.server.url, redisPrefix: uniquePrefix("receipt"), ...options }),
    (max) => ({ auditEventsMax: max }),
  );

  it("refuses to sign a record whose link was changed in Redis (a fault, not a signature)", async () => {
    const prefix = uniquePrefix("receipt-tamper");
    const ledger = createLedger({ redis: redis.server.url, redisPrefix: prefix, sweepIntervalMs: 0, evidence });
    try {
      await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
      const held = await ledger.reserve({ subject, action, estimate: 20 });
      const store = (await ledger.store) as RedisLedgerStore;
      await store.linkChains({ tenant: "tenant:acme" });
      const linksKey = `${prefix}:{tenant:acme}:chain`;
      const members = (await redis.client.sendCommand(["ZRANGE", linksKey, "0", "-1", "WITHSCORES"])) as string[];
      const [member, score] = members;
      const forged = member.replace(new RegExp(`${held.auditSeq}:([0-9a-f]{64})`), (_all, hash: string) => {
        return `${held.auditSeq}:${hash.startsWith("0") ? `1${hash.slice(1)}` : `0${hash.slice(1)}`}`;
      });
      expect(forged).not.toBe(member);
      await redis.client.sendCommand(["ZREM", linksKey, member]);
      await redis.client.sendCommand(["ZADD", linksKey, score, forged]);
      const error = await ledger
        .receipt({ scope: "tenant:acme", seq: held.auditSeq as number })
        .catch((caught) => caught);
      expect(error).toBeInstanceOf(StoreReplyError);
      expect(String(error.message)).toMatch(/does not match its hash/);
    } finally {
      await ledger.close();
    }
  });
});
