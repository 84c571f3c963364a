import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import v8 from "node:v8";
import { tool } from "@langchain/core/tools";
import { z } from "zod";
import { createLedger } from "../src/ledger/create-ledger.js";
import type { Ledger } from "../src/ledger/ledger.js";
import { PrototypeLedger } from "./embedded-prototype.js";
import { target } from "./targets.js";

/**
 * The embedded ledger's targets, each printed with met / not met: reserve + commit on a six-level
 * subject with three budgets on its path next to a bare LangChain tool.invoke of a trivial tool (in
 * one process, rounds interleaved, and one process per sample, alternating), bytes allocated per
 * pair, decide, 1 vs 100,000 tenants, the heap over 1,000,000 pairs, and the heap an idle budget
 * keeps. Self-contained: its helpers live here.
 */
const levels = (tenant: string) => ({
  tenant,
  workspace: "production",
  app: "support-bot",
  workflow: "billing-dispute",
  agent: "resolver",
  toolset: "send-email",
});
const action = { name: "send_email", tier: "write-external" as const };

const targets = {
  pairPerTool: 0.1,
  bytesPerPair: 3 * 1024,
  decidePerTool: 0.05,
  manyTenantsPerOne: 1.3,
  heapGrowthMiB: 1,
  idleBudgetBytes: 1024,
};

async function provision(ledger: Ledger, tenant: string): Promise<void> {
  await ledger.setBudget({ scope: `tenant:${tenant}`, limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({
    scope: `tenant:${tenant}/workspace:production/app:support-bot`,
    limit: Number.MAX_SAFE_INTEGER,
  });
  await ledger.setBudget({ scope: `tenant:${tenant}/toolset:send-email`, limit: Number.MAX_SAFE_INTEGER });
}

type Loop = (count: number) => Promise<void>;

/** What the loops call: the ledger, or the minimal prototype of the same work. */
interface Reserving {
  reserve(input: { subject: ReturnType<typeof levels>; action: typeof action; estimate: number }): Promise<{
    reservationId?: string;
  }>;
  decide(input: { subject: ReturnType<typeof levels>; action: typeof action; estimate: number }): Promise<unknown>;
  commit(reservationId: string): Promise<unknown>;
}

function pairLoop(ledger: Reserving, tenants: readonly string[]): Loop {
  return async (count) => {
    for (let i = 0; i < count; i++) {
      const response = await ledger.reserve({ subject: levels(tenants[i % tenants.length]), action, estimate: 1 });
      await ledger.commit(response.reservationId as string);
    }
  };
}

function decideLoop(ledger: Reserving): Loop {
  return async (count) => {
    for (let i = 0; i < count; i++) await ledger.decide({ subject: levels("t0"), action, estimate: 1 });
  };
}

function toolLoop(): Loop {
  const trivialTool = tool(async ({ text }: { text: string }) => text, {
    name: "echo",
    description: "returns its input",
    schema: z.object({ text: z.string() }),
  });
  return async (count) => {
    for (let i = 0; i < count; i++) await trivialTool.invoke({ text: "hi" });
  };
}

async function prototypeLedger(): Promise<PrototypeLedger> {
  const prototype = new PrototypeLedger();
  await provision(prototype as unknown as Ledger, "t0");
  return prototype;
}

async function oneTenantLedger(): Promise<Ledger> {
  const ledger = createLedger({ sweepIntervalMs: 0 });
  await provision(ledger, "t0");
  return ledger;
}

/** µs per op of each loop, rounds interleaved (A, B, C, A, B, C, ...) so load slows all alike; medians. */
async function interleaved(loops: Loop[], opsPerRound: number[], rounds = 7): Promise<number[]> {
  for (const [index, loop] of loops.entries()) await loop(opsPerRound[index]);
  const samples: number[][] = loops.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, loop] of loops.entries()) {
      const startNs = process.hrtime.bigint();
      await loop(opsPerRound[index]);
      samples[index].push(Number(process.hrtime.bigint() - startNs) / 1_000 / opsPerRound[index]);
    }
  }
  return samples.map(median);
}

/** Memory swept between the cold pairs: several times the last-level cache of this kind of machine. */
const sweptBytes = 8 * 1024 * 1024;
const swept = new Float64Array(sweptBytes / 8);

/**
 * µs per operation with caches cold, as between the steps of an agent, where LangChain's work in
 * between evicts the ledger's code and data: 8 MiB of other memory is touched (one write per
 * 64-byte line) before each operation, and only the operation is timed. Rounds interleave the
 * operations; medians.
 */
