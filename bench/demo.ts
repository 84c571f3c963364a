/**
 * `npm run bench -- demo`: the machinery of bench/measure.ts on the embedded ledger's figures, as
 * an example of each method (not part of a bare `npm run bench`; the ledger section owns these
 * figures):
 *   - reserve + commit and decide against a bare tool.invoke, interleaved in one process (ratio per
 *     round), and reserve + commit against tool.invoke in alternating fresh processes;
 *   - bytes allocated per pair; heap growth over BENCH_DEMO_PAIRS pairs (default 1,000,000);
 *     bytes retained per idle budget.
 */
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { createLedger } from "../src/ledger/create-ledger.js";
import { interleave, interleavedRatio } from "./measure.js";
import { allocatedBytesPerOp, heapCheckpoints, heapGrowthPerOp, retainedBytesPerObject } from "./memory.js";
import { alternatedRatio, alternateProcesses, checkoutRoot, field } from "./process-sample.js";
import { formatNumber, formatStats, summarize } from "./stats.js";
import { target } from "./targets.js";

const subject = {
  tenant: "t0",
  workspace: "production",
  app: "support-bot",
  workflow: "billing-dispute",
  agent: "resolver",
  toolset: "send-email",
};
const action = { name: "send_email", tier: "write-external" as const };
const budgets = ["tenant:t0", "tenant:t0/workspace:production/app:support-bot", "tenant:t0/toolset:send-email"];

export async function benchDemo(): Promise<string[]> {
  const lines = ["## Demo of the bench machinery: embedded ledger"];
  const echo = tool(async ({ text }: { text: string }) => text, {
    name: "echo",
    description: "returns its input",
    schema: z.object({ text: z.string() }),
  });
  const ledger = createLedger({ sweepIntervalMs: 0 });
  for (const scope of budgets) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
  const ops = 5_000;
  const pairs = async (count: number) => {
    for (let index = 0; index < count; index++) {
      const response = await ledger.reserve({ subject, action, estimate: 1 });
      await ledger.commit(response.reservationId as string);
    }
  };

  const [bare, pair, decide] = await interleave(
    [
      {
        name: "bare tool.invoke",
        run: async () => {
          for (let index = 0; index < ops; index++) await echo.invoke({ text: "hi" });
        },
      },
      { name: "reserve + commit", run: () => pairs(ops) },
      {
        name: "decide",
        run: async () => {
          for (let index = 0; index < ops; index++) await ledger.decide({ subject, action, estimate: 1 });
        },
      },
    ],
    { opsPerRound: ops, rounds: 9 },
  );
  for (const result of [bare, pair, decide]) lines.push(`${result.name}: ${formatStats(result.perOpUs, "µs")}`);
  const pairRatio = interleavedRatio(pair, bare);
  lines.push(
    target({
      name: "reserve + commit / bare tool.invoke, in process",
      value: pairRatio.median,
      spread: pairRatio,
      unit: "×",
      comparison: "<=",
      limit: 0.1,
      method: "interleaved rounds in one process, median of per-round ratios",
    }),
  );
  const pairCpuRatio = interleavedRatio(pair, bare, "cpu");
  lines.push(
    target({
      name: "reserve + commit / bare tool.invoke, in process, CPU time",
      value: pairCpuRatio.median,
      spread: pairCpuRatio,
      unit: "×",
      comparison: "report",
    }),
  );
  const decideRatio = interleavedRatio(decide, bare);
  lines.push(
    target({
      name: "decide / bare tool.invoke, in process",
      value: decideRatio.median,
      spread: decideRatio,
      unit: "×",
      comparison: "<=",
      limit: 0.05,
    }),
  );

  const [bareProcesses, pairProcesses] = await alternateProcesses(
    [
      { name: "bare tool.invoke", module: "tree-samples.ts", exportName: "bareToolInvoke" },
      {
        name: "reserve + commit",
        module: "tree-samples.ts",
        exportName: "embeddedPairs",
        args: { root: checkoutRoot },
      },
    ],
    3,
  );
  const bareUs = summarize(field(bareProcesses, "perOpUs"));
  const pairUs = summarize(field(pairProcesses, "perOpUs"));
  lines.push(`one process per sample: bare ${formatStats(bareUs, "µs")}, pair ${formatStats(pairUs, "µs")}`);
  const processRatio = alternatedRatio(pairProcesses, bareProcesses);
  lines.push(
    target({
      name: "reserve + commit / bare tool.invoke, one process per sample",
      value: processRatio.median,
      spread: processRatio,
      unit: "×",
      comparison: "<=",
      limit: 0.1,
      method: "alternating fresh processes, median of per-round ratios",
    }),
  );

  lines.push(
    target({
      name: "allocated per reserve + commit",
      value: await allocatedBytesPerOp(ops, () => pairs(ops)),
      unit: "bytes",
      comparison: "<=",
      limit: 3_000,
      method: "GCProfiler: heap delta + bytes each GC freed",
    }),
  );

  const totalPairs = Number(process.env.BENCH_DEMO_PAIRS ?? 1_000_000);
  const points = await heapCheckpoints(5, Math.ceil(totalPairs / 5), pairs);
  lines.push(
    `heap after each ${formatNumber(points[0].opsDone)} pairs (MiB): ${points.map((point) => (point.heapBytes / 1_048_576).toFixed(1)).join(", ")}`,
  );
  lines.push(
    target({
      name: `heap growth over ${formatNumber(totalPairs)} pairs, after the first fifth`,
      value: heapGrowthPerOp(points),
      unit: "bytes/pair",
      comparison: "<=",
      limit: 1,
      method: "settled heap after a full GC every fifth; least-squares slope",
    }),
  );
  await ledger.close();

  const idle = await retainedBytesPerObject(10_000, 60_000, async (count) => {
    const many = createLedger({ sweepIntervalMs: 0, auditEventsMax: 1, auditEventsTotalMax: 1 });
    for (let index = 0; index < count; index++) {
      await many.setBudget({ scope: `tenant:m${index}/toolset:send-email`, limit: 100 });
    }
    return () => many.close();
  });
  lines.push(
    target({
      name: "idle budget, retained heap",
      value: idle,
      unit: "bytes",
      comparison: "<",
      limit: 1_024,
      method: "settled heap at 10,000 and 60,000 budgets; slope",
    }),
  );
  return lines;
}
