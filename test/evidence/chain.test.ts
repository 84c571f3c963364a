import { describe, expect, it } from "vitest";
import { canonicalBytes, sha256Hex } from "../../src/evidence/canonical.js";
import {
  type ChainRecord,
  emptyChainHead,
  genesisHash,
  headOf,
  linkEvent,
  recordHashOf,
  signCheckpoint,
  trimChain,
  unsignedCheckpoint,
  verifyChain,
} from "../../src/evidence/chain.js";
import { generateSigningKey, jwksOf, KeySet, parseJwks } from "../../src/evidence/keys.js";
import { buildChain, tamperings } from "./build-chain.js";

const key = generateSigningKey("tollgate-2026-12");
const otherKey = generateSigningKey("attacker");
const keys = KeySet.of([key]);

describe("the chain-link format", () => {
  it("hashes the JCS bytes of the event with its link fields, starting from the genesis hash", () => {
    const event = { type: "reserve", b: 1, a: "x" };
    const first = linkEvent("acme", emptyChainHead, event);
    expect(first).toMatchObject({ tenant: "acme", seq: 1, prevHash: genesisHash });
    const bytes = `{"event":{"a":"x","b":1,"type":"reserve"},"prevHash":"${genesisHash}","seq":1,"tenant":"acme"}`;
    expect(canonicalBytes({ tenant: "acme", seq: 1, prevHash: genesisHash, event }).toString()).toBe(bytes);
    expect(first.hash).toBe(sha256Hex(bytes));
    const second = linkEvent("acme", headOf(first), event);
    expect(second).toMatchObject({ seq: 2, prevHash: first.hash });
    expect(second.hash).toBe(recordHashOf("acme", 2, first.hash, event));
    expect(second.hash).not.toBe(first.hash);
  });

  it("refuses values that have no canonical form", () => {
    expect(() => linkEvent("acme", emptyChainHead, { amount: Number.NaN })).toThrow(/NaN/);
    expect(() => linkEvent("acme", emptyChainHead, { name: "\ud800" })).toThrow(/surrogate/i);
  });
});

