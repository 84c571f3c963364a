import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.js";
import { canonicalBytes, canonicalDepthMax } from "../../src/evidence/canonical.js";

const text = (value: unknown) => canonicalBytes(value).toString("utf8");

/** Hex IEEE 754 bits and the JCS text RFC 8785 (Appendix B) gives for them. */
const rfcNumbers: [string, string][] = [
  ["0000000000000000", "0"],
  ["8000000000000000", "0"],
  ["0000000000000001", "5e-324"],
  ["8000000000000001", "-5e-324"],
  ["7fefffffffffffff", "1.7976931348623157e+308"],
  ["ffefffffffffffff", "-1.7976931348623157e+308"],
  ["4340000000000000", "9007199254740992"],
  ["c340000000000000", "-9007199254740992"],
  ["4430000000000000", "295147905179352830000"],
  ["44b52d02c7e14af5", "9.999999999999997e+22"],
  ["44b52d02c7e14af6", "1e+23"],
  ["44b52d02c7e14af7", "1.0000000000000001e+23"],
  ["444b1ae4d6e2ef4e", "999999999999999700000"],
  ["444b1ae4d6e2ef4f", "999999999999999900000"],
  ["444b1ae4d6e2ef50", "1e+21"],
  ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"],
  ["3eb0c6f7a0b5ed8d", "0.000001"],
  ["41b3de4355555553", "333333333.3333332"],
  ["41b3de4355555554", "333333333.33333325"],
  ["41b3de4355555555", "333333333.3333333"],
  ["41b3de4355555556", "333333333.3333334"],
  ["41b3de4355555557", "333333333.33333343"],
  ["becbf647612f3696", "-0.0000033333333333333333"],
  ["43143ff3c1cb0959", "1424953923781206.2"],
];

const numberOfBits = (hex: string) => Buffer.from(hex, "hex").readDoubleBE(0);

describe("canonicalBytes (RFC 8785)", () => {
  it.each(rfcNumbers)("writes the double %s as %s", (bits, expected) => {
    expect(text(numberOfBits(bits))).toBe(expected);
    expect(text([numberOfBits(bits)])).toBe(`[${expected}]`);
  });

  it("sorts keys by UTF-16 code units, as the RFC's example (3.2.3) orders them", () => {
    const input = {
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis",
    };
    const order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"] as const;
    const members = order.map((key) => `${JSON.stringify(key)}:${JSON.stringify(input[key])}`);
    expect(text(input)).toBe(`{${members.join(",")}}`);
  });

  it("writes the RFC's whole example (3.2.2) byte for byte", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalBytes(input).toString("hex")).toBe(
      Buffer.from(
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
        "utf8",
      ).toString("hex"),
    );
  });

  it("treats values without a JSON form as JSON.stringify does", () => {
    expect(text({ a: undefined, b: () => 1, c: Symbol("s"), d: 1 })).toBe('{"d":1}');
    expect(text([undefined, () => 1, Symbol("s")])).toBe("[null,null,null]");
    expect(text({ at: new Date(0), n: Object(5), s: Object("x"), t: Object(true) })).toBe(
      '{"at":"1970-01-01T00:00:00.000Z","n":5,"s":"x","t":true}',
    );
  });

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", { a: [Number.POSITIVE_INFINITY] }],
    ["a lone surrogate in a value", { a: "\ud800" }],
    ["a lone surrogate in a key", { "\udc00": 1 }],
    ["a BigInt", { a: 1n }],
  ])("has no canonical form for %s: a ValidationError naming the path", (_name, value) => {
    try {
      canonicalBytes(value, "event");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]).toMatchObject({ code: "not_canonical", path: "event" });
    }
  });

  it("refuses a cycle and nesting past its bound, and takes nesting up to it", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalBytes(cyclic)).toThrow(ValidationError);
    const nested = (depth: number) => {
      let value: unknown = 1;
      for (let level = 0; level < depth; level++) value = level % 2 ? [value] : { a: value };
      return value;
    };
    expect(() => canonicalBytes(nested(canonicalDepthMax))).not.toThrow();
    expect(() => canonicalBytes(nested(canonicalDepthMax + 1))).toThrow(/nested deeper/);
    expect(() => canonicalBytes(nested(100_000))).toThrow(ValidationError);
    expect(() => canonicalBytes(undefined)).toThrow(/no JSON representation/);
  });

  // The `canonicalize` package (npm, Apache-2.0), an implementation of the same RFC, as the reference.
  it("agrees byte for byte with the canonicalize package on arbitrary JSON values", () => {
    const key = fc.oneof(
      fc.string(),
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: "binary" }).filter((value) => value.isWellFormed()),
      fc.constantFrom("", "1", "10", "\u0080", "é", '"', "\\", "\n"),
    );
    const leaf = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.string({ unit: "grapheme" }),
      fc.string({ unit: "binary" }).filter((value) => value.isWellFormed()),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, leaf, tie("array"), tie("object")),
      array: fc.array(tie("node"), { maxLength: 6 }),
      // Up to 20 keys: past 16 the keys are sorted another way.
      object: fc.dictionary(key, tie("node"), { maxKeys: 20 }),
    })).node;
    fc.assert(
      fc.property(value, (input) => {
        const reference = canonicalize(input);
        if (reference === undefined) expect(() => canonicalBytes(input)).toThrow(ValidationError);
        else expect(text(input)).toBe(reference);
      }),
      { numRuns: 3_000 },
    );
    // Objects of many keys: sorted another way than the few keys most have.
    fc.assert(
      fc.property(fc.dictionary(key, leaf, { minKeys: 17, maxKeys: 40 }), (input) => {
        expect(text(input)).toBe(canonicalize(input));
      }),
      { numRuns: 300 },
    );
  });
});
