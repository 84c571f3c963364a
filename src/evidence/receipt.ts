import { ValidationError } from "../core/errors.js";
import { canonicalBytes, isJsonObject, type JsonObject, sha256Hex, sha256HexPattern } from "./canonical.js";
import { type ChainRecord, parseChainRecord, recordHashOf } from "./chain.js";
import { type KeySet, type SigningKey, signBytes, type VerifyingKey, verifyBytes, verifyingKeyOfHex } from "./keys.js";

/**
 * Single-event receipts in the Cycles evidence envelope (`schema_version: "cycles-evidence/v0.1"`,
 * runcycles/cycles-protocol, cycles-evidence-v0.2.yaml), so a tool built for Cycles evidence checks
 * ours with the same algorithm:
 *
 * 1. `evidence_id` = lowercase hex SHA-256 of the JCS bytes of the envelope with `evidence_id` and
 *    `signature` both `""` (present, not omitted, not null);
 * 2. `signature` = lowercase hex Ed25519 over the JCS bytes with `evidence_id` filled and
 *    `signature` still `""`;
 * 3. `signer_did` = the raw 32-byte public key as 64 hex characters (or, resolved through a JWK
 *    Set, `did:cycles:<hex sha256(server_id)>#<kid>`);
 * 4. `artifact_type` (decide | reserve | commit | release | error) is the one key under `payload`.
 *
 * A receipt verifies alone: everything it needs is in it, and a key set, when given, says which
 * key id signed it (and refuses a key it does not hold).
 */

export const cyclesSchemaVersion = "cycles-evidence/v0.1";
export const artifactTypes = ["decide", "reserve", "commit", "release", "error"] as const;
export type ArtifactType = (typeof artifactTypes)[number];
export const receiptBytesMax = 1024 * 1024;

export interface CyclesEnvelope {
  schema_version: typeof cyclesSchemaVersion;
  artifact_type: ArtifactType;
  server_id: string;
  signer_did: string;
  issued_at_ms: number;
  trace_id?: string;
  payload: JsonObject;
  evidence_id: string;
  signature: string;
}

export interface ReceiptRequest {
  artifactType: ArtifactType;
  /** The body under `payload[artifactType]`. */
  body: JsonObject;
  /** A URI naming the issuing deployment. */
  serverId: string;
  issuedAtMs?: number;
  /** W3C trace id (32 lowercase hex), the join key with traces. */
  traceId?: string;
}

export function evidenceIdOf(envelope: JsonObject): string {
  return sha256Hex(canonicalBytes({ ...envelope, evidence_id: "", signature: "" }, "receipt"));
}

function signedBytesOf(envelope: JsonObject): Buffer {
  return canonicalBytes({ ...envelope, signature: "" }, "receipt");
}

export function issueReceipt(request: ReceiptRequest, key: SigningKey): CyclesEnvelope {
  if (!(artifactTypes as readonly string[]).includes(request.artifactType)) {
    throw new ValidationError([
      { code: "invalid_enum", path: "artifactType", message: `must be one of ${artifactTypes.join(", ")}` },
    ]);
  }
  if (request.traceId !== undefined && !/^[0-9a-f]{32}$/.test(request.traceId)) {
    throw new ValidationError([{ code: "invalid_trace_id", path: "traceId", message: "must be 32 lowercase hex" }]);
  }
  const envelope: CyclesEnvelope = {
    schema_version: cyclesSchemaVersion,
    artifact_type: request.artifactType,
    server_id: request.serverId,
    signer_did: key.publicKeyHex,
    issued_at_ms: request.issuedAtMs ?? Date.now(),
    ...(request.traceId !== undefined ? { trace_id: request.traceId } : {}),
    payload: { [request.artifactType]: request.body },
    evidence_id: "",
    signature: "",
  };
  envelope.evidence_id = evidenceIdOf(envelope as unknown as JsonObject);
  envelope.signature = signBytes(key, signedBytesOf(envelope as unknown as JsonObject));
  return envelope;
}

/** Tollgate audit event types as Cycles artifact types; events with no counterpart get no receipt. */
const artifactOfEventType: Record<string, ArtifactType> = {
  reserve: "reserve",
  decide: "decide",
  commit: "commit",
  release: "release",
  expire: "release",
};

/** True for an audit event type a receipt can be issued for (a Cycles artifact type exists). */
export function hasArtifactType(eventType: unknown): boolean {
  return typeof eventType === "string" && Object.hasOwn(artifactOfEventType, eventType);
}

/**
 * A receipt for one chained audit event: the body is the chain record itself (tenant, seq,
 * prevHash, hash, event), so the receipt also names the event's place in its chain.
 */
export function receiptOfRecord(
  record: ChainRecord,
  key: SigningKey,
  options: { serverId: string; issuedAtMs?: number; traceId?: string },
): CyclesEnvelope {
  const type = typeof record.event.type === "string" ? record.event.type : "";
  const artifactType = hasArtifactType(type) ? artifactOfEventType[type] : undefined;
  if (!artifactType) {
    throw new ValidationError([
      { code: "no_artifact_type", path: "event.type", message: `a "${type}" event has no Cycles artifact type` },
    ]);
  }
  const { tenant, seq, prevHash, hash, event } = record;
  return issueReceipt(
    { artifactType, body: { tollgate_chain_record: { tenant, seq, prevHash, hash, event } }, ...options },
    key,
  );
}

export type ReceiptProblemKind = "malformed" | "edited" | "signature invalid" | "unknown key";

