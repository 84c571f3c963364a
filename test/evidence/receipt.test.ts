import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalBytes, sha256Hex } from "../../src/evidence/canonical.js";
import { emptyChainHead, linkEvent } from "../../src/evidence/chain.js";
import { generateSigningKey, jwksOf, KeySet, parseJwks, signBytes } from "../../src/evidence/keys.js";
import { evidenceIdOf, issueReceipt, receiptOfRecord, verifyReceipt } from "../../src/evidence/receipt.js";

const fixtures = join(import.meta.dirname, "../fixtures/cycles-evidence");
const fixtureNames = readdirSync(fixtures).filter((name) => name.endsWith(".json"));
const readFixture = (name: string) => JSON.parse(readFileSync(join(fixtures, name), "utf8"));

describe("Cycles evidence envelopes", () => {
  it("the published fixture 03-reserve-deny is JCS bytes exactly, and verifies (binding only)", () => {
    const text = readFileSync(join(fixtures, "03-reserve-deny.json"), "utf8").trimEnd();
    const envelope = JSON.parse(text);
    // The file is its own canonical form: our canonicalizer agrees with the issuer's byte for byte.
    expect(canonicalBytes(envelope).toString("utf8")).toBe(text);
    const verified = verifyReceipt(envelope);
    expect(verified).toMatchObject({ ok: true, disposition: "binding_only", artifactType: "reserve" });
    expect(verified.evidenceId).toBe("e051b4cd0e6dc5c98ac14b27bbabb2630098ef1a61650c92658b374a3cfb20a2");
  });

  it.each(fixtureNames)("accepts the published %s", (name) => {
    expect(verifyReceipt(readFixture(name))).toMatchObject({ ok: true });
  });

  it("rejects the fixture after any one byte of its canonical payload changes", () => {
    const envelope = readFixture("03-reserve-deny.json");
    const payload = canonicalBytes(envelope.payload).toString("utf8");
    let tried = 0;
    for (let index = 0; index < payload.length; index++) {
      // One character changed to another that keeps the JSON parseable where it can.
      const original = payload[index];
      const replacement = /[0-9]/.test(original)
        ? String((Number(original) + 1) % 10)
        : /[a-z]/.test(original)
          ? original === "z"
            ? "y"
            : String.fromCharCode(original.charCodeAt(0) + 1)
          : /[A-Z]/.test(original)
            ? original === "Z"
              ? "Y"
              : String.fromCharCode(original.charCodeAt(0) + 1)
            : undefined;
      if (replacement === undefined) continue;
      let changed: unknown;
      try {
        changed = JSON.parse(payload.slice(0, index) + replacement + payload.slice(index + 1));
      } catch {
        continue;
      }
      tried++;
      const verified = verifyReceipt({ ...envelope, payload: changed });
      expect(verified.ok, `byte ${index} (${original} -> ${replacement})`).toBe(false);
    }
    expect(tried).toBeGreaterThan(300);
  });

  it("rejects a fixture whose id was recomputed after an edit: the signature no longer verifies", () => {
    const envelope = readFixture("03-reserve-deny.json");
    envelope.payload.reserve.response.decision = "ALLOW";
    envelope.evidence_id = evidenceIdOf(envelope);
    expect(verifyReceipt(envelope)).toMatchObject({ ok: false, problem: { kind: "signature invalid" } });
  });

  it("rejects envelope shapes the spec forbids", () => {
    const envelope = readFixture("03-reserve-deny.json");
    expect(verifyReceipt({ ...envelope, schema_version: "cycles-evidence/v9" }).problem?.kind).toBe("malformed");
    expect(verifyReceipt({ ...envelope, artifact_type: "commit" }).problem?.kind).toBe("malformed");
    expect(verifyReceipt({ ...envelope, payload: { ...envelope.payload, commit: {} } }).problem?.kind).toBe(
      "malformed",
    );
    expect(verifyReceipt({ ...envelope, signature: "" }).problem?.kind).toBe("malformed");
    expect(verifyReceipt(null).problem?.kind).toBe("malformed");
    expect(verifyReceipt([envelope]).problem?.kind).toBe("malformed");
  });

  it("with a key set, names the kid, and refuses a signer it does not hold", () => {
    const key = generateSigningKey("k-2026-12");
    const other = generateSigningKey("k-other");
    const receipt = issueReceipt(
      { artifactType: "commit", body: { reservation_id: "acme:1" }, serverId: "https://tollgate.example/v1" },
      key,
    );
    expect(verifyReceipt(receipt, parseJwks(jwksOf([other, key])))).toMatchObject({
      ok: true,
      disposition: "key_set",
      keyId: "k-2026-12",
    });
    expect(verifyReceipt(receipt, KeySet.of([other]))).toMatchObject({ ok: false, problem: { kind: "unknown key" } });
    expect(verifyReceipt(readFixture("03-reserve-deny.json"), KeySet.of([key])).problem?.kind).toBe("unknown key");
  });

  it("issues receipts that follow the algorithm step by step and verify alone", () => {
    const key = generateSigningKey();
    const record = linkEvent("acme", emptyChainHead, { type: "reserve", decision: "DENY", estimate: 20 });
    const receipt = receiptOfRecord(record, key, { serverId: "https://tollgate.example/v1", issuedAtMs: 1 });
    expect(receipt.signer_did).toBe(key.publicKeyHex);
    expect(receipt.evidence_id).toBe(sha256Hex(canonicalBytes({ ...receipt, evidence_id: "", signature: "" })));
    expect(Object.keys(receipt.payload)).toEqual(["reserve"]);
    expect(verifyReceipt(JSON.parse(JSON.stringify(receipt)))).toMatchObject({ ok: true });
    expect(() =>
      receiptOfRecord(linkEvent("acme", emptyChainHead, { type: "budget.set" }), key, { serverId: "x" }),
    ).toThrow(/no Cycles artifact type/);
  });

  it("resolves a did:cycles signer_did through the key set by its kid, bound to the server_id", () => {
    const key = generateSigningKey("2026-12");
    const serverId = "https://tollgate.example/v1";
    const envelope: Record<string, unknown> = {
      ...issueReceipt({ artifactType: "decide", body: { decision: "ALLOW" }, serverId, issuedAtMs: 5 }, key),
      signer_did: `did:cycles:${sha256Hex(serverId)}#2026-12`,
      evidence_id: "",
      signature: "",
    };
    envelope.evidence_id = evidenceIdOf(envelope);
    envelope.signature = signBytes(key, canonicalBytes({ ...envelope, signature: "" }));
    expect(verifyReceipt(envelope, KeySet.of([key]))).toMatchObject({ ok: true, keyId: "2026-12" });
    expect(verifyReceipt(envelope).problem?.kind).toBe("unknown key");
    const elsewhere = { ...envelope, server_id: "https://other.example/v1" };
    expect(verifyReceipt(elsewhere, KeySet.of([key])).ok).toBe(false);
  });

  it("key rotation: a receipt signed before the rotation verifies against the kid that signed it", () => {
    const old = generateSigningKey("2026-11");
    const current = generateSigningKey("2026-12");
    const before = issueReceipt({ artifactType: "decide", body: {}, serverId: "https://t.example" }, old);
    const after = issueReceipt({ artifactType: "decide", body: {}, serverId: "https://t.example" }, current);
    const published = parseJwks(JSON.parse(JSON.stringify(jwksOf([old, current]))));
    expect(verifyReceipt(before, published).keyId).toBe("2026-11");
    expect(verifyReceipt(after, published).keyId).toBe("2026-12");
  });
});

