import {
  type ChainHead,
  type ChainRecord,
  emptyChainHead,
  headOf,
  linkEvent,
  signCheckpoint,
  verifyChain,
} from "../src/evidence/chain.js";
import { generateSigningKey, KeySet } from "../src/evidence/keys.js";
import { receiptOfRecord, verifyReceipt } from "../src/evidence/receipt.js";
import { benchEmbeddedEvidence } from "./embedded-evidence.js";
import { formatMeasurement, gc, measure } from "./measure.js";
import { target } from "./targets.js";

/**
 * The evidence core on its own: linking an audit event into its chain (JCS + SHA-256), signing a
 * receipt (JCS twice + SHA-256 + Ed25519), and `verifyChain` over a long export; then what chaining
 * and signing cost the embedded store's reserve + commit (bench/embedded-evidence.ts).
 */
export const verifyEventsDefault = 1_000_000;

function reserveEvent(index: number) {
  return {
    seq: index + 1,
    atMs: 1_800_000_000_000 + index,
    type: "reserve",
    scope: "tenant:acme/workspace:production/app:support-bot/agent:resolver/toolset:send-email",
    unit: "RISK_POINTS",
    reservationId: `acme:0b6f2c1e-7d7e-4d55-9d1c-${String(index).padStart(12, "0")}`,
    action: { name: "send_email", tier: "write-external", kind: "tool.email" },
    runId: "thread-1",
    estimate: 20,
    decision: "ALLOW",
    balances: [
      { scope: "tenant:acme", allocated: 1_000_000, remaining: 900_000 },
      { scope: "tenant:acme/toolset:send-email", allocated: 100_000, remaining: 40_000 },
    ],
  };
}

export async function benchEvidence(): Promise<string[]> {
  const lines = ["## Evidence (src/evidence: JCS by canonical.ts, SHA-256, Ed25519 from node:crypto)"];
  const key = generateSigningKey("bench");
  const perRound = 10_000;
  const events = Array.from({ length: perRound }, (_, index) => reserveEvent(index));
  let head: ChainHead = emptyChainHead;
  const linked = await measure("link one reserve event (JCS + SHA-256)", perRound, async () => {
    for (const event of events) head = headOf(linkEvent("acme", head, event));
  });
  lines.push(formatMeasurement(linked));
  const record = linkEvent("acme", emptyChainHead, events[0]);
  const receipts = 1_000;
  const signed = await measure("sign one receipt (Cycles envelope, Ed25519)", receipts, async () => {
    for (let i = 0; i < receipts; i++)
      receiptOfRecord(record, key, { serverId: "https://bench.example", issuedAtMs: i });
  });
  lines.push(formatMeasurement(signed));
  const receipt = receiptOfRecord(record, key, { serverId: "https://bench.example", issuedAtMs: 1 });
  const keys = KeySet.of([key]);
  const checked = await measure("verify one receipt against a key set", receipts, async () => {
    for (let i = 0; i < receipts; i++) if (!verifyReceipt(receipt, keys).ok) throw new Error("receipt broke");
  });
  lines.push(formatMeasurement(checked));
  const checkpoints = 1_000;
  const checkpointed = await measure("sign one checkpoint", checkpoints, async () => {
    for (let i = 0; i < checkpoints; i++) signCheckpoint("acme", head, key, i);
  });
  lines.push(formatMeasurement(checkpointed));

  // What chaining and signing cost the embedded store's reserve + commit, with the minimal
  // prototypes of the same per-event work beside it (Redis: the redis section's last part).
  lines.push(...(await benchEmbeddedEvidence()));

  const total = Number(process.env.TOLLGATE_BENCH_VERIFY_EVENTS ?? verifyEventsDefault);
  gc();
  const records: ChainRecord[] = new Array(total);
  const marks = [];
  let at: ChainHead = emptyChainHead;
  const buildStartNs = process.hrtime.bigint();
  for (let index = 0; index < total; index++) {
    const next = linkEvent("acme", at, reserveEvent(index));
    records[index] = next;
    at = headOf(next);
    if (next.seq % 1_000 === 0) marks.push(signCheckpoint("acme", at, key, index));
  }
  const buildS = Number(process.hrtime.bigint() - buildStartNs) / 1e9;
  gc();
  const verifyStartNs = process.hrtime.bigint();
  const verified = verifyChain(records, marks, keys);
  const verifyS = Number(process.hrtime.bigint() - verifyStartNs) / 1e9;
  if (!verified.ok) throw new Error(`bench chain broke: ${JSON.stringify(verified.problems[0])}`);
  lines.push(
    `audit verify over ${total.toLocaleString("en-US")} events + ${marks.length} checkpoints: ${verifyS.toFixed(2)} s (building the chain took ${buildS.toFixed(2)} s)`,
    target({
      name: `verifyChain throughput over ${total.toLocaleString("en-US")} events`,
      value: Math.round(total / verifyS),
      unit: "events/s",
      comparison: "report",
      method: "one pass over the whole chain, signatures checked",
    }),
  );
  return lines;
}
