/**
 * Samples for one process each (bench/process-sample.ts) that measure the ledger of a given
 * checkout: `args.root` names the directory whose `src/ledger/create-ledger.ts` is imported, so the
 * same measurement runs against this tree and an older one (bench/compare-base.ts) and only the code
 * under test differs. The harness (this file, the redis-server launcher, node-redis for PING) is
 * this tree's for both.
 *
 *   embeddedPairs  reserve + commit on the embedded ledger: 6-level subject, 3 budgets on its path
 *   embeddedPairsInterleaved  the same for two checkouts in one process, rounds in turn
 *   redisPairs     a fresh redis-server; PING p50 and reserve + commit p50 from one caller (depth 4,
 *                  budgets on every level), then pairs/s from 8 concurrent callers with the
 *                  redis-server's CPU time per pair
 *   bareToolInvoke a bare LangChain tool.invoke of a trivial tool, the embedded figures' yardstick
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type InterleavedResult, interleave, interleavedRatio, timeRounds } from "./measure.js";
import { allocatedBytesPerOp } from "./memory.js";
import type { SampleResult } from "./process-sample.js";
import { latenciesUs, processCpuMicros, redisServerPid, throughput } from "./redis-probe.js";
import { quantileOfSorted } from "./stats.js";

/** What these samples use of a ledger; kept structural so an older checkout's ledger fits. */
interface MinimalLedger {
  setBudget(input: { scope: string; limit: number }): Promise<unknown>;
  reserve(input: {
    subject: Record<string, string>;
    action: { name: string; tier: string };
    estimate: number;
  }): Promise<{ decision: string; reasonCode?: string; reservationId?: string }>;
  commit(reservationId: string): Promise<unknown>;
  close(): Promise<void>;
}
type CreateLedger = (options: Record<string, unknown>) => MinimalLedger;

async function createLedgerOf(root: unknown): Promise<CreateLedger> {
  if (typeof root !== "string") throw new Error("args.root: the checkout whose ledger to measure");
  const module = await import(pathToFileURL(join(root, "src/ledger/create-ledger.ts")).href);
  return module.createLedger as CreateLedger;
}

const sixLevels = {
  tenant: "t0",
  workspace: "production",
  app: "support-bot",
  workflow: "billing-dispute",
  agent: "resolver",
  toolset: "send-email",
};
const sixLevelBudgets = ["tenant:t0", "tenant:t0/workspace:production/app:support-bot", "tenant:t0/toolset:send-email"];
const write = { name: "send_email", tier: "write-external" };

async function pair(ledger: MinimalLedger, subject: Record<string, string>, action = write): Promise<void> {
  const response = await ledger.reserve({ subject, action, estimate: 1 });
  if (!response.reservationId) throw new Error(`unexpected ${response.decision} ${response.reasonCode}`);
  await ledger.commit(response.reservationId);
}

/** Medians of a sample's rounds: wall time (with its min and max) and CPU time, µs per operation. */
function perOp(timed: InterleavedResult): SampleResult {
  return {
    perOpUs: timed.perOpUs.median,
    minUs: timed.perOpUs.min,
    maxUs: timed.perOpUs.max,
    cpuPerOpUs: timed.cpuPerOpUs.median,
  };
}

const numberArg = (value: unknown, fallback: number) => (typeof value === "number" ? value : fallback);

/** A ledger of that checkout with the 6-level subject's 3 budgets, and a loop of `count` pairs on it. */
async function embeddedSetup(root: unknown, count: number) {
  const createLedger = await createLedgerOf(root);
  const ledger = createLedger({ sweepIntervalMs: 0 });
  for (const scope of sixLevelBudgets) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
  const loop = async () => {
    for (let index = 0; index < count; index++) await pair(ledger, sixLevels);
  };
  return { ledger, loop };
}

/** µs per reserve + commit (median of rounds, with min and max) and bytes allocated per pair. */
export async function embeddedPairs(args: Record<string, unknown>): Promise<SampleResult> {
  const opsPerRound = numberArg(args.opsPerRound, 20_000);
  const { ledger, loop } = await embeddedSetup(args.root, opsPerRound);
  const timed = await timeRounds(opsPerRound, numberArg(args.rounds, 7), loop);
  const allocatedBytesPerPair = await allocatedBytesPerOp(opsPerRound, loop, { warmup: false });
  await ledger.close();
  return { ...perOp(timed), allocatedBytesPerPair };
}

