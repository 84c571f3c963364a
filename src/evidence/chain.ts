import { ValidationError } from "../core/errors.js";
import { canonicalBytes, isJsonObject, type JsonObject, sha256Hex, sha256HexPattern } from "./canonical.js";
import { type KeySet, type SigningKey, signBytes, verifyBytes } from "./keys.js";

/**
 * The per-tenant hash chain. A record links one audit event into its tenant's chain:
 *
 *   { tenant, seq, prevHash, hash, event }
 *   seq      1, 2, 3, ... per tenant, no gaps
 *   prevHash the previous record's hash; `genesisHash` (64 zeros) for seq 1
 *   hash     SHA-256 of the JCS bytes of { tenant, seq, prevHash, event }
 *
 * so a record's hash covers its event, its place and, through prevHash, everything before it. A
 * checkpoint `{ tenant, seq, hash, atMs, keyId, signature }` signs one record's hash with Ed25519:
 * it commits to the whole chain up to seq. Retention may drop the oldest records as long as a
 * checkpoint at the last dropped seq is kept; the first remaining record links to it.
 *
 * Everything here is pure: the store assigns seq and prevHash inside the atomic step that writes
 * the event (see README.md in this folder for how the Redis store does it with SHA-256).
 */

export const genesisHash = "0".repeat(64);
export const checkpointSchemaVersion = "tollgate-checkpoint/v1";
/** How many problems one verification lists (the first is what matters; a wrecked chain has millions). */
export const chainProblemsMax = 100;

export interface ChainHead {
  /** 0 for an empty chain. */
  seq: number;
  hash: string;
}

export interface ChainRecord<E extends JsonObject = JsonObject> {
  tenant: string;
  seq: number;
  prevHash: string;
  hash: string;
  event: E;
}

export interface Checkpoint {
  tenant: string;
  seq: number;
  hash: string;
  atMs: number;
  keyId: string;
  /** Lowercase hex Ed25519 over the JCS bytes of the checkpoint without its signature. */
  signature: string;
}

export const emptyChainHead: ChainHead = Object.freeze({ seq: 0, hash: genesisHash });

/** The hash of a record: SHA-256 of the canonical bytes of its event with its link fields. */
export function recordHashOf(tenant: string, seq: number, prevHash: string, event: JsonObject): string {
  return sha256Hex(canonicalBytes({ tenant, seq, prevHash, event }, "event"));
}

/** Links one event after `head`: the step a store runs inside its atomic write. */
export function linkEvent<E extends JsonObject>(tenant: string, head: ChainHead, event: E): ChainRecord<E> {
  const seq = head.seq + 1;
  return { tenant, seq, prevHash: head.hash, hash: recordHashOf(tenant, seq, head.hash, event), event };
}

export function headOf(record: ChainRecord): ChainHead {
  return { seq: record.seq, hash: record.hash };
}

function checkpointBytes(checkpoint: Omit<Checkpoint, "signature">): Buffer {
  const { tenant, seq, hash, atMs, keyId } = checkpoint;
  return canonicalBytes({ schema_version: checkpointSchemaVersion, tenant, seq, hash, atMs, keyId }, "checkpoint");
}

export function signCheckpoint(tenant: string, head: ChainHead, key: SigningKey, atMs = Date.now()): Checkpoint {
  const unsigned = { tenant, seq: head.seq, hash: head.hash, atMs, keyId: key.keyId };
  return { ...unsigned, signature: signBytes(key, checkpointBytes(unsigned)) };
}

export type CheckpointCheck = "ok" | "unknown key" | "signature invalid";

export function checkCheckpointSignature(checkpoint: Checkpoint, keys: KeySet): CheckpointCheck {
  if (checkpoint.keyId === "") return "unknown key"; // unsigned
  const key = keys.keyOf(checkpoint.keyId);
  if (!key) return "unknown key";
  return verifyBytes(key.publicKey, checkpointBytes(checkpoint), checkpoint.signature) ? "ok" : "signature invalid";
}

/**
 * An unsigned checkpoint (`keyId` and `signature` both ""): the anchor a chain kept without a
 * signing key trims to. It carries continuity, not authority: a verifier with a key set refuses it.
 */
export function unsignedCheckpoint(tenant: string, head: ChainHead, atMs = Date.now()): Checkpoint {
  return { tenant, seq: head.seq, hash: head.hash, atMs, keyId: "", signature: "" };
}

