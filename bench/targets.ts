/**
 * Targets: a measured figure against its limit, met or not met.
 *
 * A section calls `target({ name, value, unit, comparison, limit })` once per figure and run; it
 * records the figure (under the section and run `bench/run.ts` announced with `beginSection`) and
 * returns the line to print. At the end, `summarizeTargets` groups the records by section and name
 * across runs: the figure is the median of the runs' values, with their range, and it is met when
 * that median meets the limit (how many runs met it alone is shown too). `comparison: "report"`
 * records a figure that has no limit; it is printed, never met or not met.
 */
import { formatNumber, type Stats, summarize, withUnit } from "./stats.js";

export type Comparison = "<=" | "<" | ">=" | ">" | "report";

export interface TargetSpec {
  /** Stable across runs: records with the same section and name are one figure. */
  name: string;
  value: number;
  /** "µs", "×", "bytes", "pairs/s", ... */
  unit: string;
  comparison: Comparison;
  /** Ignored for "report". */
  limit?: number;
  /** The spread behind `value` within this run (interleaved rounds, processes), shown beside it. */
  spread?: Stats;
  /** How it was measured, briefly; printed in the summary. */
  method?: string;
}

export interface TargetRecord extends TargetSpec {
  section: string;
  run: number;
  /** Undefined for "report". */
  met: boolean | undefined;
}

/** Fails closed: a figure that could not be measured (NaN) is not met. */
export function isMet(value: number, comparison: Comparison, limit: number | undefined): boolean | undefined {
  if (comparison === "report") return undefined;
  if (limit === undefined || Number.isNaN(value) || Number.isNaN(limit)) return false;
  switch (comparison) {
    case "<=":
      return value <= limit;
    case "<":
      return value < limit;
    case ">=":
      return value >= limit;
    case ">":
      return value > limit;
  }
}

const sign: Record<Exclude<Comparison, "report">, string> = { "<=": "≤", "<": "<", ">=": "≥", ">": ">" };

/** "≤ 0.10×", or "report". */
export function formatLimit(comparison: Comparison, limit: number | undefined, unit: string): string {
  if (comparison === "report" || limit === undefined) return "report";
  return `${sign[comparison]} ${withUnit(formatNumber(limit), unit)}`;
}

export function verdict(met: boolean | undefined): string {
  if (met === undefined) return "";
  return met ? "met" : "NOT MET";
}

const records: TargetRecord[] = [];
let current = { section: "(none)", run: 1 };

/** Called by the runner before each section, so records know where they came from. */
export function beginSection(section: string, run: number): void {
  current = { section, run };
}

/** Records a figure against its limit; returns its line ("name: value (spread)  target ≤ x  met"). */
export function target(spec: TargetSpec): string {
  const record: TargetRecord = {
    ...spec,
    spread: spec.spread ? { ...spec.spread } : undefined,
    section: current.section,
    run: current.run,
    met: isMet(spec.value, spec.comparison, spec.limit),
  };
  records.push(record);
  return formatTargetLine(record);
}

export function formatTargetLine(record: TargetRecord): string {
  const spread = record.spread
    ? ` (IQR ${formatNumber(record.spread.q1)}–${formatNumber(record.spread.q3)}, range ${formatNumber(record.spread.min)}–${formatNumber(record.spread.max)})`
    : "";
  const limit = formatLimit(record.comparison, record.limit, record.unit);
  const end = record.comparison === "report" ? "" : `  target ${limit}  ${verdict(record.met)}`;
  return `${record.name}: ${withUnit(formatNumber(record.value), record.unit)}${spread}${end}`;
}

/** Every record so far, in order. */
export function recordedTargets(): readonly TargetRecord[] {
  return records;
}

/** For tests: forget every record. */
export function clearTargets(): void {
  records.length = 0;
  current = { section: "(none)", run: 1 };
}

export interface TargetSummary {
  section: string;
  name: string;
  unit: string;
  comparison: Comparison;
  limit: number | undefined;
  method: string | undefined;
  /** One value per run that measured it, in run order. */
  values: number[];
  /** Over the runs: median and range. */
  overRuns: Stats;
  /** The median over runs meets the limit (undefined for "report"). */
  met: boolean | undefined;
  /** Runs whose own value met the limit. */
  runsMet: number;
}

/** Groups records by section and name, in first-seen order; the limit and unit of the first record hold. */
export function summarizeTargets(all: readonly TargetRecord[]): TargetSummary[] {
  const groups = new Map<string, TargetRecord[]>();
  for (const record of all) {
    const key = `${record.section}\u0000${record.name}`;
    const group = groups.get(key);
    if (group) group.push(record);
    else groups.set(key, [record]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0];
    const values = group.map((record) => record.value);
    const overRuns = summarize(values);
    return {
      section: first.section,
      name: first.name,
      unit: first.unit,
      comparison: first.comparison,
      limit: first.limit,
      method: first.method,
      values,
      overRuns,
      met: isMet(overRuns.median, first.comparison, first.limit),
      runsMet: group.filter((record) => record.met === true).length,
    };
  });
}

/** The final table: one row per figure, median and range over runs, limit, met / not met. */
export function formatSummary(summaries: readonly TargetSummary[]): string[] {
  const rows = summaries.map((summary) => {
    const range =
      summary.values.length > 1
        ? `${formatNumber(summary.overRuns.min)}–${formatNumber(summary.overRuns.max)}`
        : "(one run)";
    const runs = summary.met === undefined ? "" : `${summary.runsMet}/${summary.values.length} runs`;
    return [
      `${summary.section}: ${summary.name}`,
      withUnit(formatNumber(summary.overRuns.median), summary.unit),
      range,
      formatLimit(summary.comparison, summary.limit, summary.unit),
      verdict(summary.met),
      runs,
    ];
  });
  const header = ["figure", "median", "range over runs", "target", "", "runs met"];
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column])))
      .join("  ")
      .trimEnd();
  const judged = summaries.filter((summary) => summary.met !== undefined);
  const met = judged.filter((summary) => summary.met).length;
  return [
    line(header),
    ...rows.map(line),
    `${met} of ${judged.length} targets met${judged.length > met ? `; not met: ${judged.filter((summary) => !summary.met).length}` : ""}`,
  ];
}
