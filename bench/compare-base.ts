/**
 * Before / after: the same measurement on this tree and on an older checkout, alternately, in fresh
 * processes (`BENCH_BASE_DIR=/path/to/old/checkout npm run bench -- compare-base`).
 *
 * Each round runs one sample of each tree (the first rotating), each in a fresh node process whose
 * working directory is that tree, importing that tree's `src/ledger/create-ledger.ts`
 * (bench/tree-samples.ts); a Redis sample starts its own fresh redis-server. So both see the same
 * load, the same harness and a clean server, and only the code under test differs. Each figure is
 * the median of the per-round ratios (now / before), with their spread:
 *   - embedded reserve + commit, µs per pair (and bytes allocated per pair, reported); also with
 *     both trees' ledgers in one process, rounds in turn (one such process per round);
 *   - Redis reserve + commit p50 from one caller; pairs/s from 8 callers (as before / now, so
 *     "≤ 1.10×" means at most 10 % slower everywhere); redis-server CPU µs per pair.
 * Target: at most 10 % slower than before, ≤ 1.10×.
 *
 * Without BENCH_BASE_DIR the section prints why it skipped. An older checkout without its own
 * node_modules is staged: its src/, package.json and tsconfig.json copied to a temporary directory
 * beside this tree's node_modules (the dependencies are then this tree's, which the output says).
 * Options: BENCH_BASE_ROUNDS (alternations, default 3, at least 3), BENCH_SECONDS (8-caller run, default 3).
 */
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { hasBinary, redisUnavailableReason } from "../test/helpers/redis-server.js";
import { gitCommit } from "./conditions.js";
import {
  type AlternatedSamples,
  alternateProcesses,
  checkoutRoot,
  field,
  sampleInFreshProcess,
} from "./process-sample.js";
import { formatNumber, formatStats, pairwiseRatios, summarize } from "./stats.js";
import { target } from "./targets.js";

const slowdownLimit = 1.1;

/** Why the comparison cannot run, or undefined. */
export function baseUnavailableReason(baseDir: string | undefined): string | undefined {
  if (!baseDir)
    return "BENCH_BASE_DIR is not set (the older checkout to compare with, e.g. BENCH_BASE_DIR=/work/wt-base)";
  if (!existsSync(join(baseDir, "src/ledger/create-ledger.ts"))) {
    return `${baseDir} has no src/ledger/create-ledger.ts`;
  }
  return undefined;
}

/** The directory to run the old tree from: itself, or a staged copy beside this tree's node_modules. */
function runnableBase(baseDir: string): { root: string; note?: string; cleanup: () => void } {
  if (existsSync(join(baseDir, "node_modules", "keyv"))) return { root: baseDir, cleanup: () => undefined };
  const staged = mkdtempSync(join(tmpdir(), "tollgate-base-"));
  for (const entry of ["src", "package.json", "tsconfig.json"]) {
    cpSync(join(baseDir, entry), join(staged, entry), { recursive: true });
  }
  symlinkSync(join(checkoutRoot, "node_modules"), join(staged, "node_modules"));
  return {
    root: staged,
    note: `${baseDir} has no installed node_modules: its src/ runs from a copy beside this tree's node_modules`,
    cleanup: () => rmSync(staged, { recursive: true, force: true }),
  };
}

function compare(
  lines: string[],
  label: string,
  unit: string,
  before: number[],
  now: number[],
  higherIsBetter = false,
): void {
  const beforeStats = summarize(before);
  const nowStats = summarize(now);
  lines.push(`  ${label}: before ${formatStats(beforeStats, unit)}`);
  lines.push(`  ${" ".repeat(label.length)}  now    ${formatStats(nowStats, unit)}`);
  // A slowdown is a ratio above 1 either way: time now / before, or rate before / now; taken per
  // round (the two samples of a round ran back to back, under the same load), then the median.
  const slowdown = summarize(higherIsBetter ? pairwiseRatios(before, now) : pairwiseRatios(now, before));
  lines.push(
    `  ${target({
      name: `${label}, ${higherIsBetter ? "before / now" : "now / before"}`,
      value: slowdown.median,
      spread: slowdown,
      unit: "×",
      comparison: "<=",
      limit: slowdownLimit,
      method: "alternating fresh processes, median of per-round ratios",
    })}`,
  );
}

/** A numeric setting from the environment, clamped to [min, max]; the default when unset or not a number. */
function boundedSetting(text: string | undefined, fallback: number, min: number, max: number): number {
  const value = Number(text ?? fallback);
  return Number.isFinite(value) ? Math.min(max, Math.max(min, value)) : fallback;
}