/**
 * Retention: drops the records up to `throughSeq` and returns the checkpoint at `throughSeq`
 * (signed when a key is given, else unsigned), which must be kept so the records that remain
 * still verify.
 */
export function trimChain<E extends JsonObject>(
  records: readonly ChainRecord<E>[],
  throughSeq: number,
  key: SigningKey | undefined,
  atMs = Date.now(),
): { records: ChainRecord<E>[]; checkpoint: Checkpoint } {
  const last = records.find((record) => record.seq === throughSeq);
  if (!last) {
    throw new ValidationError([{ code: "not_found", path: "throughSeq", message: `no record with seq ${throughSeq}` }]);
  }
  return {
    records: records.filter((record) => record.seq > throughSeq),
    checkpoint: key
      ? signCheckpoint(last.tenant, headOf(last), key, atMs)
      : unsignedCheckpoint(last.tenant, headOf(last), atMs),
  };
}

export type ChainProblemKind =
  | "edited"
  | "deleted"
  | "inserted"
  | "reordered"
  | "signature invalid"
  | "unknown key"
  | "malformed";

export interface ChainProblem {
  tenant: string;
  /** The first sequence number that can no longer be trusted. */
  seq: number;
  kind: ChainProblemKind;
  detail: string;
}

export interface TenantChainSummary {
  tenant: string;
  records: number;
  firstSeq: number;
  lastSeq: number;
  checkpoints: number;
  /** The highest checkpoint seq whose signature verified (0: none). */
  signedThroughSeq: number;
  /** Where retention cut the chain (the unsigned anchor the first record follows); 0 when it starts at seq 1. */
  trimmedThroughSeq: number;
  /** Records after the last verified checkpoint: intact as far as hashes go, but not yet signed. */
  unsignedTail: number;
}

export interface ChainVerification {
  ok: boolean;
  /** The first problem of each tenant, then the rest, ordered by tenant then seq; at most chainProblemsMax. */
  problems: ChainProblem[];
  tenants: TenantChainSummary[];
  /** False when no key set was given: hashes and links were checked, signatures were not. */
  signaturesChecked: boolean;
}

/**
 * Checks one or more tenants' chains: every record's hash, every link, continuity from seq 1 (or
 * from a checkpoint the first record follows), every checkpoint's signature against `keys` and its
 * hash against the record at its seq. Each problem names the first sequence number it breaks and
 * what broke. `records` are in the order they were exported (a reordering is a finding, not
 * something to sort away). Pure: no I/O, no clock.
 */
