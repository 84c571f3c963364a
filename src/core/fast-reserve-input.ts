import { actionNameLengthMax, idempotencyKeyLengthMax, reservationTtlMsMax, runIdLengthMax } from "./limits.js";
import { overagePolicies, type ReserveInput } from "./schemas.js";
import { SCOPE_LEVELS, scopeValueLengthMax, scopeValuePattern } from "./scope.js";
import { isTier } from "./tiers.js";
import { isAmount, isUnit } from "./units.js";

const reserveKeys = new Set([
  "subject",
  "action",
  "estimate",
  "unit",
  "runId",
  "idempotencyKey",
  "ttlMs",
  "overagePolicy",
  "actor",
]);
const actionKeys = new Set(["name", "tier", "kind"]);

/**
 * The reserve hot path's validation: the same rules as `reserveSchema` checked by hand, plus the
 * canonical scope id built in the same pass. Returns undefined on anything unusual, and the caller
 * then runs the zod schema, which produces the error that names every bad field.
 */
export function fastReserveInput(input: unknown): { input: ReserveInput; scopeId: string } | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const candidate = input as Record<string, unknown>;
  for (const key in candidate) if (!reserveKeys.has(key)) return undefined;
  if (!isAmount(candidate.estimate)) return undefined;
  const { subject, action } = candidate as { subject?: Record<string, unknown>; action?: Record<string, unknown> };
  if (typeof subject !== "object" || subject === null || typeof action !== "object" || action === null)
    return undefined;
  let scopeId = "";
  let levels = 0;
  for (const level of SCOPE_LEVELS) {
    const value = subject[level];
    if (value === undefined) continue;
    if (typeof value !== "string" || value.length > scopeValueLengthMax || !scopeValuePattern.test(value))
      return undefined;
    scopeId = levels === 0 ? `${level}:${value}` : `${scopeId}/${level}:${value}`;
    levels++;
  }
  if (subject.tenant === undefined) return undefined;
  for (const key in subject)
    if (subject[key] !== undefined && !(SCOPE_LEVELS as readonly string[]).includes(key)) return undefined;
  for (const key in action) if (!actionKeys.has(key)) return undefined;
  if (!isShortString(action.name, actionNameLengthMax) || !isTier(action.tier)) return undefined;
  if (action.kind !== undefined && !isShortString(action.kind, actionNameLengthMax)) return undefined;
  if (candidate.unit !== undefined && !isUnit(candidate.unit)) return undefined;
  if (candidate.runId !== undefined && !isShortString(candidate.runId, runIdLengthMax)) return undefined;
  if (candidate.idempotencyKey !== undefined && !isShortString(candidate.idempotencyKey, idempotencyKeyLengthMax)) {
    return undefined;
  }
  if (candidate.actor !== undefined && !isShortString(candidate.actor, actionNameLengthMax)) return undefined;
  const { ttlMs, overagePolicy } = candidate;
  if (
    ttlMs !== undefined &&
    !(Number.isSafeInteger(ttlMs) && (ttlMs as number) >= 1 && (ttlMs as number) <= reservationTtlMsMax)
  ) {
    return undefined;
  }
  if (overagePolicy !== undefined && !(overagePolicies as readonly unknown[]).includes(overagePolicy)) return undefined;
  return { input: candidate as ReserveInput, scopeId };
}

function isShortString(value: unknown, lengthMax: number): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= lengthMax;
}