/**
 * Two checkouts' embedded ledgers in one process, rounds in turn (`args.roots`: [before, now]):
 * the median of the per-round ratios now / before, with its range, and each one's median.
 */
export async function embeddedPairsInterleaved(args: Record<string, unknown>): Promise<SampleResult> {
  const roots = args.roots as unknown[];
  const opsPerRound = numberArg(args.opsPerRound, 10_000);
  const before = await embeddedSetup(roots[0], opsPerRound);
  const now = await embeddedSetup(roots[1], opsPerRound);
  const [beforeResult, nowResult] = await interleave(
    [
      { name: "before", run: before.loop },
      { name: "now", run: now.loop },
    ],
    { opsPerRound, rounds: numberArg(args.rounds, 11) },
  );
  await before.ledger.close();
  await now.ledger.close();
  const ratio = interleavedRatio(nowResult, beforeResult);
  const cpuRatio = interleavedRatio(nowResult, beforeResult, "cpu");
  return {
    ratio: ratio.median,
    ratioMin: ratio.min,
    ratioMax: ratio.max,
    cpuRatio: cpuRatio.median,
    beforeUs: beforeResult.perOpUs.median,
    nowUs: nowResult.perOpUs.median,
  };
}

/** µs per bare tool.invoke of a trivial LangChain tool (median of rounds, with min and max). */
export async function bareToolInvoke(args: Record<string, unknown>): Promise<SampleResult> {
  const { tool } = await import("@langchain/core/tools");
  const { z } = await import("zod");
  const opsPerRound = numberArg(args.opsPerRound, 5_000);
  const echo = tool(async ({ text }: { text: string }) => text, {
    name: "echo",
    description: "returns its input",
    schema: z.object({ text: z.string() }),
  });
  const timed = await timeRounds(opsPerRound, numberArg(args.rounds, 7), async () => {
    for (let index = 0; index < opsPerRound; index++) await echo.invoke({ text: "hi" });
  });
  return perOp(timed);
}

/** One fresh redis-server per call; see the file's comment. */
export async function redisPairs(args: Record<string, unknown>): Promise<SampleResult> {
  const createLedger = await createLedgerOf(args.root);
  const samples = numberArg(args.samples, 3_000);
  const callers = numberArg(args.callers, 8);
  const seconds = numberArg(args.seconds, 3);
  const { startRedisServer } = await import("../test/helpers/redis-server.js");
  const { createClient } = await import("@redis/client");
  const server = await startRedisServer({ needsOwnServer: true });
  const client = createClient({ url: server.url });
  await client.connect();
  const ledger = createLedger({ redis: server.url, sweepIntervalMs: 0 });
  try {
    const subject = { tenant: "bench", workspace: "workspace-1", app: "app-1", workflow: "workflow-1" };
    const read = { name: "lookup", tier: "read" };
    for (const scope of [
      "tenant:bench",
      "tenant:bench/workspace:workspace-1",
      "tenant:bench/workspace:workspace-1/app:app-1",
      "tenant:bench/workspace:workspace-1/app:app-1/workflow:workflow-1",
    ]) {
      await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
    }
    const pid = await redisServerPid(client as unknown as { sendCommand(args: string[]): Promise<unknown> });
    const ping = (await latenciesUs(samples, () => client.ping())).sort((a, b) => a - b);
    const pairs = (await latenciesUs(samples, () => pair(ledger, subject, read))).sort((a, b) => a - b);
    const serverBefore = processCpuMicros(pid);
    const clientBefore = process.cpuUsage();
    const run = await throughput(callers, seconds, () => pair(ledger, subject, read));
    const clientCpu = process.cpuUsage(clientBefore);
    return {
      pingP50Us: quantileOfSorted(ping, 0.5),
      pairP50Us: quantileOfSorted(pairs, 0.5),
      pairP99Us: quantileOfSorted(pairs, 0.99),
      pairsPerSecond: run.perSecond,
      serverCpuUsPerPair: (processCpuMicros(pid) - serverBefore) / run.done,
      clientCpuUsPerPair: (clientCpu.user + clientCpu.system) / run.done,
    };
  } finally {
    await ledger.close();
    await client.close();
    await server.stop();
  }
}
