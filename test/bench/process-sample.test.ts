import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { alternateProcesses, field, parseSampleOutput, sampleInFreshProcess } from "../../bench/process-sample.js";

const fixture = fileURLToPath(new URL("./fixtures/samples.ts", import.meta.url));

describe("one process per sample", () => {
  it("reads the last result line and ignores whatever else the child printed", () => {
    expect(parseSampleOutput('noise\nBENCH_SAMPLE {"a":1}\nmore\nBENCH_SAMPLE {"a":2,"b":"x"}\n')).toEqual({
      a: 2,
      b: Number.NaN,
    });
    expect(parseSampleOutput("no result here")).toBeUndefined();
    expect(parseSampleOutput("BENCH_SAMPLE [1]")).toBeUndefined();
  });

  it("runs the named export in a fresh node with --expose-gc and returns its result", async () => {
    const result = await sampleInFreshProcess({ name: "echo", module: fixture, exportName: "echo", args: { n: 21 } });
    expect(result).toMatchObject({ answer: 42, doubled: 42, exposedGc: 1 });
    expect(result.pid).not.toBe(process.pid);
  });

  it("rejects with the child's error when the sample throws or the export is missing", async () => {
    await expect(sampleInFreshProcess({ name: "bad", module: fixture, exportName: "fails" })).rejects.toThrow(
      /this sample fails on purpose/,
    );
    await expect(sampleInFreshProcess({ name: "none", module: fixture, exportName: "missing" })).rejects.toThrow(
      /exports no function missing/,
    );
  });

  it("does not wait for a handle the sample left open", async () => {
    await expect(
      sampleInFreshProcess({ name: "open", module: fixture, exportName: "leavesHandleOpen", timeoutMs: 20_000 }),
    ).resolves.toEqual({ done: 1 });
  });

  it("alternates the variants, each sample in its own process", async () => {
    const [a, b] = await alternateProcesses(
      [
        { name: "a", module: fixture, exportName: "echo", args: { n: 1 } },
        { name: "b", module: fixture, exportName: "echo", args: { n: 2 } },
      ],
      2,
    );
    expect(field(a, "doubled")).toEqual([2, 2]);
    expect(field(b, "doubled")).toEqual([4, 4]);
    const pids = [...field(a, "pid"), ...field(b, "pid")];
    expect(new Set(pids).size).toBe(4);
  });
});
