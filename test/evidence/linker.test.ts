import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.js";
import { verifyChain } from "../../src/evidence/chain.js";
import { generateSigningKey, KeySet, privateKeyPem, publicJwkOf, thumbprintOf } from "../../src/evidence/keys.js";
import { ChainLinker } from "../../src/evidence/linker.js";
import { type EvidenceConfig, parseEvidenceOptions } from "../../src/evidence/options.js";
import { MemoryChainBackend } from "./memory-chain-backend.js";

const key = generateSigningKey("k1");
const keys = KeySet.of([key]);
const config = (overrides: Partial<EvidenceConfig> = {}): EvidenceConfig => ({
  signingKey: key,
  checkpointEveryEvents: 100,
  checkpointIntervalMs: 60_000,
  linkIntervalMs: 10,
  linkBatchMax: 64,
  serverId: "urn:tollgate:test",
  ...overrides,
});
const event = (index: number) => ({ type: "reserve", scope: "tenant:acme", decision: "ALLOW", estimate: index });

function writeMany(backend: MemoryChainBackend, tenant: string, count: number): void {
  for (let index = 0; index < count; index++) backend.write(tenant, event(index));
}

describe("ChainLinker", () => {
  it("links every written event into one chain that verifies, in batches, and signs a checkpoint", async () => {
    const backend = new MemoryChainBackend();
    const linker = new ChainLinker(backend, config());
    writeMany(backend, "acme", 250);
    linker.noteWritten("acme");
    await linker.flush();
    const records = backend.records("acme");
    expect(records.map((record) => record.seq)).toEqual(Array.from({ length: 250 }, (_, index) => index + 1));
    expect(backend.sealCalls).toBe(4); // 64 + 64 + 64 + 58
    const checkpoints = backend.checkpoints.get("acme") ?? [];
    expect(checkpoints.map((checkpoint) => [checkpoint.seq, checkpoint.keyId])).toEqual([[250, "k1"]]);
    const verification = verifyChain(records, checkpoints, keys);
    expect(verification.problems).toEqual([]);
    expect(verification.tenants[0]).toMatchObject({ signedThroughSeq: 250, unsignedTail: 0 });
  });

  it("a flush called while another is linking also links what was written after that one read its events", async () => {
    const backend = new MemoryChainBackend();
    const linker = new ChainLinker(backend, config());
    writeMany(backend, "acme", 3);
    linker.noteWritten("acme");
    let release: () => void = () => undefined;
    backend.beforeSeal = () => new Promise<void>((resolve) => (release = resolve));
    const first = linker.flush(); // reads seq 1-3, then waits in its seal
    await new Promise((resolve) => setImmediate(resolve));
    backend.write("acme", event(3));
    linker.noteWritten("acme");
    const second = linker.flush();
    backend.beforeSeal = undefined;
    release();
    await Promise.all([first, second]);
    expect(backend.records("acme").map((record) => record.seq)).toEqual([1, 2, 3, 4]);
  });

  it("a checkpoint is due after checkpointEveryEvents new events or checkpointIntervalMs, whichever is first", async () => {
    const backend = new MemoryChainBackend();
    let nowMs = 1_000_000;
    const linker = new ChainLinker(backend, config({ checkpointEveryEvents: 100 }), {}, () => nowMs);
    writeMany(backend, "acme", 99);
    await linker.linkTenant("acme");
    expect(backend.checkpoints.get("acme")).toBeUndefined();
    backend.write("acme", event(99));
    await linker.linkTenant("acme");
    expect(backend.checkpoints.get("acme")?.map((checkpoint) => checkpoint.seq)).toEqual([100]);
    backend.write("acme", event(100));
    nowMs += 59_999;
    await linker.linkTenant("acme");
    expect(backend.checkpoints.get("acme")?.map((checkpoint) => checkpoint.seq)).toEqual([100]);
    nowMs += 1;
    await linker.linkTenant("acme");
    expect(backend.checkpoints.get("acme")?.map((checkpoint) => checkpoint.seq)).toEqual([100, 101]);
    nowMs += 120_000;
    await linker.linkTenant("acme"); // nothing new: no checkpoint
    expect(backend.checkpoints.get("acme")).toHaveLength(2);
  });

  it("two linkers racing on one store seal one chain, with the same hashes", async () => {
    const backend = new MemoryChainBackend();
    const first = new ChainLinker(backend, config({ linkBatchMax: 16 }));
    const second = new ChainLinker(backend, config({ linkBatchMax: 16 }));
    writeMany(backend, "acme", 100);
    // The second linker seals a batch while the first is between reading and sealing its own.
    let raced = false;
    backend.beforeSeal = async () => {
      if (raced) return;
      raced = true;
      await second.linkTenant("acme");
    };
    await first.linkTenant("acme");
    writeMany(backend, "acme", 20);
    await Promise.all([first.linkTenant("acme"), second.linkTenant("acme")]);
    const records = backend.records("acme");
    expect(records).toHaveLength(120);
    expect(verifyChain(records, backend.checkpoints.get("acme") ?? [], keys).problems).toEqual([]);
  });

  it("an edit after linking is found at its seq; an unlinked tail is not yet covered", async () => {
    const backend = new MemoryChainBackend();
    const linker = new ChainLinker(backend, config({ checkpointEveryEvents: 10 }));
    writeMany(backend, "acme", 30);
    await linker.linkTenant("acme");
    const stored = backend.events.get("acme") ?? [];
    stored[16].event = { ...stored[16].event, estimate: 0 };
    const verification = verifyChain(backend.records("acme"), backend.checkpoints.get("acme") ?? [], keys);
    expect(verification.problems[0]).toMatchObject({ seq: 17, kind: "edited" });
  });

  it("a store that fails keeps the tenant pending; the next flush links it", async () => {
    const backend = new MemoryChainBackend();
    const errors: unknown[] = [];
    const linker = new ChainLinker(backend, config(), { onError: (error) => errors.push(error) });
    writeMany(backend, "acme", 5);
    const sealedHead = backend.sealedHead.bind(backend);
    backend.sealedHead = async () => {
      throw new Error("store down");
    };
    linker.noteWritten("acme");
    await linker.flush();
    expect(errors).toHaveLength(1);
    expect(backend.records("acme")).toEqual([]);
    backend.sealedHead = sealedHead;
    await linker.flush();
    expect(backend.records("acme")).toHaveLength(5);
  });

  it("events trimmed before they were linked are reported as a gap, and the chain goes on", async () => {
    const backend = new MemoryChainBackend();
    const gaps: [string, number, number][] = [];
    const linker = new ChainLinker(backend, config(), { onGap: (...gap) => gaps.push(gap) });
    writeMany(backend, "acme", 10);
    await linker.linkTenant("acme");
    writeMany(backend, "acme", 10);
    backend.trim("acme", 15);
    await linker.linkTenant("acme");
    expect(gaps).toEqual([["acme", 11, 15]]);
    expect(backend.records("acme").map((record) => record.seq)).toEqual([16, 17, 18, 19, 20]);
  });

  it("without a signing key the chain is linked and its checkpoints are unsigned", async () => {
    const backend = new MemoryChainBackend();
    const linker = new ChainLinker(backend, config({ signingKey: undefined, checkpointEveryEvents: 5 }));
    writeMany(backend, "acme", 5);
    await linker.linkTenant("acme");
    expect(backend.checkpoints.get("acme")?.[0]).toMatchObject({ seq: 5, keyId: "", signature: "" });
    expect(verifyChain(backend.records("acme"), [], undefined).ok).toBe(true);
  });

  it("close() links what is pending and stops the timer", async () => {
    const backend = new MemoryChainBackend();
    const linker = new ChainLinker(backend, config({ linkIntervalMs: 60_000 }));
    linker.start();
    writeMany(backend, "acme", 3);
    writeMany(backend, "globex", 2);
    linker.noteWritten("acme");
    linker.noteWritten("globex");
    await linker.close();
    expect(backend.records("acme")).toHaveLength(3);
    expect(backend.records("globex")).toHaveLength(2);
  });
});