export function verifyChain(
  records: readonly ChainRecord[],
  checkpoints: readonly Checkpoint[],
  keys: KeySet | undefined,
): ChainVerification {
  const byTenant = new Map<string, { records: ChainRecord[]; checkpoints: Checkpoint[] }>();
  const tenantOf = (tenant: string) => {
    let entry = byTenant.get(tenant);
    if (!entry) {
      entry = { records: [], checkpoints: [] };
      byTenant.set(tenant, entry);
    }
    return entry;
  };
  for (const record of records) tenantOf(record.tenant).records.push(record);
  for (const checkpoint of checkpoints) tenantOf(checkpoint.tenant).checkpoints.push(checkpoint);
  const problems: ChainProblem[] = [];
  const tenants: TenantChainSummary[] = [];
  for (const [tenant, entry] of [...byTenant.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const found = verifyTenant(tenant, entry.records, entry.checkpoints, keys);
    tenants.push(found.summary);
    for (const problem of found.problems) if (problems.length < chainProblemsMax) problems.push(problem);
  }
  return { ok: problems.length === 0, problems, tenants, signaturesChecked: keys !== undefined };
}

function verifyTenant(
  tenant: string,
  records: readonly ChainRecord[],
  checkpoints: readonly Checkpoint[],
  keys: KeySet | undefined,
): { problems: ChainProblem[]; summary: TenantChainSummary } {
  const problems: ChainProblem[] = [];
  const report = (seq: number, kind: ChainProblemKind, detail: string) => problems.push({ tenant, seq, kind, detail });

  // 1. Each record on its own: its hash covers its event and link fields.
  for (const record of records) {
    if (recordHashOf(tenant, record.seq, record.prevHash, record.event) !== record.hash) {
      report(
        record.seq,
        "edited",
        `record ${record.seq} does not match its hash: its event or link fields were changed`,
      );
    }
  }

  // 2. Order as exported: sequence numbers must rise one by one.
  let highest = 0;
  const bySeq = new Map<number, ChainRecord[]>();
  for (const record of records) {
    if (record.seq < highest) {
      report(record.seq, "reordered", `record ${record.seq} comes after record ${highest}`);
    }
    highest = Math.max(highest, record.seq);
    const same = bySeq.get(record.seq);
    if (same) same.push(record);
    else bySeq.set(record.seq, [record]);
  }
  for (const [seq, same] of bySeq) {
    if (same.length > 1) report(seq, "inserted", `${same.length} records claim seq ${seq}: one was inserted`);
  }

  // 3. Checkpoints: signature, then whether the chain agrees with what was signed.
  const sortedSeqs = [...bySeq.keys()].sort((a, b) => a - b);
  const firstSeq = sortedSeqs[0] ?? 0;
  const lastSeq = sortedSeqs.at(-1) ?? 0;
  let signedThroughSeq = 0;
  let trimmedThroughSeq = 0;
  const trusted: Checkpoint[] = [];
  for (const checkpoint of checkpoints) {
    if (keys !== undefined && isRetentionAnchor(checkpoint, firstSeq)) {
      // Where retention cut the chain. It vouches for nothing: the signed checkpoints after it
      // cover the records from it on, and dropping the oldest records is what retention does.
      trusted.push(checkpoint);
      continue;
    }
    if (keys !== undefined) {
      const check = checkCheckpointSignature(checkpoint, keys);
      if (check !== "ok") {
        const why =
          checkpoint.keyId === ""
            ? "is unsigned, and a key set was given"
            : check === "unknown key"
              ? `names key "${checkpoint.keyId}", which is not in the key set`
              : `its signature does not verify with key "${checkpoint.keyId}"`;
        report(checkpoint.seq, check, `the checkpoint at seq ${checkpoint.seq} ${why}`);
        continue;
      }
      signedThroughSeq = Math.max(signedThroughSeq, checkpoint.seq);
    }
    trusted.push(checkpoint);
  }
  if (trusted.some((checkpoint) => checkpoint.seq === firstSeq - 1)) {
    trimmedThroughSeq = firstSeq - 1;
  }
  const trustedSeqs = trusted.map((checkpoint) => checkpoint.seq).sort((a, b) => a - b);
  const checkpointBelow = (seq: number) => trustedSeqs.filter((candidate) => candidate < seq).at(-1) ?? 0;
  for (const checkpoint of trusted) {
    if (records.length === 0 || checkpoint.seq < firstSeq - 1) continue; // trimmed away: nothing left to compare
    if (checkpoint.seq === firstSeq - 1) {
      const first = bySeq.get(firstSeq)?.[0];
      if (first && first.prevHash !== checkpoint.hash) {
        report(firstSeq, "edited", `record ${firstSeq} does not link to the checkpoint at seq ${checkpoint.seq}`);
      }
      continue;
    }
    if (checkpoint.seq > lastSeq) {
      report(lastSeq + 1, "deleted", `the chain ends at seq ${lastSeq} but a checkpoint signs seq ${checkpoint.seq}`);
      continue;
    }
    const at = bySeq.get(checkpoint.seq);
    if (at && !at.some((record) => record.hash === checkpoint.hash)) {
      const from = Math.max(checkpointBelow(checkpoint.seq) + 1, firstSeq);
      report(
        from,
        "edited",
        `the records from seq ${from} to ${checkpoint.seq} are not what the checkpoint at seq ${checkpoint.seq} signed`,
      );
    }
  }

  // 4. Continuity and links, in seq order.
  if (records.length > 0) {
    const first = bySeq.get(firstSeq)?.[0] as ChainRecord;
    if (firstSeq === 1) {
      if (first.prevHash !== genesisHash) report(1, "edited", "record 1 does not start from the genesis hash");
    } else if (!trusted.some((checkpoint) => checkpoint.seq === firstSeq - 1)) {
      const from = checkpointBelow(firstSeq) + 1;
      report(from, "deleted", `the chain starts at seq ${firstSeq} with no checkpoint at seq ${firstSeq - 1}`);
    }
    for (let index = 1; index < sortedSeqs.length; index++) {
      const seq = sortedSeqs[index];
      const previous = sortedSeqs[index - 1];
      if (seq !== previous + 1) {
        report(previous + 1, "deleted", `seq ${previous + 1}${seq - previous > 2 ? ` to ${seq - 1}` : ""} missing`);
        continue;
      }
      const prevHashes = new Set((bySeq.get(previous) as ChainRecord[]).map((record) => record.hash));
      const linked = (bySeq.get(seq) as ChainRecord[]).some((record) => prevHashes.has(record.prevHash));
      if (!linked)
        report(seq, "inserted", `record ${seq} does not link to record ${previous}: one of them was replaced`);
    }
  }

  problems.sort((a, b) => a.seq - b.seq);
  const summary: TenantChainSummary = {
    tenant,
    records: records.length,
    firstSeq,
    lastSeq,
    checkpoints: checkpoints.length,
    signedThroughSeq,
    trimmedThroughSeq,
    unsignedTail: Math.max(0, lastSeq - Math.max(signedThroughSeq, firstSeq - 1)),
  };
  return { problems, summary };
}

/** The unsigned checkpoint just before a chain's first record: the anchor a retention trim leaves. */
function isRetentionAnchor(checkpoint: Checkpoint, firstSeq: number): boolean {
  return checkpoint.keyId === "" && checkpoint.signature === "" && firstSeq > 1 && checkpoint.seq === firstSeq - 1;
}

/** A chain record from outside (an export line): shape checked, hashes not (that is verifyChain's job). */
export function parseChainRecord(value: unknown, path = "chain"): ChainRecord {
  const issues = [];
  if (!isJsonObject(value)) throw new ValidationError([{ code: "invalid_type", path, message: "must be an object" }]);
  if (typeof value.tenant !== "string" || value.tenant.length === 0 || value.tenant.length > 128) {
    issues.push({ code: "invalid_tenant", path: `${path}.tenant`, message: "must be a tenant id" });
  }
  if (!Number.isSafeInteger(value.seq) || (value.seq as number) < 1) {
    issues.push({ code: "invalid_seq", path: `${path}.seq`, message: "must be a whole number from 1" });
  }
  for (const field of ["prevHash", "hash"] as const) {
    if (typeof value[field] !== "string" || !sha256HexPattern.test(value[field] as string)) {
      issues.push({ code: "invalid_hash", path: `${path}.${field}`, message: "must be 64 lowercase hex characters" });
    }
  }
  if (!isJsonObject(value.event))
    issues.push({ code: "invalid_type", path: `${path}.event`, message: "must be an object" });
  const extra = Object.keys(value).filter((key) => !["tenant", "seq", "prevHash", "hash", "event"].includes(key));
  if (extra.length > 0)
    issues.push({ code: "unrecognized_keys", path, message: `unknown field(s): ${extra.join(", ")}` });
  if (issues.length > 0) throw new ValidationError(issues);
  return value as unknown as ChainRecord;
}

export function parseCheckpoint(value: unknown, path = "checkpoint"): Checkpoint {
  const issues = [];
  if (!isJsonObject(value)) throw new ValidationError([{ code: "invalid_type", path, message: "must be an object" }]);
  if (typeof value.tenant !== "string" || value.tenant.length === 0 || value.tenant.length > 128) {
    issues.push({ code: "invalid_tenant", path: `${path}.tenant`, message: "must be a tenant id" });
  }
  for (const field of ["seq", "atMs"] as const) {
    if (!Number.isSafeInteger(value[field]) || (value[field] as number) < 0) {
      issues.push({ code: "invalid_number", path: `${path}.${field}`, message: "must be a non-negative whole number" });
    }
  }
  if (typeof value.hash !== "string" || !sha256HexPattern.test(value.hash)) {
    issues.push({ code: "invalid_hash", path: `${path}.hash`, message: "must be 64 lowercase hex characters" });
  }
  if (typeof value.keyId !== "string" || value.keyId.length > 128) {
    issues.push({ code: "invalid_key_id", path: `${path}.keyId`, message: "must be a key id" });
  }
  if (typeof value.signature !== "string" || value.signature.length > 128) {
    issues.push({ code: "invalid_signature", path: `${path}.signature`, message: "must be a hex signature" });
  }
  const extra = Object.keys(value).filter(
    (key) => !["tenant", "seq", "hash", "atMs", "keyId", "signature"].includes(key),
  );
  if (extra.length > 0)
    issues.push({ code: "unrecognized_keys", path, message: `unknown field(s): ${extra.join(", ")}` });
  if (issues.length > 0) throw new ValidationError(issues);
  return value as unknown as Checkpoint;
}
