import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { ValidationError } from "../core/errors.js";

/**
 * RFC 8785 (JCS) canonical bytes, by the maintained `canonicalize` package: keys sorted by UTF-16
 * code units, numbers in ECMAScript form, no whitespace. Everything the evidence layer hashes or
 * signs goes through here, so one value has one byte string everywhere (writer, store, verifier).
 */
export function canonicalBytes(value: unknown, path = "value"): Buffer {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (error) {
    // NaN, Infinity, a lone surrogate or a cycle: not JSON, so it has no canonical form.
    throw new ValidationError([{ code: "not_canonical", path, message: (error as Error).message }], { cause: error });
  }
  if (text === undefined) {
    throw new ValidationError([{ code: "not_canonical", path, message: "has no JSON representation" }]);
  }
  return Buffer.from(text, "utf8");
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
