/**
 * Summary statistics for benchmark samples: median, interquartile range and full range.
 *
 * Quantiles interpolate linearly between order statistics (the common "type 7" definition), so the
 * median of an even count is the mean of the two middle values and q1/q3 move smoothly with n.
 * Benchmarks report the median (robust to one disturbed round) with both spreads: the IQR says how
 * steady the middle was, min–max says how bad the worst round was.
 */

export interface Stats {
  n: number;
  median: number;
  /** 25th percentile. */
  q1: number;
  /** 75th percentile. */
  q3: number;
  min: number;
  max: number;
}

/** The p-quantile (0 ≤ p ≤ 1) of values sorted ascending. */
export function quantileOfSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, p));
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

export function summarize(values: readonly number[]): Stats {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantileOfSorted(sorted, 0.5),
    q1: quantileOfSorted(sorted, 0.25),
    q3: quantileOfSorted(sorted, 0.75),
    min: sorted.length > 0 ? sorted[0] : Number.NaN,
    max: sorted.length > 0 ? sorted[sorted.length - 1] : Number.NaN,
  };
}

/** Element-wise a[i] / b[i]: the ratio within each interleaved round, where both saw the same load. */
export function pairwiseRatios(numerators: readonly number[], denominators: readonly number[]): number[] {
  const count = Math.min(numerators.length, denominators.length);
  return Array.from({ length: count }, (_, index) => numerators[index] / denominators[index]);
}

/** Digits that keep about three significant figures without printing noise. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude >= 1_000) return Math.round(value).toLocaleString("en-US");
  if (magnitude >= 100) return value.toFixed(0);
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** "1.05×", "12.3 µs": a ratio sign sticks to its number, other units are spaced. */
export function withUnit(text: string, unit: string): string {
  if (!unit) return text;
  return unit === "×" || unit === "%" ? `${text}${unit}` : `${text} ${unit}`;
}

/** "12.3 (IQR 11.9–12.8, range 11.5–13.4, n 9)". */
export function formatStats(stats: Stats, unit = ""): string {
  const suffix = withUnit("", unit);
  const f = formatNumber;
  return `${f(stats.median)}${suffix} (IQR ${f(stats.q1)}–${f(stats.q3)}, range ${f(stats.min)}–${f(stats.max)}, n ${stats.n})`;
}

/**
 * How far a cost grows beyond linear in a size (scope depth, say): the largest
 * (cost / first cost) / (size / first size) over the points. At most 1 is at most linear (1.6× the
 * cost for 6× the levels gives 0.27 at depth 6); flat in the size is cost / first cost near 1.
 */
export function worstOverLinear(points: readonly { size: number; cost: number }[]): number {
  if (points.length < 2) return Number.NaN;
  const [first] = points;
  return Math.max(...points.slice(1).map((point) => point.cost / first.cost / (point.size / first.size)));
}