async function coldOps(ops: (() => Promise<unknown>)[], perRound = 500, rounds = 5): Promise<number[]> {
  const samples: number[][] = ops.map(() => []);
  for (let round = 0; round <= rounds; round++) {
    for (const [index, op] of ops.entries()) {
      let opNs = 0n;
      for (let i = 0; i < perRound; i++) {
        for (let at = 0; at < swept.length; at += 8) swept[at] += 1;
        const startNs = process.hrtime.bigint();
        await op();
        opNs += process.hrtime.bigint() - startNs;
      }
      // Round 0 warms up.
      if (round > 0) samples[index].push(Number(opNs) / 1_000 / perRound);
    }
  }
  return samples.map(median);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Bytes allocated while `run` ran: the heap's growth plus what every collection in between freed. */
async function allocatedBytes(run: () => Promise<void>): Promise<number> {
  gc();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const start = process.memoryUsage().heapUsed;
  await run();
  const end = process.memoryUsage().heapUsed;
  let freed = 0;
  for (const collection of profiler.stop().statistics) {
    freed += collection.beforeGC.heapStatistics.usedHeapSize - collection.afterGC.heapStatistics.usedHeapSize;
  }
  return end - start + freed;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

// ---------------------------------------------------------------- one process per sample

const sampleFlag = "--ledger-sample";
const sampleOps = { tool: 20_000, pair: 50_000, decide: 50_000, prototype: 50_000 } as const;
type SampleKind = keyof typeof sampleOps;

/** In a child: warm up, then time one batch of `kind` in a fresh process, and print µs per op. */
async function runSample(kind: SampleKind): Promise<void> {
  const run =
    kind === "tool"
      ? toolLoop()
      : kind === "pair"
        ? pairLoop(await oneTenantLedger(), ["t0"])
        : kind === "prototype"
          ? pairLoop(await prototypeLedger(), ["t0"])
          : decideLoop(await oneTenantLedger());
  const ops = sampleOps[kind];
  await run(ops);
  const startNs = process.hrtime.bigint();
  await run(ops);
  console.log(Number(process.hrtime.bigint() - startNs) / 1_000 / ops);
}

/** µs per op of each kind, one fresh process per sample, kinds alternating; medians. */
function perProcess(kinds: SampleKind[], rounds = 3): number[] {
  const samples: number[][] = kinds.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (const [index, kind] of kinds.entries()) {
      const child = spawnSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), sampleFlag, kind],
        {
          encoding: "utf8",
        },
      );
      const value = Number(child.stdout.trim().split("\n").pop());
      if (!Number.isFinite(value)) throw new Error(`sample ${kind} failed: ${child.stderr}`);
      samples[index].push(value);
    }
  }
  return samples.map(median);
}

// ---------------------------------------------------------------- memory

/**
 * ms per audit query over a full ring (100,000 retained events of 1,000 tenants): the events after
 * a recent seq (a poller's query), the newest 10 of every tenant, and the newest 100 of one type.
 */
async function auditQueriesMs(): Promise<{ afterSeq: number; newest: number; byType: number }> {
  const ledger = createLedger({ sweepIntervalMs: 0 });
  const tenants = 1_000;
  for (let tenant = 0; tenant < tenants; tenant++) {
    await ledger.setBudget({ scope: `tenant:a${tenant}`, limit: Number.MAX_SAFE_INTEGER });
  }
  for (let index = 0; index < 60_000; index++) {
    const subject = { tenant: `a${index % tenants}`, toolset: "lookup" };
    const response = await ledger.reserve({ subject, action: { name: "lookup", tier: "read" }, estimate: 1 });
    await ledger.commit(response.reservationId as string);
  }
  const [last] = await ledger.audit({ limit: 1 });
  const timed = async (query: Parameters<Ledger["audit"]>[0]) => {
    for (let index = 0; index < 3; index++) await ledger.audit(query);
    const startedAt = performance.now();
    for (let index = 0; index < 20; index++) await ledger.audit(query);
    return (performance.now() - startedAt) / 20;
  };
  const figures = {
    afterSeq: await timed({ afterSeq: last.seq - 20 }),
    newest: await timed({ limit: 10 }),
    byType: await timed({ type: "commit", limit: 100 }),
  };
  await ledger.close();
  return figures;
}