export async function benchCompareBase(): Promise<string[]> {
  const baseDir = process.env.BENCH_BASE_DIR ? resolve(process.env.BENCH_BASE_DIR) : undefined;
  const reason = baseUnavailableReason(baseDir);
  if (reason || !baseDir) return [`compare-base: skipped, ${reason}`];
  const rounds = Math.floor(boundedSetting(process.env.BENCH_BASE_ROUNDS, 3, 3, 50));
  const seconds = boundedSetting(process.env.BENCH_SECONDS, 3, 0.5, 120);
  const base = runnableBase(baseDir);
  const lines = [
    `## Before / after: ${baseDir} (${gitCommit(baseDir)}) vs this tree (${gitCommit(checkoutRoot)}), ${rounds} alternations, one process per sample`,
  ];
  if (base.note) lines.push(`  (${base.note})`);
  try {
    const variants = (exportName: string, args: Record<string, unknown>) => [
      { name: "before", module: "tree-samples.ts", exportName, args: { ...args, root: base.root }, cwd: base.root },
      { name: "now", module: "tree-samples.ts", exportName, args: { ...args, root: checkoutRoot }, cwd: checkoutRoot },
    ];
    const [embeddedBefore, embeddedNow] = await alternateProcesses(variants("embeddedPairs", {}), rounds);
    lines.push("embedded reserve + commit (6 levels, 3 budgets):");
    compare(lines, "embedded reserve + commit", "µs", field(embeddedBefore, "perOpUs"), field(embeddedNow, "perOpUs"));
    // CPU time of the sample's process: what a neighbour taking the CPU away does not lengthen.
    compare(
      lines,
      "embedded reserve + commit, CPU time",
      "µs",
      field(embeddedBefore, "cpuPerOpUs"),
      field(embeddedNow, "cpuPerOpUs"),
    );
    lines.push(
      `  allocated per pair: before ${formatNumber(summarize(field(embeddedBefore, "allocatedBytesPerPair")).median)} bytes, now ${formatNumber(summarize(field(embeddedNow, "allocatedBytesPerPair")).median)} bytes`,
    );
    // Both trees in one process too, rounds in turn: finer-grained than alternating processes, at
    // the price of sharing a heap; one such process per round.
    const inProcess: number[] = [];
    const inProcessCpu: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const sample = await sampleInFreshProcess({
        name: "before and now",
        module: "tree-samples.ts",
        exportName: "embeddedPairsInterleaved",
        args: { roots: [base.root, checkoutRoot] },
      });
      inProcess.push(sample.ratio);
      inProcessCpu.push(sample.cpuRatio);
    }
    const inProcessRatio = summarize(inProcess);
    lines.push(
      `  ${target({
        name: "embedded reserve + commit, now / before, both in one process",
        value: inProcessRatio.median,
        spread: inProcessRatio,
        unit: "×",
        comparison: "<=",
        limit: slowdownLimit,
        method:
          "interleaved rounds in one process (one per round), median over processes of the per-round ratio medians",
      })}`,
    );
    lines.push(`  … in CPU time: ${formatStats(summarize(inProcessCpu), "×")}`);

    const missing =
      redisUnavailableReason({ needsOwnServer: true }) ??
      (hasBinary("redis-benchmark") ? undefined : "redis-benchmark not found");
    if (missing) {
      lines.push(`Redis: skipped, ${missing}`);
      return lines;
    }
    const [redisBefore, redisNow] = await alternateProcesses(variants("redisPairs", { seconds }), rounds);
    lines.push("Redis reserve + commit (depth 4, budgets on every level; a fresh redis-server per sample):");
    const values = (samples: AlternatedSamples, key: string) => field(samples, key);
    compare(lines, "Redis p50, one caller", "µs", values(redisBefore, "pairP50Us"), values(redisNow, "pairP50Us"));
    compare(
      lines,
      "Redis pairs/s, 8 callers",
      "pairs/s",
      values(redisBefore, "pairsPerSecond"),
      values(redisNow, "pairsPerSecond"),
      true,
    );
    compare(
      lines,
      "Redis server CPU per pair",
      "µs",
      values(redisBefore, "serverCpuUsPerPair"),
      values(redisNow, "serverCpuUsPerPair"),
    );
    lines.push(
      `  client CPU per pair: before ${formatNumber(summarize(values(redisBefore, "clientCpuUsPerPair")).median)} µs, now ${formatNumber(summarize(values(redisNow, "clientCpuUsPerPair")).median)} µs`,
    );
    lines.push(
      `  PING p50 from the same client: before ${formatNumber(summarize(values(redisBefore, "pingP50Us")).median)} µs, now ${formatNumber(summarize(values(redisNow, "pingP50Us")).median)} µs`,
    );
  } finally {
    base.cleanup();
  }
  return lines;
}
