import { InvariantError } from "./errors.js";

/** Units a budget can be denominated in. USD_MICROCENTS is 1e-8 USD, so money stays integral. */
export const UNITS = ["RISK_POINTS", "USD_MICROCENTS", "TOKENS", "CREDITS"] as const;
export type Unit = (typeof UNITS)[number];
export const unitDefault: Unit = "RISK_POINTS";

export function isUnit(value: unknown): value is Unit {
  return typeof value === "string" && (UNITS as readonly string[]).includes(value);
}

/** Amounts are safe, non-negative integers: no NaN, no fractions, nothing past 2^53 - 1. */
export function isAmount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** For a number a store is about to write or has just read: anything but an amount is an InvariantError. */
export function assertAmount(value: unknown, what: string): asserts value is number {
  if (!isAmount(value)) throw new InvariantError(`${what} is a safe integer >= 0 (got ${String(value)})`);
}
