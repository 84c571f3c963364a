import { describe, expect, it } from "vitest";
import { withKey } from "../../../src/integrations/shared/with-key.js";

describe("withKey", () => {
  it("has the own keys and values of the spread, for a new key and for one the source has", () => {
    const subject = { tenant: "acme", agent: "bot" };
    expect(withKey(subject, "toolset", "email")).toEqual({ ...subject, toolset: "email" });
    expect(withKey({ ...subject, toolset: "old" }, "toolset", "email")).toEqual({ ...subject, toolset: "email" });
    expect(subject).toEqual({ tenant: "acme", agent: "bot" });
  });

  it("copies own keys only, symbols included, and reads a getter once, as the spread does", () => {
    let reads = 0;
    const symbol = Symbol("s");
    const source = Object.create(
      { inherited: 1 },
      {
        counted: { enumerable: true, get: () => ++reads },
        [symbol]: { enumerable: true, value: "v" },
      },
    );
    const copy = withKey(source as Record<string, unknown>, "added", true) as Record<string | symbol, unknown>;
    expect(Object.keys(copy).sort()).toEqual(["added", "counted"]);
    expect(copy[symbol]).toBe("v");
    expect(reads).toBe(1);
  });

  it("a missing source spreads to nothing", () => {
    expect(withKey(undefined, "metadata", { a: 1 })).toEqual({ metadata: { a: 1 } });
    expect(withKey(null, "metadata", { a: 1 })).toEqual({ metadata: { a: 1 } });
  });

  it("an own __proto__ key stays a plain own key, never a prototype", () => {
    const hostile = JSON.parse('{"__proto__": {"tenant": "victim"}, "agent": "bot"}') as Record<string, unknown>;
    const copy = withKey(hostile, "toolset", "email") as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy.tenant).toBeUndefined();
  });
});
