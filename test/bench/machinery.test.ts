import { afterEach, describe, expect, it } from "vitest";
import { benchCompareBase } from "../../bench/compare-base.js";
import { interleave, interleavedRatio, summarize } from "../../bench/measure.js";
import { allocatedBytesPerOp, heapGrowthPerOp } from "../../bench/memory.js";
import { parseBenchArgs } from "../../bench/options.js";

describe("interleaved rounds", () => {
  it("rotates which variant goes first each round, after the warm-up rounds", async () => {
    const order: string[] = [];
    const variant = (name: string) => ({ name, run: () => void order.push(name) });
    const results = await interleave([variant("a"), variant("b"), variant("c")], { opsPerRound: 1, rounds: 3 });
    expect(order.join("")).toBe("abc" + "abc" + "bca" + "cab");
    expect(
      results.map((result) => [result.name, result.roundsUs.length, result.perOpUs.n, result.roundsCpuUs.length]),
    ).toEqual([
      ["a", 3, 3, 3],
      ["b", 3, 3, 3],
      ["c", 3, 3, 3],
    ]);
  });

  it("takes a ratio round by round, on wall time or CPU time", () => {
    const result = (roundsUs: number[], roundsCpuUs: number[]) => ({
      name: "",
      roundsUs,
      roundsCpuUs,
      perOpUs: summarize(roundsUs),
      cpuPerOpUs: summarize(roundsCpuUs),
    });
    const pair = result([2, 4, 30], [1, 2, 3]);
    const bare = result([20, 20, 100], [10, 10, 10]);
    expect(interleavedRatio(pair, bare)).toMatchObject({ median: 0.2, min: 0.1, max: 0.3 });
    expect(interleavedRatio(pair, bare, "cpu")).toMatchObject({ median: 0.2, min: 0.1, max: 0.3 });
  });
});

describe("memory methods", () => {
  it("counts bytes allocated per operation, garbage included", async () => {
    const sink: unknown[] = new Array(64);
    // An array of 100 numbers: 32 bytes of JSArray and 16 + 800 of elements, 848 in all (64-bit heap).
    const perOp = await allocatedBytesPerOp(20_000, () => {
      for (let index = 0; index < 20_000; index++) sink[index & 63] = new Array(100).fill(index);
    });
    expect(perOp).toBeGreaterThan(800);
    expect(perOp).toBeLessThan(950);
  });

  it("fits the heap slope after the first checkpoint, flat or growing", () => {
    const flat = [0, 1, 2, 3].map((chunk) => ({ opsDone: (chunk + 1) * 1_000, heapBytes: chunk === 0 ? 10 : 5_000 }));
    expect(heapGrowthPerOp(flat)).toBe(0);
    const leaking = [1, 2, 3, 4].map((chunk) => ({ opsDone: chunk * 1_000, heapBytes: 7 + chunk * 1_000 * 48 }));
    expect(heapGrowthPerOp(leaking)).toBeCloseTo(48, 9);
    expect(heapGrowthPerOp(leaking.slice(0, 2))).toBeNaN();
  });
});

describe("bench command line", () => {
  const known = ["ledger", "redis"];

  it("defaults to three runs of the default sections", () => {
    expect(parseBenchArgs([], known)).toEqual({ sections: [], runs: 3, jsonPath: undefined, strict: false });
  });

  it("takes sections, --runs, --json and --strict, with = or a separate value", () => {
    expect(parseBenchArgs(["redis", "--runs", "5", "--json=out.json", "ledger", "--strict"], known)).toEqual({
      sections: ["redis", "ledger"],
      runs: 5,
      jsonPath: "out.json",
      strict: true,
    });
  });

  it("refuses what it does not know rather than running something else", () => {
    expect(() => parseBenchArgs(["ledgr"], known)).toThrow(/unknown section ledgr/);
    expect(() => parseBenchArgs(["--run", "3"], known)).toThrow(/unknown option --run/);
    expect(() => parseBenchArgs(["--runs", "0"], known)).toThrow(/--runs/);
    expect(() => parseBenchArgs(["--runs", "2.5"], known)).toThrow(/--runs/);
    expect(() => parseBenchArgs(["--json"], known)).toThrow(/--json needs a value/);
  });
});

describe("before / after", () => {
  const saved = process.env.BENCH_BASE_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.BENCH_BASE_DIR;
    else process.env.BENCH_BASE_DIR = saved;
  });

  it("skips, saying why, without BENCH_BASE_DIR or with a directory that is no checkout", async () => {
    delete process.env.BENCH_BASE_DIR;
    expect(await benchCompareBase()).toEqual([
      expect.stringMatching(/^compare-base: skipped, BENCH_BASE_DIR is not set/),
    ]);
    process.env.BENCH_BASE_DIR = "/nonexistent";
    expect(await benchCompareBase()).toEqual([
      "compare-base: skipped, /nonexistent has no src/ledger/create-ledger.ts",
    ]);
  });
});
