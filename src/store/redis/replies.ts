import { StoreReplyError } from "../../core/errors.js";

/**
 * Every script reply is checked before it becomes an outcome: a server that answers something else
 * (a proxy, a server that is not Redis, a reply cut short) gives a StoreReplyError, never an outcome
 * with NaN in it.
 *
 * Amounts from 9e15 up travel as decimal strings: the client parses RESP integers as
 * `n * 10 + digit`, which is not exact near 2^53 (9007199254740991 came back as ...992), while a
 * string is parsed exactly here. Below that, integer replies are exact and cheaper.
 */
export type Reply = readonly (string | number)[];

const digits = /^(0|[1-9][0-9]{0,15})$/;

export function arrayReply(raw: unknown, operation: string, lengthMin: number): Reply {
  if (!Array.isArray(raw)) throw new StoreReplyError(operation, `expected an array, got ${describe(raw)}`);
  if (raw.length < lengthMin)
    throw new StoreReplyError(operation, `expected at least ${lengthMin} items, got ${raw.length}`);
  for (const item of raw) {
    if (typeof item !== "string" && typeof item !== "number") {
      throw new StoreReplyError(operation, `expected strings and integers, got ${describe(item)}`);
    }
  }
  return raw as Reply;
}

/** A non-negative safe integer: a RESP integer below 9e15, a decimal string from there up. */
export function amountOf(value: unknown, operation: string, what: string): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === "string" && digits.test(value)) {
    const amount = Number(value);
    if (Number.isSafeInteger(amount)) return amount;
  }
  throw new StoreReplyError(operation, `${what} is not a safe non-negative integer: ${describe(value)}`);
}

export function textOf(value: unknown, operation: string, what: string): string {
  if (typeof value === "string") return value;
  throw new StoreReplyError(operation, `${what} is not a string: ${describe(value)}`);
}

export function oneOf<T extends string>(value: unknown, allowed: readonly T[], operation: string, what: string): T {
  if (typeof value === "string" && (allowed as readonly string[]).includes(value)) return value as T;
  throw new StoreReplyError(operation, `${what} is not one of ${allowed.join(", ")}: ${describe(value)}`);
}

/** A JSON object reply (outcomes of budget.set, extend, ...); `check` names what is missing, if anything. */
export function jsonReply<T>(
  raw: unknown,
  operation: string,
  check: (value: Record<string, unknown>) => string | undefined,
): T {
  if (typeof raw !== "string") throw new StoreReplyError(operation, `expected JSON text, got ${describe(raw)}`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new StoreReplyError(operation, `expected JSON, got ${describe(raw)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StoreReplyError(operation, `expected a JSON object, got ${describe(raw)}`);
  }
  const problem = check(value as Record<string, unknown>);
  if (problem) throw new StoreReplyError(operation, problem);
  return value as T;
}

/** For jsonReply: an `ok` outcome must carry these safe integer fields. */
export function okOutcome(...amounts: string[]): (value: Record<string, unknown>) => string | undefined {
  return (value) => {
    if (typeof value.ok !== "boolean") return "no ok field";
    if (value.ok === false) return typeof value.error === "string" ? undefined : "a failure without an error";
    for (const name of amounts) {
      if (!isAmount(value[name])) return `${name} is not a safe non-negative integer`;
    }
    return undefined;
  };
}

/** A balance as the balance script writes it (or null). */
export function checkBalance(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null) return "not a balance";
  const balance = value as Record<string, unknown>;
  if (typeof balance.scope !== "string" || typeof balance.unit !== "string") return "a balance without scope or unit";
  for (const name of ["allocated", "spent", "reserved", "debt"]) {
    if (!isAmount(balance[name])) return `balance.${name} is not a safe non-negative integer`;
  }
  if (!Number.isSafeInteger(balance.remaining)) return "balance.remaining is not a safe integer";
  return undefined;
}

function isAmount(value: unknown): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function describe(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : Array.isArray(value) ? "an array" : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
