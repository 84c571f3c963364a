/**
 * One process per sample: each sample runs in a fresh `node --expose-gc --import tsx` child, so no
 * sample inherits another's JIT state, heap or retained objects (an in-process ledger's heap also
 * slows whatever it is compared with).
 *
 * A sample is an exported async function of a module, taking JSON arguments and returning a flat
 * object of numbers (`{ perOpUs: 12.3 }`). The child (bench/sample-main.ts) imports the module,
 * calls the function and prints one line `BENCH_SAMPLE {json}` on stdout; anything else the sample
 * prints is ignored. A failing sample (throws, exits non-zero, prints no result, runs past its
 * timeout) rejects with the child's stderr.
 *
 * `alternateProcesses` runs variants in fresh processes in turn (A, B, A, B, ...; the first variant
 * rotates each round, as in `interleave`), so load that comes and goes hits both alike.
 */
import { execFile } from "node:child_process";
import { dirname, isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { pairwiseRatios, type Stats, summarize } from "./stats.js";

export type SampleResult = Record<string, number>;
export type SampleFunction = (args: Record<string, unknown>) => Promise<SampleResult>;

export interface ProcessSampleSpec {
  /** Label of the variant in reports. */
  name: string;
  /** The module that exports the sample: an absolute path, or relative to bench/. */
  module: string;
  exportName: string;
  /** Passed to the sample as JSON. */
  args?: Record<string, unknown>;
  /** Working directory of the child (default: this checkout's root). */
  cwd?: string;
  /** Extra environment for the child. */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const checkoutRoot = resolve(benchDir, "..");
const sampleMain = resolve(benchDir, "sample-main.ts");
const resultMarker = "BENCH_SAMPLE ";
/** tsx from this checkout, by absolute URL, so a child in another directory loads the same one. */
const tsxLoader = import.meta.resolve("tsx");

export function parseSampleOutput(stdout: string): SampleResult | undefined {
  const line = stdout
    .split("\n")
    .reverse()
    .find((candidate) => candidate.startsWith(resultMarker));
  if (!line) return undefined;
  const parsed: unknown = JSON.parse(line.slice(resultMarker.length));
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const result: SampleResult = {};
  for (const [key, value] of Object.entries(parsed)) result[key] = typeof value === "number" ? value : Number.NaN;
  return result;
}

/** Runs one sample in a fresh node process and returns what it measured. */
export function sampleInFreshProcess(spec: ProcessSampleSpec): Promise<SampleResult> {
  const modulePath = isAbsolute(spec.module) ? spec.module : resolve(benchDir, spec.module);
  const args = [
    "--expose-gc",
    "--import",
    tsxLoader,
    sampleMain,
    pathToFileURL(modulePath).href,
    spec.exportName,
    JSON.stringify(spec.args ?? {}),
  ];
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      args,
      {
        cwd: spec.cwd ?? checkoutRoot,
        env: { ...process.env, ...spec.env },
        timeout: spec.timeoutMs ?? 600_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`sample ${spec.name} (${spec.exportName}) failed: ${error.message}\n${stderr}`));
          return;
        }
        const result = parseSampleOutput(stdout);
        if (result) resolvePromise(result);
        else reject(new Error(`sample ${spec.name} (${spec.exportName}) printed no result\n${stderr}`));
      },
    );
  });
}

export interface AlternatedSamples {
  name: string;
  /** One result per fresh process, in the order they ran. */
  samples: SampleResult[];
}

/** `rounds` rounds; each runs every variant once, in a fresh process, the first variant rotating. */
export async function alternateProcesses(
  variants: readonly ProcessSampleSpec[],
  rounds: number,
): Promise<AlternatedSamples[]> {
  const samples: SampleResult[][] = variants.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let offset = 0; offset < variants.length; offset++) {
      const index = (round + offset) % variants.length;
      samples[index].push(await sampleInFreshProcess(variants[index]));
    }
  }
  return variants.map((variant, index) => ({ name: variant.name, samples: samples[index] }));
}

/** One field of every sample of a variant, in round order. */
export function field(samples: AlternatedSamples, key: string): number[] {
  return samples.samples.map((sample) => sample[key] ?? Number.NaN);
}

/** numerator / denominator of one field, round by round (both ran back to back), summarized. */
export function alternatedRatio(numerator: AlternatedSamples, denominator: AlternatedSamples, key = "perOpUs"): Stats {
  return summarize(pairwiseRatios(field(numerator, key), field(denominator, key)));
}
