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
import { createLedger } from "../src/ledger/create-ledger.js";
import { formatMeasurement, gc, measure, measurePair, ratio } from "./measure.js";

/**
 * The evidence core on its own: linking an audit event into its chain (JCS + SHA-256), signing a
 * receipt (JCS twice + SHA-256 + Ed25519), and `verifyChain` over a long export. What chaining
 * costs inside a store's reserve + commit is for the stores' benchmarks, once they chain.
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
  const lines = ["## Evidence (src/evidence: JCS via canonicalize, SHA-256, Ed25519 from node:crypto)"];
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

  // A proxy for the stores' chaining cost until they chain: the embedded reserve + commit, against
  // the same plus linking two events of the size it audits (the reserve and the commit).
  const ledger = createLedger({ sweepIntervalMs: 0 });
  await ledger.setBudget({ scope: "tenant:acme", limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: Number.MAX_SAFE_INTEGER });
  const subject = {
    tenant: "acme",
    workspace: "production",
    app: "support-bot",
    agent: "resolver",
    toolset: "send-email",
  };
  const action = { name: "send_email", tier: "write-external" as const };
  const pairs = 5_000;
  let chainHead: ChainHead = emptyChainHead;
  const [plain, chained] = await measurePair(
    {
      name: "embedded reserve + commit",
      run: async () => {
        for (let i = 0; i < pairs; i++) {
          const response = await ledger.reserve({ subject, action, estimate: 1 });
          await ledger.commit(response.reservationId as string);
        }
      },
    },
    {
      name: "… + linking its two audit events (proxy)",
      run: async () => {
        for (let i = 0; i < pairs; i++) {
          const response = await ledger.reserve({ subject, action, estimate: 1 });
          chainHead = headOf(linkEvent("acme", chainHead, events[i % perRound]));
          await ledger.commit(response.reservationId as string);
          chainHead = headOf(linkEvent("acme", chainHead, { ...events[i % perRound], type: "commit", amount: 1 }));
        }
      },
    },
    pairs,
  );
  await ledger.close();
  lines.push(formatMeasurement(plain), formatMeasurement(chained), ratio("chaining proxy / plain", chained, plain));

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
    `audit verify over ${total.toLocaleString("en-US")} events + ${marks.length} checkpoints: ${verifyS.toFixed(2)} s, ${Math.round(total / verifyS).toLocaleString("en-US")} events/s (measured, one run; building the chain took ${buildS.toFixed(2)} s)`,
  );
  return lines;
}
