import { beforeEach, describe, expect, it } from "vitest";
import {
  beginSection,
  clearTargets,
  formatSummary,
  isMet,
  recordedTargets,
  summarizeTargets,
  target,
} from "../../bench/targets.js";

describe("bench targets", () => {
  beforeEach(() => clearTargets());

  it("judges each comparison, a NaN figure as not met, a report as neither", () => {
    expect(isMet(0.1, "<=", 0.1)).toBe(true);
    expect(isMet(0.1, "<", 0.1)).toBe(false);
    expect(isMet(6_000, ">=", 6_000)).toBe(true);
    expect(isMet(6_000, ">", 6_000)).toBe(false);
    expect(isMet(Number.NaN, "<=", 1)).toBe(false);
    expect(isMet(Number.NaN, ">=", 1)).toBe(false);
    expect(isMet(1, "<=", undefined)).toBe(false);
    expect(isMet(1, "report", undefined)).toBeUndefined();
  });

  it("records a figure under the section and run announced, and prints it with its verdict", () => {
    beginSection("ledger", 2);
    const line = target({ name: "pair / invoke", value: 0.25, unit: "×", comparison: "<=", limit: 0.1 });
    expect(line).toBe("pair / invoke: 0.250×  target ≤ 0.100×  NOT MET");
    expect(recordedTargets()).toMatchObject([{ section: "ledger", run: 2, name: "pair / invoke", met: false }]);
    expect(target({ name: "idle budget", value: 855, unit: "bytes", comparison: "<", limit: 1_024 })).toBe(
      "idle budget: 855 bytes  target < 1,024 bytes  met",
    );
    expect(target({ name: "sign a receipt", value: 89, unit: "µs", comparison: "report" })).toBe(
      "sign a receipt: 89.0 µs",
    );
  });

  it("copies the spread it was given, so a later change by the caller does not rewrite the record", () => {
    const spread = { n: 3, median: 1, q1: 0.9, q3: 1.1, min: 0.8, max: 1.2 };
    const line = target({ name: "x", value: 1, unit: "×", comparison: "<=", limit: 1.1, spread });
    spread.max = 99;
    expect(recordedTargets()[0].spread?.max).toBe(1.2);
    expect(line).toBe("x: 1.00× (IQR 0.900–1.10, range 0.800–1.20)  target ≤ 1.10×  met");
  });

  it("summarizes over runs by the median, counting the runs that met the limit alone", () => {
    for (const [run, value] of [0.12, 0.08, 0.09].entries()) {
      beginSection("ledger", run + 1);
      target({ name: "pair / invoke", value, unit: "×", comparison: "<=", limit: 0.1 });
      beginSection("redis", run + 1);
      target({ name: "pairs/s", value: 5_000 + run, unit: "pairs/s", comparison: ">=", limit: 6_000 });
    }
    const [ledger, redis] = summarizeTargets(recordedTargets());
    expect(ledger).toMatchObject({ section: "ledger", values: [0.12, 0.08, 0.09], met: true, runsMet: 2 });
    expect(ledger.overRuns).toMatchObject({ median: 0.09, min: 0.08, max: 0.12 });
    expect(redis).toMatchObject({ section: "redis", met: false, runsMet: 0 });

    const table = formatSummary([ledger, redis]);
    expect(table[1]).toMatch(/^ledger: pair \/ invoke +0\.090× +0\.080–0\.120 +≤ 0\.100× +met +2\/3 runs$/);
    expect(table[2]).toContain("NOT MET");
    expect(table.at(-1)).toBe("1 of 2 targets met; not met: 1");
  });

  it("leaves report-only figures out of the count", () => {
    target({ name: "sign", value: 89, unit: "µs", comparison: "report" });
    target({ name: "idle", value: 855, unit: "bytes", comparison: "<", limit: 1_024 });
    expect(formatSummary(summarizeTargets(recordedTargets())).at(-1)).toBe("1 of 1 targets met");
  });
});
