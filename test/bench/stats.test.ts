import { describe, expect, it } from "vitest";
import {
  formatNumber,
  formatStats,
  pairwiseRatios,
  quantileOfSorted,
  summarize,
  withUnit,
  worstOverLinear,
} from "../../bench/stats.js";

describe("bench statistics", () => {
  it("takes the median, quartiles and range of an odd count", () => {
    expect(summarize([5, 1, 3, 2, 4])).toEqual({ n: 5, median: 3, q1: 2, q3: 4, min: 1, max: 5 });
  });

  it("interpolates the median and quartiles of an even count", () => {
    expect(summarize([4, 1, 3, 2])).toEqual({ n: 4, median: 2.5, q1: 1.75, q3: 3.25, min: 1, max: 4 });
  });

  it("drops NaN samples and answers NaN for none at all", () => {
    expect(summarize([Number.NaN, 2, 4]).median).toBe(3);
    const empty = summarize([]);
    expect(empty.n).toBe(0);
    expect(empty.median).toBeNaN();
    expect(empty.min).toBeNaN();
  });

  it("does not reorder the caller's samples", () => {
    const samples = [3, 1, 2];
    summarize(samples);
    expect(samples).toEqual([3, 1, 2]);
  });

  it("clamps quantiles outside 0..1 to the ends", () => {
    expect(quantileOfSorted([1, 2, 3], -1)).toBe(1);
    expect(quantileOfSorted([1, 2, 3], 2)).toBe(3);
  });

  it("divides round by round, up to the shorter list", () => {
    expect(pairwiseRatios([2, 9, 4], [1, 3])).toEqual([2, 3]);
  });

  it("measures growth beyond linear against the first point", () => {
    expect(
      worstOverLinear([
        { size: 1, cost: 72 },
        { size: 3, cost: 90 },
        { size: 6, cost: 115 },
      ]),
    ).toBeCloseTo(90 / 72 / 3, 9);
    expect(
      worstOverLinear([
        { size: 1, cost: 10 },
        { size: 2, cost: 30 },
      ]),
    ).toBe(1.5);
    expect(worstOverLinear([{ size: 1, cost: 10 }])).toBeNaN();
  });

  it("prints about three significant figures and units in their place", () => {
    expect(formatNumber(0.0987)).toBe("0.099");
    expect(formatNumber(4.5)).toBe("4.50");
    expect(formatNumber(12.34)).toBe("12.3");
    expect(formatNumber(123.4)).toBe("123");
    expect(formatNumber(12_345.6)).toBe("12,346");
    expect(withUnit("1.05", "×")).toBe("1.05×");
    expect(withUnit("12", "µs")).toBe("12 µs");
    expect(formatStats(summarize([1, 2, 3]), "µs")).toBe("2.00 µs (IQR 1.50–2.50, range 1.00–3.00, n 3)");
  });
});
