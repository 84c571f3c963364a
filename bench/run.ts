/**
 * `npm run bench -- [section ...] [--runs N] [--json FILE] [--strict]`: the benchmarks, side by side in
 * one run. Speed is measured here, never in tests. See bench/README.md.
 *
 * Prints the conditions (node, cores, CPU model, load average at start and end, redis-server), then
 * runs the chosen sections (default: every section marked default) `--runs` times (default 3) in
 * full, in order, so each figure is measured once per run; a figure a section records with
 * `target()` is summarized at the end over the runs: median, range, target, met / not met.
 * `--json FILE` writes that summary with the conditions; `--strict` exits 1 when a target is not met.
 * A section that throws is reported and the rest still run; the process then exits 1.
 */
import { writeFileSync } from "node:fs";
import { benchCompareBase } from "./compare-base.js";
import { conditionsAtEnd, conditionsAtStart, formatConditions } from "./conditions.js";
import { benchDemo } from "./demo.js";
import { benchEvidence } from "./evidence.js";
import { benchGlob } from "./glob.js";
import { benchGraph } from "./graph.js";
import { benchLedger } from "./ledger.js";
import { benchMiddleware } from "./middleware.js";
import { parseBenchArgs } from "./options.js";
import { checkoutRoot } from "./process-sample.js";
import { beginSection, formatSummary, recordedTargets, summarizeTargets } from "./targets.js";

interface Section {
  name: string;
  run: () => Promise<string[]>;
  /** Part of a bare `npm run bench`; the others run only when named. */
  byDefault: boolean;
}

const sections: Section[] = [
  { name: "ledger", run: benchLedger, byDefault: true },
  { name: "graph", run: benchGraph, byDefault: true },
  { name: "middleware", run: () => benchMiddleware(), byDefault: true },
  { name: "glob", run: benchGlob, byDefault: true },
  { name: "evidence", run: benchEvidence, byDefault: true },
  { name: "redis", run: async () => (await import("./redis.js")).benchRedis(), byDefault: true },
  { name: "compare-base", run: benchCompareBase, byDefault: true },
  { name: "demo", run: benchDemo, byDefault: false },
  {
    name: "instructions",
    run: async () => (await import("./redis-instructions.js")).benchInstructions(),
    byDefault: false,
  },
];

let options: ReturnType<typeof parseBenchArgs>;
try {
  options = parseBenchArgs(
    process.argv.slice(2),
    sections.map((section) => section.name),
  );
} catch (error) {
  console.error(`bench: ${(error as Error).message}`);
  process.exit(2);
}
// Named sections run in the order given; a bare run takes the default ones in table order.
const chosen =
  options.sections.length > 0
    ? options.sections.map((name) => sections.find((section) => section.name === name) as Section)
    : sections.filter((section) => section.byDefault);

const start = conditionsAtStart(checkoutRoot);
console.log(`tollgate benchmarks: ${chosen.map((section) => section.name).join(", ")}; ${options.runs} run(s)`);
for (const line of formatConditions(start)) console.log(line);
if (!(globalThis as { gc?: unknown }).gc) console.log("(node runs without --expose-gc: memory figures are NaN)");

const failures: string[] = [];
for (let run = 1; run <= options.runs; run++) {
  for (const section of chosen) {
    console.log(`\n# ${section.name}, run ${run} of ${options.runs}`);
    beginSection(section.name, run);
    try {
      console.log((await section.run()).join("\n"));
    } catch (error) {
      failures.push(`${section.name} (run ${run})`);
      console.log(`${section.name} failed: ${(error as Error).stack ?? error}`);
    }
  }
}

const end = conditionsAtEnd(start);
const summaries = summarizeTargets(recordedTargets());
console.log(`\n# Summary over ${options.runs} run(s)`);
for (const line of formatConditions(end)) console.log(line);
if (summaries.length > 0) for (const line of formatSummary(summaries)) console.log(line);
else console.log("(no section recorded a target)");
if (failures.length > 0) console.log(`sections that failed: ${failures.join(", ")}`);
if (options.jsonPath) {
  writeFileSync(
    options.jsonPath,
    `${JSON.stringify({ conditions: end, runs: options.runs, failures, targets: summaries }, null, 2)}\n`,
  );
  console.log(`targets written to ${options.jsonPath}`);
}
const notMet = summaries.some((summary) => summary.met === false);
if (failures.length > 0 || (options.strict && notMet)) process.exitCode = 1;