describe("parseJwks", () => {
  it("takes only Ed25519 public keys with a kid, each kid once, and names what is wrong", () => {
    const key = generateSigningKey("a");
    const [jwk] = jwksOf([key]).keys;
    const issuesOf = (value: unknown) => {
      try {
        parseJwks(value);
      } catch (error) {
        return (error as { issues: { path: string }[] }).issues.map((issue) => issue.path);
      }
      return [];
    };
    expect(parseJwks({ keys: [jwk] }).keyOf("a")?.publicKeyHex).toBe(key.publicKeyHex);
    expect(issuesOf({ keys: [jwk, jwk] })).toEqual(["keys.1.kid"]);
    expect(issuesOf({ keys: [{ ...jwk, d: "secret" }] })).toEqual(["keys.0.d"]);
    expect(issuesOf({ keys: [{ ...jwk, crv: "X25519" }] })).toEqual(["keys.0"]);
    expect(issuesOf({ keys: [{ ...jwk, x: "AAAA" }] })).toEqual(["keys.0.x"]);
    expect(issuesOf({ keys: [{ ...jwk, kid: "" }] })).toEqual(["keys.0.kid"]);
    expect(issuesOf([jwk])).toEqual(["keys"]);
    expect(issuesOf({ keys: Array.from({ length: 1001 }, () => jwk) })).toEqual(["keys"]);
  });
});
