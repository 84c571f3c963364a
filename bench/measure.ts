/** Tiny benchmark helpers: warm up, then take the median of several timed rounds. */

export interface Measurement {
  name: string;
  /** Median time per operation, in microseconds. */
  perOpUs: number;
  opsPerSecond: number;
}

export async function measure(
  name: string,
  opsPerRound: number,
  run: () => Promise<void>,
  rounds = 7,
): Promise<Measurement> {
  await run();
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const startNs = process.hrtime.bigint();
    await run();
    samples.push(Number(process.hrtime.bigint() - startNs) / 1_000 / opsPerRound);
  }
  samples.sort((a, b) => a - b);
  const perOpUs = samples[Math.floor(samples.length / 2)];
  return { name, perOpUs, opsPerSecond: 1_000_000 / perOpUs };
}

/**
 * Two variants measured round by round in turn (A, B, A, B, ...), so a noisy neighbour slows both
 * alike; each gets the median of its rounds.
 */
export async function measurePair(
  a: { name: string; run: () => Promise<void> },
  b: { name: string; run: () => Promise<void> },
  opsPerRound: number,
  rounds = 9,
): Promise<[Measurement, Measurement]> {
  await a.run();
  await b.run();
  const samples: [number[], number[]] = [[], []];
  for (let round = 0; round < rounds; round++) {
    for (const [index, variant] of [a, b].entries()) {
      const startNs = process.hrtime.bigint();
      await variant.run();
      samples[index].push(Number(process.hrtime.bigint() - startNs) / 1_000 / opsPerRound);
    }
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
  const toMeasurement = (name: string, values: number[]): Measurement => {
    const perOpUs = median(values);
    return { name, perOpUs, opsPerSecond: 1_000_000 / perOpUs };
  };
  return [toMeasurement(a.name, samples[0]), toMeasurement(b.name, samples[1])];
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