describe("parseEvidenceOptions", () => {
  it("takes a PEM or an Ed25519 KeyObject, with defaults for the intervals", () => {
    const pem = privateKeyPem(key);
    const fromPem = parseEvidenceOptions({ privateKey: pem, keyId: "k1" });
    expect(fromPem.signingKey?.publicKeyHex).toBe(key.publicKeyHex);
    expect(fromPem).toMatchObject({ checkpointEveryEvents: 1_000, checkpointIntervalMs: 60_000, linkIntervalMs: 100 });
    const fromObject = parseEvidenceOptions({ privateKey: key.privateKey, checkpointEveryEvents: 10 });
    expect(fromObject.signingKey?.keyId).toBe(thumbprintOf(publicJwkOf(key).x)); // no keyId: the thumbprint
    expect(fromObject.checkpointEveryEvents).toBe(10);
    expect(parseEvidenceOptions({}).signingKey).toBeUndefined();
  });

  it.each([
    [{ checkpointEveryEvents: 0 }, "evidence.checkpointEveryEvents"],
    [{ checkpointIntervalMs: 1.5 }, "evidence.checkpointIntervalMs"],
    [{ linkIntervalMs: "100" }, "evidence.linkIntervalMs"],
    [{ privateKey: "not a pem" }, "evidence.privateKey"],
    [{ privateKey: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey }, "evidence.privateKey"],
    [{ keyId: "k1" }, "evidence.keyId"],
    [{ checkpointEvery: 10 }, "evidence.checkpointEvery"],
  ])("refuses %o, naming %s", (options, path) => {
    try {
      parseEvidenceOptions(options);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.path)).toContain(path);
    }
  });
});
