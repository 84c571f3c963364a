import { describe, expect, it } from "vitest";
import { instructionsInDump, newestDump } from "../../bench/redis-instructions.js";

describe("reading callgrind dumps", () => {
  it("takes the instruction total of a dump", () => {
    expect(instructionsInDump("version: 1\ncmd: redis-server\nevents: Ir\nsummary: 331234567\n")).toBe(331234567);
    expect(instructionsInDump("events: Ir\ntotals: 42\n")).toBe(42);
    expect(() => instructionsInDump("events: Ir\n")).toThrow(/no instruction total/);
    expect(() => instructionsInDump("summary: lots\n")).toThrow(/no instruction total/);
  });

  it("finds the dump written last by its number, not by its name's order", () => {
    expect(newestDump(["cg.out", "cg.out.2", "cg.out.10", "cg.out.9", "other.3"], "cg.out")).toBe("cg.out.10");
    expect(newestDump(["cg.out", "cg.out.x"], "cg.out")).toBeUndefined();
  });
});