export interface ReceiptVerification {
  ok: boolean;
  problem?: { kind: ReceiptProblemKind; detail: string };
  evidenceId?: string;
  artifactType?: string;
  /** The key id in the given key set that signed it. */
  keyId?: string;
  signerPublicKeyHex?: string;
  /**
   * `binding_only`: the bytes verify against the key the receipt names, nothing more was asked;
   * `key_set`: the signer is a key of the given key set (and `keyId` says which).
   */
  disposition?: "binding_only" | "key_set";
}

/** The chain record a tollgate receipt vouches for, or undefined for a receipt of another issuer. */
export function chainRecordOfReceipt(envelope: JsonObject): ChainRecord | undefined {
  const payload = envelope.payload;
  if (!isJsonObject(payload)) return undefined;
  const body = payload[String(envelope.artifact_type)];
  if (!isJsonObject(body) || !("tollgate_chain_record" in body)) return undefined;
  return parseChainRecord(body.tollgate_chain_record, "payload.tollgate_chain_record");
}

/**
 * Verifies one receipt on its own. With `keys`, the signer must be one of them (a raw-hex
 * signer_did is looked up by its public key, a did:cycles one by its kid); without, the receipt
 * is checked against the key it names.
 */
export function verifyReceipt(value: unknown, keys?: KeySet): ReceiptVerification {
  const malformed = (detail: string): ReceiptVerification => ({ ok: false, problem: { kind: "malformed", detail } });
  if (!isJsonObject(value)) return malformed("a receipt is a JSON object");
  if (value.schema_version !== cyclesSchemaVersion) {
    return malformed(`schema_version must be "${cyclesSchemaVersion}"`);
  }
  const artifactType = value.artifact_type;
  if (typeof artifactType !== "string" || !(artifactTypes as readonly string[]).includes(artifactType)) {
    return malformed(`artifact_type must be one of ${artifactTypes.join(", ")}`);
  }
  if (!isJsonObject(value.payload) || Object.keys(value.payload).join() !== artifactType) {
    return malformed(`payload must have exactly one key, "${artifactType}" (its artifact_type)`);
  }
  if (typeof value.server_id !== "string" || value.server_id.length === 0) return malformed("server_id is missing");
  if (!Number.isSafeInteger(value.issued_at_ms) || (value.issued_at_ms as number) < 0) {
    return malformed("issued_at_ms must be a non-negative whole number");
  }
  if (typeof value.evidence_id !== "string" || !sha256HexPattern.test(value.evidence_id)) {
    return malformed("evidence_id must be 64 lowercase hex characters");
  }
  if (typeof value.signature !== "string" || !/^[0-9a-f]{128}$/.test(value.signature)) {
    return malformed("signature must be 128 lowercase hex characters");
  }
  const base = { evidenceId: value.evidence_id, artifactType };
  let expectedId: string;
  try {
    expectedId = evidenceIdOf(value);
  } catch (error) {
    return malformed((error as Error).message);
  }
  if (expectedId !== value.evidence_id) {
    return {
      ok: false,
      ...base,
      problem: { kind: "edited", detail: "its content does not match its evidence_id: it was changed after issue" },
    };
  }
  // A tollgate receipt's record must match its own hash: a signer never vouches for a broken link.
  let record: ChainRecord | undefined;
  try {
    record = chainRecordOfReceipt(value);
  } catch (error) {
    return { ok: false, ...base, problem: { kind: "malformed", detail: (error as Error).message } };
  }
  if (record && recordHashOf(record.tenant, record.seq, record.prevHash, record.event) !== record.hash) {
    return {
      ok: false,
      ...base,
      problem: { kind: "edited", detail: `its chain record (seq ${record.seq}) does not match its hash` },
    };
  }
  const signer = signerOf(value, keys);
  if ("problem" in signer) return { ok: false, ...base, problem: signer.problem };
  if (!verifyBytes(signer.key.publicKey, signedBytesOf(value), value.signature)) {
    return {
      ok: false,
      ...base,
      signerPublicKeyHex: signer.key.publicKeyHex,
      problem: { kind: "signature invalid", detail: "the signature does not verify with the signer's key" },
    };
  }
  return {
    ok: true,
    ...base,
    signerPublicKeyHex: signer.key.publicKeyHex,
    disposition: keys ? "key_set" : "binding_only",
    ...(keys ? { keyId: signer.key.keyId } : {}),
  };
}

function signerOf(
  envelope: JsonObject,
  keys: KeySet | undefined,
): { key: VerifyingKey } | { problem: { kind: ReceiptProblemKind; detail: string } } {
  const did = envelope.signer_did;
  if (typeof did !== "string") return { problem: { kind: "malformed", detail: "signer_did is missing" } };
  const resolved = /^did:cycles:([0-9a-f]{64})#([A-Za-z0-9_.:-]{1,128})$/.exec(did);
  if (resolved) {
    if (resolved[1] !== sha256Hex(String(envelope.server_id))) {
      return { problem: { kind: "malformed", detail: "signer_did does not name this server_id" } };
    }
    const key = keys?.keyOf(resolved[2]);
    if (!key) return { problem: { kind: "unknown key", detail: `key "${resolved[2]}" is not in the key set` } };
    return { key };
  }
  const named = verifyingKeyOfHex(did);
  if (!named)
    return { problem: { kind: "malformed", detail: "signer_did must be 64 hex characters or did:cycles:...#kid" } };
  if (!keys) return { key: named };
  const known = keys.keyOfPublicHex(did);
  if (!known) return { problem: { kind: "unknown key", detail: "the signer's public key is not in the key set" } };
  return { key: known };
}
