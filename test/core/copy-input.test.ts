import { describe, expect, it } from "vitest";
import { copyInput, inputDepthMax, inputFieldsMax, parseInput, setBudgetSchema } from "../../src/core/schemas.js";

const issuesOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as { code: string; issues: { code: string; path: string }[] }).issues.map(
      (issue) => `${issue.code} ${issue.path}`,
    );
  }
  throw new Error("expected a ValidationError");
};

describe("copyInput: what every public method validates is read once from the caller", () => {
  it("copies plain data, arrays included, into fresh objects", () => {
    const input = { scope: "tenant:acme", narrowing: [{ from: 0.5, disabledTiers: ["execution"] }] };
    const copy = copyInput(input) as typeof input;
    expect(copy).toEqual(input);
    expect(copy).not.toBe(input);
    expect(copy.narrowing).not.toBe(input.narrowing);
    expect(copy.narrowing[0].disabledTiers).not.toBe(input.narrowing[0].disabledTiers);
  });

  it("reads a getter once; what it answers later does not matter", () => {
    let reads = 0;
    const input = {
      scope: "tenant:acme",
      get limit() {
        reads++;
        return reads === 1 ? 100 : -5;
      },
    };
    expect(parseInput(setBudgetSchema, input)).toEqual({ scope: "tenant:acme", limit: 100 });
    expect(reads).toBe(1);
  });

  it("names the field whose getter, or whose Proxy's keys, throw", () => {
    const throwing = Object.defineProperty({}, "tenant", {
      enumerable: true,
      get() {
        throw new Error("boom");
      },
    });
    expect(issuesOf(() => copyInput({ subject: throwing }))).toEqual(["unreadable subject.tenant"]);
    const keysThrow = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("no keys");
        },
      },
    );
    expect(issuesOf(() => copyInput({ action: keysThrow }, "input"))).toEqual(["unreadable input.action"]);
  });

  it('keeps a "__proto__" key a field, which strict schemas refuse, never a prototype', () => {
    const input = JSON.parse('{"scope":"tenant:acme","limit":1,"__proto__":{"limit":5}}');
    const copy = copyInput(input) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.keys(copy)).toContain("__proto__");
    expect(issuesOf(() => parseInput(setBudgetSchema, input))).toEqual(["unrecognized_keys __proto__"]);
  });

  it("refuses nesting deeper than inputDepthMax and more than inputFieldsMax fields", () => {
    let deep: unknown = {};
    for (let level = 0; level < inputDepthMax; level++) deep = { next: deep };
    expect(issuesOf(() => copyInput(deep))[0]).toMatch(/^too_deep /);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(issuesOf(() => copyInput(cyclic))[0]).toMatch(/^too_deep /);
    expect(issuesOf(() => copyInput({ list: new Array(inputFieldsMax + 1).fill(0) }))).toEqual(["too_big list"]);
  });
});
