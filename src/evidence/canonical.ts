import { createHash } from "node:crypto";
import { ValidationError } from "../core/errors.js";

/**
 * Nesting deeper than this has no canonical form here. Everything hashed is shallow (an event sits
 * three levels down a chain record); a bound keeps a hostile file from exhausting the stack, and a
 * cycle ends at it too.
 */
export const canonicalDepthMax = 256;

class NotCanonical extends Error {}

/**
 * RFC 8785 (JCS) canonical bytes: keys sorted by UTF-16 code units, numbers and strings as
 * ECMAScript's JSON.stringify writes them (which is what JCS specifies), no whitespace. Values
 * with no JSON form are treated as JSON.stringify treats them (dropped from objects, null in
 * arrays, `toJSON` and boxed primitives unwrapped). Everything the evidence layer hashes or signs
 * goes through here, so one value has one byte string everywhere (writer, store, verifier).
 */
export function canonicalBytes(value: unknown, path = "value"): Buffer {
  let text: string | undefined;
  try {
    text = canonicalText(value, 0);
  } catch (error) {
    // NaN, Infinity, a lone surrogate, a BigInt, a cycle or too deep: not JSON, so no canonical form.
    if (!(error instanceof NotCanonical || error instanceof TypeError || error instanceof RangeError)) throw error;
    throw new ValidationError([{ code: "not_canonical", path, message: error.message }], { cause: error });
  }
  if (text === undefined) {
    throw new ValidationError([{ code: "not_canonical", path, message: "has no JSON representation" }]);
  }
  return Buffer.from(text, "utf8");
}

/** The JCS text of a value, or undefined for one JSON.stringify would drop (undefined, a function, a symbol). */
function canonicalText(input: unknown, depth: number): string | undefined {
  let value = input;
  if (value !== null && typeof value === "object") {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") value = toJSON.call(value, "");
    if (value instanceof Number || value instanceof String || value instanceof Boolean) value = value.valueOf();
  }
  switch (typeof value) {
    case "string":
      return quoted(value);
    case "number":
      if (!Number.isFinite(value)) throw new NotCanonical(`${value} is not allowed`);
      // ECMAScript's Number::toString, as JCS specifies (and -0 as "0").
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      throw new NotCanonical("a BigInt is not allowed");
    case "object":
      break;
    default:
      return undefined;
  }
  if (value === null) return "null";
  if (depth >= canonicalDepthMax) throw new NotCanonical(`nested deeper than ${canonicalDepthMax} (or a cycle)`);
  if (Array.isArray(value)) {
    let out = "[";
    for (let index = 0; index < value.length; index++) {
      if (index > 0) out += ",";
      out += canonicalText(value[index], depth + 1) ?? "null";
    }
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  const keys = sortedKeys(object);
  let out = "{";
  for (const key of keys) {
    const member = canonicalText(object[key], depth + 1);
    if (member === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${quoted(key)}:${member}`;
  }
  return `${out}}`;
}

/** A string as JSON.stringify writes it; a string with nothing to escape is only wrapped in quotes (most are). */
function quoted(value: string): string {
  if (!value.isWellFormed()) throw new NotCanonical("a lone surrogate is not allowed");
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x22 || code === 0x5c) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/**
 * The own keys in UTF-16 code unit order (`<` on strings compares code units, as the default sort
 * does). Insertion sort for the few keys an object here has; the built-in sort beyond that.
 */
function sortedKeys(object: object): string[] {
  const keys = Object.keys(object);
  if (keys.length > 16) return keys.sort();
  for (let index = 1; index < keys.length; index++) {
    const key = keys[index];
    let at = index - 1;
    while (at >= 0 && keys[at] > key) {
      keys[at + 1] = keys[at];
      at--;
    }
    keys[at + 1] = key;
  }
  return keys;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export const sha256HexPattern = /^[0-9a-f]{64}$/;

/** A plain JSON object (not an array, not null). */
export type JsonObject = { [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
