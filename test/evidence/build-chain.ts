import {
  type ChainHead,
  type ChainRecord,
  type Checkpoint,
  emptyChainHead,
  headOf,
  linkEvent,
  signCheckpoint,
} from "../../src/evidence/chain.js";
import type { SigningKey } from "../../src/evidence/keys.js";

/** A chain as a store would write it: `count` events of one tenant, a checkpoint every `every` events. */
export function buildChain(
  key: SigningKey,
  options: { tenant?: string; count?: number; every?: number; from?: ChainHead } = {},
): { records: ChainRecord[]; checkpoints: Checkpoint[] } {
  const tenant = options.tenant ?? "acme";
  const count = options.count ?? 20;
  const every = options.every ?? 5;
  const records: ChainRecord[] = [];
  const checkpoints: Checkpoint[] = [];
  let head = options.from ?? emptyChainHead;
  for (let index = 0; index < count; index++) {
    const record = linkEvent(tenant, head, {
      type: index % 2 === 0 ? "reserve" : "commit",
      atMs: 1_800_000_000_000 + index,
      scope: `tenant:${tenant}/toolset:send-email`,
      unit: "RISK_POINTS",
      decision: "ALLOW",
      estimate: 20,
      action: { name: "send_email", tier: "write-external" },
      reservationId: `${tenant}:${Math.floor(index / 2)}`,
    });
    records.push(record);
    head = headOf(record);
    if (record.seq % every === 0) checkpoints.push(signCheckpoint(tenant, head, key, 1_800_000_000_000 + index));
  }
  return { records, checkpoints };
}

/**
 * The tamperings of issue 11, each with the sequence number a verifier must name, on a chain of at
 * least 18 records of `tenant` with checkpoints at seqs 5 and 10 (checkpoints[0], checkpoints[1]) and one beyond 17.
 */
export function tamperings(key: SigningKey, otherKey: SigningKey, tenant = "acme") {
  const clone = <T>(value: T): T => structuredClone(value);
  return [
    {
      name: "edit a field",
      kind: "edited",
      seq: 7,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        next.records[6].event.estimate = 1;
        return next;
      },
    },
    {
      name: "delete an event",
      kind: "deleted",
      seq: 7,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        next.records.splice(6, 1);
        return next;
      },
    },
    {
      name: "insert a forged one",
      kind: "inserted",
      seq: 7,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        // A well-formed record with a correct hash of its own, linked to record 6.
        const forged = linkEvent(tenant, headOf(next.records[5]), { ...next.records[6].event, estimate: 0 });
        next.records.splice(6, 0, forged);
        return next;
      },
    },
    {
      name: "swap two",
      kind: "reordered",
      seq: 7,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        [next.records[6], next.records[7]] = [next.records[7], next.records[6]];
        return next;
      },
    },
    {
      name: "truncate the tail before the last checkpoint",
      kind: "deleted",
      seq: 18,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        next.records = next.records.slice(0, 17);
        return next;
      },
    },
    {
      name: "replace a signature",
      kind: "signature invalid",
      seq: 10,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        next.checkpoints[1].signature = next.checkpoints[0].signature;
        return next;
      },
    },
    {
      name: "re-sign with another key under the real key id",
      kind: "signature invalid",
      seq: 10,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        const forged = signCheckpoint(tenant, headOf(next.records[9]), { ...otherKey, keyId: key.keyId });
        next.checkpoints[1] = { ...forged, atMs: next.checkpoints[1].atMs };
        return next;
      },
    },
    {
      name: "re-sign with another key under its own key id",
      kind: "unknown key",
      seq: 10,
      apply: (chain: { records: ChainRecord[]; checkpoints: Checkpoint[] }) => {
        const next = clone(chain);
        next.checkpoints[1] = signCheckpoint(tenant, headOf(next.records[9]), otherKey);
        return next;
      },
    },
  ] as const;
}