async function heapPerIdleBudget(): Promise<number> {
  // The slope between two sizes, so fixed costs (modules, caches) cancel out. The audit trail is kept
  // to one event: it is bounded on its own (auditEventsTotalMax); an idle budget is its definition,
  // counters and indexes.
  const heapWith = async (budgets: number): Promise<number> => {
    const ledger = createLedger({ sweepIntervalMs: 0, auditEventsMax: 1, auditEventsTotalMax: 1 });
    for (let i = 0; i < budgets; i++) await ledger.setBudget({ scope: `tenant:m${i}/toolset:send-email`, limit: 100 });
    for (let i = 0; i < budgets; i++) {
      const subject = { tenant: `m${i}`, toolset: "send-email" };
      const response = await ledger.reserve({ subject, action, estimate: 1 });
      await ledger.commit(response.reservationId as string);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
    gc();
    const used = process.memoryUsage().heapUsed;
    await ledger.close();
    return used;
  };
  const small = await heapWith(20_000);
  const large = await heapWith(120_000);
  return (large - small) / 100_000;
}

async function heapOverPairs(pairs: number): Promise<number[]> {
  const ledger = await oneTenantLedger();
  const loop = pairLoop(ledger, ["t0"]);
  const heapMiB: number[] = [];
  const step = pairs / 5;
  for (let done = 0; done < pairs; done += step) {
    await loop(step);
    gc();
    heapMiB.push(process.memoryUsage().heapUsed / 1_048_576);
  }
  await ledger.close();
  return heapMiB;
}

// ---------------------------------------------------------------- the section

export async function benchLedger(): Promise<string[]> {
  const lines: string[] = ["## Embedded ledger (keyv, in memory)"];
  if (!(globalThis as { gc?: unknown }).gc) lines.push("(memory figures need node --expose-gc)");

  const one = await oneTenantLedger();
  const many = createLedger({ sweepIntervalMs: 0 });
  const tenantCount = 100_000;
  const tenants = Array.from({ length: tenantCount }, (_, index) => `t${index}`);
  for (const tenant of tenants) await provision(many, tenant);
  // Tenants in a shuffled order, so caches see the spread of a real multi-tenant load.
  const shuffled = [...tenants].sort(() => Math.random() - 0.5);

  const prototype = await prototypeLedger();
  // The lean design over the same 100,000 tenants: how much of the many-tenant cost is the memory
  // itself (cache misses over per-tenant structures) rather than our code.
  const prototypeMany = new PrototypeLedger();
  for (const tenant of tenants) await provision(prototypeMany as unknown as Ledger, tenant);
  const [toolUs, pairUs, decideUs, manyUs, prototypePairUs, prototypeDecideUs, prototypeManyUs] = await interleaved(
    [
      toolLoop(),
      pairLoop(one, ["t0"]),
      decideLoop(one),
      pairLoop(many, shuffled),
      pairLoop(prototype, ["t0"]),
      decideLoop(prototype),
      pairLoop(prototypeMany, shuffled),
    ],
    [5_000, 20_000, 20_000, 20_000, 20_000, 20_000, 20_000],
  );
  await many.close();
  const onePair = pairLoop(one, ["t0"]);
  const prototypePair = pairLoop(prototype, ["t0"]);
  const coldTool = toolLoop();
  const [coldToolUs, coldPairUs, prototypeColdPairUs] = await coldOps([
    () => coldTool(1),
    () => onePair(1),
    () => prototypePair(1),
  ]);
  lines.push("in one process, rounds interleaved (median of 7):");
  lines.push(`  bare LangChain tool.invoke (trivial tool)          ${toolUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  reserve + commit, 6 levels, 3 budgets, 1 tenant    ${pairUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  decide (dry run), same                             ${decideUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  reserve + commit over 100,000 tenants              ${manyUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  prototype (bench/embedded-prototype.ts) pair       ${prototypePairUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  prototype decide                                   ${prototypeDecideUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  prototype pair over 100,000 tenants                ${prototypeManyUs.toFixed(2).padStart(8)} µs`);

  const [toolSampleUs, pairSampleUs, prototypeSampleUs] = perProcess(["tool", "pair", "prototype"]);
  lines.push("one process per sample, alternating (median of 3 each):");
  lines.push(`  bare LangChain tool.invoke                         ${toolSampleUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  reserve + commit                                   ${pairSampleUs.toFixed(2).padStart(8)} µs`);
  lines.push(`  prototype reserve + commit                         ${prototypeSampleUs.toFixed(2).padStart(8)} µs`);

  const pairsCounted = 20_000;
  const bytesPerPair = (await allocatedBytes(() => pairLoop(one, ["t0"])(pairsCounted))) / pairsCounted;
  const bytesPerDecide = (await allocatedBytes(() => decideLoop(one)(pairsCounted))) / pairsCounted;
  const prototypeBytes = (await allocatedBytes(() => pairLoop(prototype, ["t0"])(pairsCounted))) / pairsCounted;
  // What the loop itself allocates (the caller's input objects and its awaits), so the rest is the ledger's.
  const idle: Reserving = {
    reserve: async () => ({ reservationId: "t0:x" }),
    decide: async () => undefined,
    commit: async () => undefined,
  };
  const loopBytes = (await allocatedBytes(() => pairLoop(idle, ["t0"])(pairsCounted))) / pairsCounted;
  await one.close();
  const idleBytes = await heapPerIdleBudget();
  const audits = await auditQueriesMs();
  const heapMiB = await heapOverPairs(1_000_000);
  // Flat: after the first step (caches, the audit ring and settled records reach their bounds), no growth.
  const growthMiB = Math.max(...heapMiB.slice(1)) - heapMiB[1];

  lines.push("targets:");
  const inProcess = pairUs / toolUs;
  const sampled = pairSampleUs / toolSampleUs;
  const ratioOf = (name: string, value: number, limit: number, method: string) =>
    target({ name, value, unit: "×", comparison: "<=", limit, method });
  lines.push(
    ratioOf("reserve + commit / bare tool.invoke, in one process", inProcess, 0.1, "rounds interleaved, medians"),
    ratioOf("reserve + commit / bare tool.invoke, one process per sample", sampled, 0.1, "alternating fresh processes"),
    target({
      name: "bytes allocated per reserve + commit",
      value: bytesPerPair,
      unit: "B",
      comparison: "<=",
      limit: targets.bytesPerPair,
      method: "v8.GCProfiler: heap growth plus what each GC freed",
    }),
    `  (decide alone: ${bytesPerDecide.toFixed(0)} B; the loop's own input objects and awaits: ${loopBytes.toFixed(0)} B; prototype pair: ${prototypeBytes.toFixed(0)} B)`,
    ratioOf("decide / bare tool.invoke", decideUs / toolUs, targets.decidePerTool, "rounds interleaved, medians"),
    ratioOf("reserve + commit, 100,000 tenants / 1 tenant", manyUs / pairUs, targets.manyTenantsPerOne, "medians"),
    target({
      name: "heap growth after the first 200,000 of 1,000,000 pairs",
      value: growthMiB,
      unit: "MiB",
      comparison: "<",
      limit: targets.heapGrowthMiB,
      method: `heap after each 200,000: ${heapMiB.map((mib) => mib.toFixed(1)).join(", ")} MiB`,
    }),
    target({
      name: "heap kept per idle budget",
      value: idleBytes,
      unit: "B",
      comparison: "<",
      limit: targets.idleBudgetBytes,
      method: "heap slope between 20,000 and 120,000 budgets, each used once",
    }),
    target({
      name: "audit query over 100,000 retained events, the 20 after a seq",
      value: audits.afterSeq,
      unit: "ms",
      comparison: "report",
      method: `1,000 tenants; the newest 10 of all: ${audits.newest.toFixed(2)} ms; the newest 100 commits: ${audits.byType.toFixed(2)} ms`,
    }),
    target({ name: "reserve + commit, one tenant", value: pairUs, unit: "µs", comparison: "report" }),
    target({ name: "decide, one tenant", value: decideUs, unit: "µs", comparison: "report" }),
    target({ name: "bare LangChain tool.invoke", value: toolUs, unit: "µs", comparison: "report" }),
  );
  lines.push(
    `prototype of the same work: pair ${(prototypePairUs / toolUs).toFixed(3)}× a bare tool.invoke in one process, ${(prototypeSampleUs / toolSampleUs).toFixed(3)}× one process per sample; decide ${(prototypeDecideUs / toolUs).toFixed(3)}×; ours / prototype ${(pairUs / prototypePairUs).toFixed(2)}×`,
    target({
      name: "reserve + commit with caches cold (8 MiB touched before each)",
      value: coldPairUs,
      unit: "µs",
      comparison: "report",
      method: `a bare tool.invoke ${coldToolUs.toFixed(1)} µs cold in the same rounds; hot: pair ${pairUs.toFixed(2)}, tool.invoke ${toolUs.toFixed(2)} µs`,
    }),
    target({
      name: "cold reserve + commit / cold bare tool.invoke",
      value: coldPairUs / coldToolUs,
      unit: "×",
      comparison: "report",
      method: "both after the same sweep, in the same rounds",
    }),
    target({
      name: "prototype reserve + commit with caches cold",
      value: prototypeColdPairUs,
      unit: "µs",
      comparison: "report",
      method: `the same sweep, in the same rounds: ours / prototype ${(coldPairUs / prototypeColdPairUs).toFixed(2)}× cold, ${(pairUs / prototypePairUs).toFixed(2)}× hot`,
    }),
    target({
      name: "prototype reserve + commit, 100,000 tenants / 1 tenant",
      value: prototypeManyUs / prototypePairUs,
      unit: "×",
      comparison: "report",
      method: "the lean design over the same tenants in the same rounds",
    }),
  );
  return lines;
}

if (process.argv[2] === sampleFlag) await runSample(process.argv[3] as SampleKind);
