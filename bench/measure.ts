/**
 * Benchmark helpers. `measure` (one variant) and `measurePair` (two, in turn) keep their shape and
 * now run on `interleave`; `formatMeasurement`, `ratio` and `gc` are as they were. Beside them:
 *   - `interleave`: any number of variants timed round by round in turn (the starting variant rotates
 *     each round, so none always runs first after a pause), each with median, IQR and range, and
 *     `interleavedRatio` for the per-round ratio of two of them (both saw the same load);
 *   - targets (`target`, in ./targets.ts): record a figure against its limit, printed met / not met;
 *   - memory (./memory.ts): bytes allocated per operation, heap growth over many operations,
 *     bytes retained per idle object;
 *   - one process per sample (./process-sample.ts).
 * Everything is re-exported here, so a section imports from "./measure.js" only.
 */
import { pairwiseRatios, type Stats, summarize } from "./stats.js";

export * from "./memory.js";
export * from "./process-sample.js";
export * from "./stats.js";
export * from "./targets.js";

export interface Measurement {
  name: string;
  /** Median time per operation, in microseconds. */
  perOpUs: number;
  opsPerSecond: number;
  /** The rounds' time per operation (µs): median, IQR, range (optional: sections build their own too). */
  spread?: Stats;
}

function toMeasurement(result: InterleavedResult): Measurement {
  return {
    name: result.name,
    perOpUs: result.perOpUs.median,
    opsPerSecond: 1_000_000 / result.perOpUs.median,
    spread: result.perOpUs,
  };
}

/** One variant: one untimed round, then the median of `rounds` timed ones. */
export async function measure(
  name: string,
  opsPerRound: number,
  run: () => Promise<void>,
  rounds = 7,
): Promise<Measurement> {
  const result = await timeRounds(opsPerRound, rounds, run);
  return toMeasurement({ ...result, name });
}

/** Two variants measured round by round in turn (`interleave` of two); each gets the median of its rounds. */
export async function measurePair(
  a: { name: string; run: () => Promise<void> },
  b: { name: string; run: () => Promise<void> },
  opsPerRound: number,
  rounds = 9,
): Promise<[Measurement, Measurement]> {
  const [first, second] = await interleave([a, b], { opsPerRound, rounds });
  return [toMeasurement(first), toMeasurement(second)];
}

export function formatMeasurement(measurement: Measurement): string {
  return `${measurement.name.padEnd(58)} ${measurement.perOpUs.toFixed(2).padStart(9)} µs/op ${Math.round(measurement.opsPerSecond).toLocaleString("en-US").padStart(12)} ops/s`;
}

export function ratio(label: string, numerator: Measurement, denominator: Measurement): string {
  return `${label.padEnd(58)} ${(numerator.perOpUs / denominator.perOpUs).toFixed(3)}×`;
}

export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export interface Variant {
  name: string;
  run: () => Promise<void> | void;
}

export interface InterleavedResult {
  name: string;
  /** Wall time per operation over the rounds, in microseconds. */
  perOpUs: Stats;
  /** Each round's wall time per operation, in round order (µs). */
  roundsUs: number[];
  /**
   * CPU time (user + system, every thread of this process) per operation over the rounds (µs): a
   * neighbour that takes the CPU away lengthens wall time, not this.
   */
  cpuPerOpUs: Stats;
  roundsCpuUs: number[];
}

export interface InterleaveOptions {
  /** Operations one call of `run` performs, to turn round time into time per operation. */
  opsPerRound: number;
  rounds?: number;
  /** Untimed rounds of every variant first (JIT, caches). */
  warmupRounds?: number;
}

/**
 * Variants timed in turn, round by round: round r runs variant (r mod k) first, then the others in
 * order, so drift and a neighbour's burst land on all of them alike.
 */
export async function interleave(
  variants: readonly Variant[],
  { opsPerRound, rounds = 9, warmupRounds = 1 }: InterleaveOptions,
): Promise<InterleavedResult[]> {
  for (let round = 0; round < warmupRounds; round++) for (const variant of variants) await variant.run();
  const roundsUs: number[][] = variants.map(() => []);
  const roundsCpuUs: number[][] = variants.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let offset = 0; offset < variants.length; offset++) {
      const index = (round + offset) % variants.length;
      const cpuBefore = process.cpuUsage();
      const startNs = process.hrtime.bigint();
      await variants[index].run();
      const wallNs = process.hrtime.bigint() - startNs;
      const cpu = process.cpuUsage(cpuBefore);
      roundsUs[index].push(Number(wallNs) / 1_000 / opsPerRound);
      roundsCpuUs[index].push((cpu.user + cpu.system) / opsPerRound);
    }
  }
  return variants.map((variant, index) => ({
    name: variant.name,
    perOpUs: summarize(roundsUs[index]),
    roundsUs: roundsUs[index],
    cpuPerOpUs: summarize(roundsCpuUs[index]),
    roundsCpuUs: roundsCpuUs[index],
  }));
}

/** numerator / denominator per round (wall time, or CPU time): median and spread of the ratio itself. */
export function interleavedRatio(
  numerator: InterleavedResult,
  denominator: InterleavedResult,
  clock: "wall" | "cpu" = "wall",
): Stats {
  return clock === "wall"
    ? summarize(pairwiseRatios(numerator.roundsUs, denominator.roundsUs))
    : summarize(pairwiseRatios(numerator.roundsCpuUs, denominator.roundsCpuUs));
}

/** One variant's rounds (after one untimed round): `interleave` of one. */
export async function timeRounds(
  opsPerRound: number,
  rounds: number,
  loop: () => Promise<void> | void,
): Promise<InterleavedResult> {
  const [result] = await interleave([{ name: "", run: loop }], { opsPerRound, rounds });
  return result;
}
