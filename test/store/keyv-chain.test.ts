import { afterEach, describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.js";
import { verifyChain } from "../../src/evidence/chain.js";
import type { ChainExport } from "../../src/evidence/export.js";
import { generateSigningKey, KeySet, privateKeyPem } from "../../src/evidence/keys.js";
import { type CreateLedgerOptions, createLedger } from "../../src/ledger/create-ledger.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import type { EmbeddedChain } from "../../src/store/keyv-chain.js";
import type { KeyvSingleProcessStore } from "../../src/store/keyv-store.js";
import { tamperings } from "../evidence/build-chain.js";

const key = generateSigningKey("tollgate-2026-12");
const otherKey = generateSigningKey("other");
const keys = KeySet.of([key]);
const action = { name: "send_email", tier: "write-external" as const };
const subjectOf = (tenant: string) => ({ tenant, agent: "mailer" });

/** A ledger on the embedded store with evidence, its clock in the test's hands, no link timer in the way. */
function chainedLedger(options: Partial<CreateLedgerOptions> & { evidence?: CreateLedgerOptions["evidence"] } = {}) {
  const clock = { nowMs: 1_800_000_000_000 };
  const ledger = createLedger({
    sweepIntervalMs: 0,
    clock: () => clock.nowMs,
    ...options,
    evidence: {
      privateKey: privateKeyPem(key),
      keyId: key.keyId,
      linkIntervalMs: 60_000,
      checkpointIntervalMs: 3_600_000,
      ...options.evidence,
    },
  });
  ledgers.push(ledger);
  return { ledger, clock, store: async () => (await ledger.store) as KeyvSingleProcessStore };
}
const chainOf = (store: KeyvSingleProcessStore) => (store as unknown as { chain: EmbeddedChain }).chain;
const ledgers: Ledger[] = [];
afterEach(async () => {
  await Promise.all(ledgers.splice(0).map((ledger) => ledger.close()));
});

/** budget.set, then reserve + commit pairs and one reserve: `count` events of tenant:acme, linking after each `linkEvery`. */
async function writeEvents(ledger: Ledger, store: KeyvSingleProcessStore, count: number, linkEvery: number) {
  await ledger.setBudget({ scope: "tenant:acme", limit: 1_000_000 });
  let written = 1;
  const answers: { type: string; seq: number; reservationId: string }[] = [];
  while (written < count) {
    const held = await ledger.reserve({ subject: subjectOf("acme"), action, estimate: 2 });
    answers.push({ type: "reserve", seq: held.auditSeq as number, reservationId: held.reservationId as string });
    written++;
    if (written % linkEvery === 0) await store.linkChains();
    if (written === count) break;
    const committed = await ledger.commit(held.reservationId as string);
    answers.push({ type: "commit", seq: committed.auditSeq as number, reservationId: held.reservationId as string });
    written++;
    if (written % linkEvery === 0) await store.linkChains();
  }
  return answers;
}

describe("createLedger({ evidence }) on the embedded store", () => {
  it("chains every event, each answer's auditSeq is its record's seq, and checkpoints sign every N events", async () => {
    const { ledger, store: storeOf } = chainedLedger({ evidence: { checkpointEveryEvents: 5 } });
    const store = await storeOf();
    const answers = await writeEvents(ledger, store, 20, 5);
    expect(await ledger.decide({ subject: subjectOf("acme"), action, estimate: 1 })).not.toHaveProperty(
      "auditSeq",
      expect.any(Number),
    );
    const exported = await store.chainExport({ tenant: "tenant:acme" });
    expect(exported.records.map((record) => record.seq)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    for (const answer of answers) {
      expect(exported.records[answer.seq - 1].event).toMatchObject({
        type: answer.type,
        reservationId: answer.reservationId,
      });
    }
    expect(exported.checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint.keyId])).toEqual([
      [5, key.keyId],
      [10, key.keyId],
      [15, key.keyId],
      [20, key.keyId],
    ]);
    const verdict = verifyChain(exported.records, exported.checkpoints, keys);
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);
  });

  it("names each tampering of its export at the right seq", async () => {
    const { ledger, store: storeOf } = chainedLedger({ evidence: { checkpointEveryEvents: 5 } });
    const store = await storeOf();
    await writeEvents(ledger, store, 20, 5);
    const exported = await store.chainExport({ tenant: "tenant:acme" });
    for (const tampering of tamperings(key, otherKey, "tenant:acme")) {
      const tampered = tampering.apply(exported as ChainExport);
      const verdict = verifyChain(tampered.records, tampered.checkpoints, keys);
      expect(verdict.ok, tampering.name).toBe(false);
      expect(verdict.problems[0], tampering.name).toMatchObject({ kind: tampering.kind, seq: tampering.seq });
    }
  });

  it("signs a checkpoint once checkpointIntervalMs has passed with something new, by the store's clock", async () => {
    const {
      ledger,
      clock,
      store: storeOf,
    } = chainedLedger({
      evidence: { checkpointEveryEvents: 1_000, checkpointIntervalMs: 10_000 },
    });
    const store = await storeOf();
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await store.linkChains();
    clock.nowMs += 9_999;
    await ledger.reserve({ subject: subjectOf("acme"), action, estimate: 1 });
    await store.linkChains();
    expect((await store.chainExport({ tenant: "tenant:acme" })).checkpoints).toEqual([]);
    clock.nowMs += 1;
    await ledger.reserve({ subject: subjectOf("acme"), action, estimate: 1 });
    await store.linkChains();
    const { checkpoints } = await store.chainExport({ tenant: "tenant:acme" });
    expect(checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint.atMs])).toEqual([[3, clock.nowMs]]);
  });

  it("retention (per tenant and in total) drops only sealed events: what is kept verifies, links stay bounded", async () => {
    const {
      ledger,
      clock,
      store: storeOf,
    } = chainedLedger({
      auditEventsMax: 8,
      auditEventsTotalMax: 20,
      evidence: { checkpointEveryEvents: 7 },
    });
    const store = await storeOf();
    const tenants = ["acme", "beta", "gamma"];
    for (const tenant of tenants) await ledger.setBudget({ scope: `tenant:${tenant}`, limit: 1_000_000 });
    // A tenant written once, linked and checkpointed, then dropped whole by the total cap.
    await ledger.setBudget({ scope: "tenant:idle", limit: 1 });
    await ledger.reserve({ subject: subjectOf("idle"), action, estimate: 5 });
    await store.linkChains();
    clock.nowMs += 3_600_000;
    await ledger.reserve({ subject: subjectOf("idle"), action, estimate: 5 });
    await store.linkChains();
    expect((await store.chainExport({ tenant: "tenant:idle" })).checkpoints.map((c) => c.seq)).toEqual([3]);
    // No link call in between: every eviction finds its event unsealed and seals up to it first.
    for (let round = 0; round < 200; round++) {
      const tenant = tenants[round % tenants.length];
      const held = await ledger.reserve({ subject: subjectOf(tenant), action, estimate: 1 });
      await ledger.commit(held.reservationId as string);
      if (round % 50 === 49) await store.linkChains();
    }
    const exported = await store.chainExport({});
    const verdict = verifyChain(exported.records, exported.checkpoints, keys);
    expect(verdict.problems).toEqual([]);
    expect(verdict.ok).toBe(true);
    for (const tenant of tenants) {
      const records = exported.records.filter((record) => record.tenant === `tenant:${tenant}`);
      expect(records.length).toBeGreaterThan(0);
      expect(records.length).toBeLessThanOrEqual(8);
      const rounds = Math.ceil((200 - tenants.indexOf(tenant)) / tenants.length);
      expect(records.at(-1)?.seq).toBe(1 + 2 * rounds); // budget.set, then a reserve and a commit per round
      // The unsigned retention anchor sits just before the first kept record.
      expect(exported.checkpoints).toContainEqual(
        expect.objectContaining({ tenant: `tenant:${tenant}`, seq: records[0].seq - 1, signature: "" }),
      );
      const state = (chainOf(store) as unknown as { tenants: Map<string, { hashes: Uint8Array }> }).tenants.get(
        `tenant:${tenant}`,
      );
      expect(state?.hashes.byteLength).toBeLessThanOrEqual(64 * 32);
    }
    expect(exported.records.length).toBeLessThanOrEqual(20);
    expect(exported.records.some((record) => record.tenant === "tenant:idle")).toBe(false);
    expect(exported.checkpoints.some((checkpoint) => checkpoint.tenant === "tenant:idle")).toBe(false);
  });

  it("gives every tenant a chain of its own, each from seq 1", async () => {
    const { ledger, store: storeOf } = chainedLedger({ evidence: { checkpointEveryEvents: 3 } });
    const store = await storeOf();
    const tenants = Array.from({ length: 40 }, (_, index) => `t${index}`);
    for (const tenant of tenants) await ledger.setBudget({ scope: `tenant:${tenant}`, limit: 100 });
    for (let round = 0; round < 3; round++) {
      for (const tenant of tenants) {
        const held = await ledger.reserve({ subject: subjectOf(tenant), action, estimate: 1 });
        expect(held.auditSeq).toBe(2 * round + 2);
        await ledger.commit(held.reservationId as string);
      }
    }
    const exported = await store.chainExport({});
    expect(verifyChain(exported.records, exported.checkpoints, keys).problems).toEqual([]);
    for (const tenant of tenants) {
      const seqs = exported.records.filter((record) => record.tenant === `tenant:${tenant}`).map((r) => r.seq);
      expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
    }
  });

  it("close() seals what waits", async () => {
    const { ledger, store: storeOf } = chainedLedger({ evidence: { checkpointEveryEvents: 1_000 } });
    const store = await storeOf();
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    const held = await ledger.reserve({ subject: subjectOf("acme"), action, estimate: 1 });
    const chain = chainOf(store);
    expect((await chain.sealedHead("tenant:acme")).seq).toBe(0);
    await ledger.close();
    expect((await chain.sealedHead("tenant:acme")).seq).toBe(held.auditSeq);
    expect(held.auditSeq).toBe(2);
  });

  it("refuses bad evidence options at once, naming the field", () => {
    try {
      createLedger({ evidence: { checkpointEveryEvents: 0 } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0].path).toBe("evidence.checkpointEveryEvents");
    }
  });

  it("without evidence the store keeps no chain and exports none", async () => {
    const ledger = createLedger({ sweepIntervalMs: 0 });
    ledgers.push(ledger);
    await ledger.setBudget({ scope: "tenant:acme", limit: 100 });
    await ledger.reserve({ subject: subjectOf("acme"), action, estimate: 1 });
    const store = (await ledger.store) as KeyvSingleProcessStore;
    expect(chainOf(store)).toBeUndefined();
    expect(await store.chainExport({})).toEqual({ records: [], checkpoints: [] });
  });
});