describe("verifyChain", () => {
  it("an untouched chain is whole, with every checkpoint signed and the unsigned tail counted", () => {
    const chain = buildChain(key, { count: 23, every: 5 });
    const verified = verifyChain(chain.records, chain.checkpoints, keys);
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
    expect(verified.tenants).toEqual([
      {
        tenant: "acme",
        records: 23,
        firstSeq: 1,
        lastSeq: 23,
        checkpoints: 4,
        signedThroughSeq: 20,
        trimmedThroughSeq: 0,
        unsignedTail: 3,
      },
    ]);
  });

  it.each(tamperings(key, otherKey))("$name: detected as $kind at seq $seq", ({ apply, kind, seq }) => {
    const chain = buildChain(key, { count: 20, every: 5 });
    const tampered = apply(chain);
    const verified = verifyChain(tampered.records, tampered.checkpoints, keys);
    expect(verified.ok).toBe(false);
    expect(verified.problems[0]).toMatchObject({ tenant: "acme", seq, kind });
  });

  it("a history rewritten with every hash recomputed is caught by the next signed checkpoint", () => {
    const chain = buildChain(key, { count: 20, every: 5 });
    // The attacker edits record 7 and re-links everything after it: every hash and link is consistent.
    const rewritten: ChainRecord[] = chain.records.slice(0, 6);
    for (const record of chain.records.slice(6)) {
      const event = record.seq === 7 ? { ...record.event, decision: "DENY" } : record.event;
      rewritten.push(linkEvent("acme", headOf(rewritten.at(-1) as ChainRecord), event));
    }
    const verified = verifyChain(rewritten, chain.checkpoints, keys);
    expect(verified.ok).toBe(false);
    // The checkpoint at 5 still holds; the first untrusted seq is 6, the one after it.
    expect(verified.problems[0]).toMatchObject({ seq: 6, kind: "edited" });
    // Without the signatures a recomputed chain is indistinguishable: that is what the signing key is for.
    expect(verifyChain(rewritten, [], undefined).ok).toBe(true);
  });

  it("retention: a chain whose first record follows a kept checkpoint verifies; without it the gap is a deletion", () => {
    const chain = buildChain(key, { count: 20, every: 5 });
    const trimmed = trimChain(chain.records, 12, key, 1);
    expect(trimmed.records[0].seq).toBe(13);
    const kept = [...chain.checkpoints.filter((checkpoint) => checkpoint.seq > 12), trimmed.checkpoint];
    expect(verifyChain(trimmed.records, kept, keys)).toMatchObject({ ok: true });
    const verified = verifyChain(
      trimmed.records,
      chain.checkpoints.filter((checkpoint) => checkpoint.seq > 12),
      keys,
    );
    expect(verified.problems[0]).toMatchObject({ seq: 1, kind: "deleted" });
    // A kept checkpoint whose hash is not what the first record links to is an edit there.
    const wrong = { ...signCheckpoint("acme", { seq: 12, hash: genesisHash }, key, 1) };
    expect(verifyChain(trimmed.records, [wrong], keys).problems[0]).toMatchObject({ seq: 13, kind: "edited" });
  });

  it("retention keeps an unsigned anchor: what remains verifies, and the signed checkpoints after it cover it", () => {
    const { records, checkpoints } = buildChain(key, { count: 20, every: 10 });
    const trimmed = trimChain(records, 4, undefined, 1);
    expect(trimmed.checkpoint).toMatchObject({ seq: 4, keyId: "", signature: "" });
    expect(verifyChain(trimmed.records, [trimmed.checkpoint], undefined)).toMatchObject({ ok: true });
    expect(verifyChain(trimmed.records, [], undefined).problems[0]).toMatchObject({ seq: 1, kind: "deleted" });
    // Against a key set too: the anchor only says where the chain was cut.
    const kept = [trimmed.checkpoint, ...checkpoints];
    const strict = verifyChain(trimmed.records, kept, keys);
    expect(strict.problems).toEqual([]);
    expect(strict.tenants[0]).toMatchObject({ firstSeq: 5, trimmedThroughSeq: 4, signedThroughSeq: 20 });
    // It vouches for nothing: a rewrite of the records after it, every hash recomputed, breaks the
    // signed checkpoint at 10.
    const rewritten: ChainRecord[] = [];
    let head = { seq: 4, hash: genesisHash };
    for (const record of trimmed.records.slice(0, 6)) {
      const forged = linkEvent("acme", head, { ...record.event, estimate: 0 });
      rewritten.push(forged);
      head = headOf(forged);
    }
    const forgedAnchor = unsignedCheckpoint("acme", { seq: 4, hash: genesisHash }, 1);
    const attacked = verifyChain([...rewritten, ...trimmed.records.slice(6)], [forgedAnchor, ...checkpoints], keys);
    expect(attacked.problems[0]).toMatchObject({ seq: 5, kind: "edited" });
    // An unsigned checkpoint anywhere else is no authority against a key set.
    const loose = unsignedCheckpoint("acme", headOf(records[14]), 1);
    expect(verifyChain(records, [loose], keys).problems[0]).toMatchObject({ seq: 15, kind: "unknown key" });
  });

  it("key rotation: checkpoints signed before the rotation verify against the kid they name", () => {
    const old = generateSigningKey("2026-11");
    const current = generateSigningKey("2026-12");
    const first = buildChain(old, { count: 10, every: 5 });
    const rest = buildChain(current, { count: 10, every: 5, from: headOf(first.records[9]) });
    const records = [...first.records, ...rest.records];
    const checkpoints = [...first.checkpoints, ...rest.checkpoints];
    const published = parseJwks(JSON.parse(JSON.stringify(jwksOf([old, current]))));
    expect(verifyChain(records, checkpoints, published).ok).toBe(true);
    // Without the old key published, its checkpoints name an unknown key.
    expect(verifyChain(records, checkpoints, KeySet.of([current])).problems[0]).toMatchObject({
      seq: 5,
      kind: "unknown key",
    });
  });

  it("keeps tenants apart: a record moved to another tenant's chain breaks both", () => {
    const acme = buildChain(key, { tenant: "acme", count: 6, every: 3 });
    const beta = buildChain(key, { tenant: "beta", count: 6, every: 3 });
    expect(verifyChain([...acme.records, ...beta.records], [...acme.checkpoints, ...beta.checkpoints], keys).ok).toBe(
      true,
    );
    const moved = { ...acme.records[3], tenant: "beta" };
    const verified = verifyChain(
      [...acme.records.filter((_, index) => index !== 3), ...beta.records, moved],
      [...acme.checkpoints, ...beta.checkpoints],
      keys,
    );
    expect(verified.problems.filter((problem) => problem.tenant === "acme")[0]).toMatchObject({
      seq: 4,
      kind: "deleted",
    });
    expect(verified.problems.filter((problem) => problem.tenant === "beta")[0]).toMatchObject({ seq: 4 });
  });

  it("lists at most chainProblemsMax problems of a wrecked chain", () => {
    const chain = buildChain(key, { count: 400, every: 1000 });
    for (const record of chain.records) record.event.estimate = 0;
    const verified = verifyChain(chain.records, [], keys);
    expect(verified.problems).toHaveLength(100);
    expect(verified.problems[0]).toMatchObject({ seq: 1, kind: "edited" });
  });
});
