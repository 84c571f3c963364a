/**
 * Samples for one process each (bench/process-sample.ts) that measure the ledger of a given
 * checkout: `args.root` names the directory whose `src/ledger/create-ledger.ts` is imported, so the
 * same measurement runs against this tree and an older one (bench/compare-base.ts) and only the code
 * under test differs. The harness (this file, the redis-server launcher, node-redis for PING) is
 * this tree's for both.
 *
 *   embeddedPairs  reserve + commit on the embedded ledger: 6-level subject, 3 budgets on its path
 *   redisPairs     a fresh redis-server; PING p50 and reserve + commit p50 from one caller (depth 4,
 *                  budgets on every level), then pairs/s from 8 concurrent callers with the
 *                  redis-server's CPU time per pair
 *   bareToolInvoke a bare LangChain tool.invoke of a trivial tool, the embedded figures' yardstick
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { allocatedBytesPerOp } from "./memory.js";
import type { SampleResult } from "./process-sample.js";
import { latenciesUs, processCpuMicros, redisServerPid, throughput } from "./redis-probe.js";
import { quantileOfSorted, summarize } from "./stats.js";

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

const numberArg = (value: unknown, fallback: number) => (typeof value === "number" ? value : fallback);

/** µs per reserve + commit (median of rounds, with min and max) and bytes allocated per pair. */
export async function embeddedPairs(args: Record<string, unknown>): Promise<SampleResult> {
  const createLedger = await createLedgerOf(args.root);
  const opsPerRound = numberArg(args.opsPerRound, 20_000);
  const rounds = numberArg(args.rounds, 7);
  const ledger = createLedger({ sweepIntervalMs: 0 });
  for (const scope of sixLevelBudgets) await ledger.setBudget({ scope, limit: Number.MAX_SAFE_INTEGER });
  const loop = async () => {
    for (let index = 0; index < opsPerRound; index++) await pair(ledger, sixLevels);
  };
  await loop();
  const roundsUs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const startNs = process.hrtime.bigint();
    await loop();
    roundsUs.push(Number(process.hrtime.bigint() - startNs) / 1_000 / opsPerRound);
  }
  const allocatedBytesPerPair = await allocatedBytesPerOp(opsPerRound, loop, { warmup: false });
  await ledger.close();
  const stats = summarize(roundsUs);
  return { perOpUs: stats.median, minUs: stats.min, maxUs: stats.max, allocatedBytesPerPair };
}

/** µs per bare tool.invoke of a trivial LangChain tool (median of rounds, with min and max). */
export async function bareToolInvoke(args: Record<string, unknown>): Promise<SampleResult> {
  const { tool } = await import("@langchain/core/tools");
  const { z } = await import("zod");
  const opsPerRound = numberArg(args.opsPerRound, 5_000);
  const rounds = numberArg(args.rounds, 7);
  const echo = tool(async ({ text }: { text: string }) => text, {
    name: "echo",
    description: "returns its input",
    schema: z.object({ text: z.string() }),
  });
  const loop = async () => {
    for (let index = 0; index < opsPerRound; index++) await echo.invoke({ text: "hi" });
  };
  await loop();
  const roundsUs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const startNs = process.hrtime.bigint();
    await loop();
    roundsUs.push(Number(process.hrtime.bigint() - startNs) / 1_000 / opsPerRound);
  }
  const stats = summarize(roundsUs);
  return { perOpUs: stats.median, minUs: stats.min, maxUs: stats.max };
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
