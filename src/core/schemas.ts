import { z } from "zod";
import { ValidationError, type ValidationIssue } from "./errors.js";
import {
  actionNameLengthMax,
  auditQueryLimitMax,
  idempotencyKeyLengthMax,
  reservationIdLengthMax,
  reservationTtlMsMax,
  runIdLengthMax,
} from "./limits.js";
import { parseScopeId, scopeValueLengthMax, scopeValuePattern } from "./scope.js";
import { TIERS } from "./tiers.js";
import { UNITS } from "./units.js";
import { WINDOWS } from "./windows.js";

const amount = z
  .number()
  .int("must be an integer")
  .nonnegative("must not be negative")
  .refine(Number.isSafeInteger, "must be a safe integer");
const scopeValue = z
  .string()
  .min(1, "must not be empty")
  .max(scopeValueLengthMax, `must be at most ${scopeValueLengthMax} characters`)
  .regex(scopeValuePattern, "may only contain A-Z a-z 0-9 _ . -");

export const subjectSchema = z.strictObject({
  tenant: scopeValue,
  workspace: scopeValue.optional(),
  app: scopeValue.optional(),
  workflow: scopeValue.optional(),
  agent: scopeValue.optional(),
  toolset: scopeValue.optional(),
});

const scopeId = z.string().superRefine((value, ctx) => {
  try {
    parseScopeId(value);
  } catch (error) {
    for (const issue of (error as ValidationError).issues ?? [])
      ctx.addIssue({ code: "custom", message: issue.message });
  }
});
const unit = z.enum(UNITS);
const idempotencyKey = z.string().min(1).max(idempotencyKeyLengthMax);
const runId = z.string().min(1).max(runIdLengthMax);
const band = z.object({ from: z.number(), disabledTiers: z.array(z.enum(TIERS)) });

export const overagePolicies = ["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"] as const;
export type OveragePolicy = (typeof overagePolicies)[number];

export const setBudgetSchema = z.strictObject({
  scope: scopeId,
  limit: amount,
  unit: unit.optional(),
  window: z.enum(WINDOWS).optional(),
  narrowing: z.union([z.literal("none"), z.literal("progressive"), z.array(band)]).optional(),
  overdraftLimit: amount.optional(),
  idempotencyKey: idempotencyKey.optional(),
});

export const removeBudgetSchema = z.strictObject({
  scope: scopeId,
  unit: unit.optional(),
  idempotencyKey: idempotencyKey.optional(),
});

export const actionSchema = z.strictObject({
  name: z.string().min(1).max(actionNameLengthMax),
  tier: z.enum(TIERS),
  kind: z.string().min(1).max(actionNameLengthMax).optional(),
});

export const reserveSchema = z.strictObject({
  subject: subjectSchema,
  action: actionSchema,
  estimate: amount,
  unit: unit.optional(),
  runId: runId.optional(),
  idempotencyKey: idempotencyKey.optional(),
  ttlMs: z.number().int().min(1).max(reservationTtlMsMax).optional(),
  overagePolicy: z.enum(overagePolicies).optional(),
  /** Who asked, for the audit log (an approver, a user id). */
  actor: z.string().min(1).max(actionNameLengthMax).optional(),
});

export const commitSchema = z.strictObject({
  actual: amount.optional(),
  idempotencyKey: idempotencyKey.optional(),
  actor: z.string().min(1).max(actionNameLengthMax).optional(),
});

export const releaseSchema = z.strictObject({
  idempotencyKey: idempotencyKey.optional(),
  reason: z.string().max(256).optional(),
  actor: z.string().min(1).max(actionNameLengthMax).optional(),
});
export const extendSchema = z.strictObject({
  ttlMs: z.number().int().min(1).max(reservationTtlMsMax),
  idempotencyKey: idempotencyKey.optional(),
});
export const balanceQuerySchema = z.strictObject({ scope: scopeId, unit: unit.optional(), runId: runId.optional() });
export const repayDebtSchema = z.strictObject({
  scope: scopeId,
  amount,
  unit: unit.optional(),
  runId: runId.optional(),
  idempotencyKey: idempotencyKey.optional(),
});
export const auditQuerySchema = z.strictObject({
  scope: scopeId.optional(),
  limit: z.number().int().min(1).max(auditQueryLimitMax).optional(),
  decision: z.enum(["ALLOW", "ALLOW_WITH_CAPS", "DENY"]).optional(),
  type: z.string().optional(),
  action: z.string().optional(),
  sinceMs: z.number().int().nonnegative().optional(),
  untilMs: z.number().int().nonnegative().optional(),
  afterSeq: z.number().int().nonnegative().optional(),
});
/** `ledger.receipt()`: a scope of the tenant (its tenant's chain) and the event's seq there (`auditSeq`). */
export const receiptQuerySchema = z.strictObject({
  scope: scopeId,
  seq: z
    .number()
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .refine(Number.isSafeInteger, "must be a safe integer"),
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, "must be a W3C trace id (32 lowercase hex)")
    .optional(),
});
export const decideReceiptSchema = z.strictObject({
  decide: z.unknown(),
  traceId: receiptQuerySchema.shape.traceId,
});
export const approvalOutcomes = ["approved", "rejected", "timed-out"] as const;
export const recordApprovalSchema = z.strictObject({
  subject: subjectSchema,
  action: actionSchema,
  outcome: z.enum(approvalOutcomes),
  unit: unit.optional(),
  runId: runId.optional(),
  actor: z.string().min(1).max(actionNameLengthMax).optional(),
  detail: z.string().max(1_024).optional(),
});
export const reservationIdSchema = z.string().min(1).max(reservationIdLengthMax);
/** One tenant's hierarchy (a scope and beneath it), or every tenant's budgets only when asked outright. */
export const listBudgetsSchema = z
  .strictObject({ scope: scopeId.optional(), allTenants: z.literal(true).optional() })
  .superRefine((query, ctx) => {
    if (query.scope === undefined && query.allTenants === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["scope"],
        message: "is required (or allTenants: true to list every tenant's budgets)",
      });
    } else if (query.scope !== undefined && query.allTenants !== undefined) {
      ctx.addIssue({ code: "custom", path: ["allTenants"], message: "cannot be combined with a scope" });
    }
  });

export type SetBudgetInput = z.input<typeof setBudgetSchema>;
export type RemoveBudgetInput = z.input<typeof removeBudgetSchema>;
export type ReserveInput = z.input<typeof reserveSchema>;
export type ActionInput = z.input<typeof actionSchema>;
export type CommitInput = z.input<typeof commitSchema>;
export type ReleaseInput = z.input<typeof releaseSchema>;
export type ExtendInput = z.input<typeof extendSchema>;
export type BalanceQuery = z.input<typeof balanceQuerySchema>;
export type RepayDebtInput = z.input<typeof repayDebtSchema>;
export type AuditQuery = z.input<typeof auditQuerySchema>;
export type ReceiptInput = z.input<typeof receiptQuerySchema>;
/** `ledger.receipt({ decide })`: decide() and sign its answer (a dry run writes no audit event to point at). */
export interface DecideReceiptInput {
  decide: ReserveInput;
  traceId?: string;
}
export type RecordApprovalInput = z.input<typeof recordApprovalSchema>;
export type ListBudgetsQuery = { scope: string; allTenants?: undefined } | { allTenants: true; scope?: undefined };

/**
 * Parses public input; on failure throws a ValidationError naming every bad field, before any change.
 * The schema sees a copy read once from the caller's value (see copyInput), and what it returns is
 * a fresh object: nothing the caller does to its own object afterwards reaches the ledger.
 */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, root = ""): z.output<T> {
  const result = schema.safeParse(copyInput(value, root));
  if (result.success) return result.data;
  throw new ValidationError(result.error.issues.flatMap((issue) => toIssues(issue, root)));
}

function toIssues(issue: z.core.$ZodIssue, root: string): ValidationIssue[] {
  const at = (parts: PropertyKey[]) => [root, ...parts.map(String)].filter((part) => part !== "").join(".");
  // An unknown field is named by its own path, so a misspelt option reads as `remeber: unknown field`.
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({ code: issue.code, path: at([...issue.path, key]), message: "unknown field" }));
  }
  return [{ code: issue.code, path: at(issue.path), message: issue.message }];
}

/** Public inputs are small records: deeper nesting or more fields than this is refused, not read. */
export const inputDepthMax = 8;
export const inputFieldsMax = 10_000;
const unreadableMessageLengthMax = 200;

/**
 * Plain data read out of a caller's value in one synchronous pass: every own enumerable property
 * (and array element) is read exactly once, so a getter or a Proxy cannot answer one thing to the
 * check and another to the use. A read that throws is a ValidationError naming the field.
 */
export function copyInput(value: unknown, root = ""): unknown {
  if (typeof value !== "object" || value === null) return value;
  return copyValue(value, root, 0, { fields: 0 });
}

function copyValue(item: unknown, path: string, depth: number, count: { fields: number }): unknown {
  if (typeof item !== "object" || item === null) return item;
  // Only data is copied: an instance (a Ledger, a tool, a message passed as an option) is handed on
  // as itself, for its schema to accept or refuse.
  if (!isDataObject(item, path)) return item;
  if (depth >= inputDepthMax) refuse("too_deep", path, `is nested more than ${inputDepthMax} levels deep`);
  const array = Array.isArray(item);
  let keys: readonly string[] | undefined;
  let length = 0;
  try {
    if (array) length = (item as unknown[]).length;
    else keys = Object.keys(item);
  } catch (error) {
    refuse("unreadable", path, unreadable(error), error);
  }
  if (keys) length = keys.length;
  if (!Number.isSafeInteger(length) || length < 0) refuse("unreadable", path, "has no valid length");
  count.fields += length;
  if (count.fields > inputFieldsMax) refuse("too_big", path, `has more than ${inputFieldsMax} fields in all`);
  const out: Record<string, unknown> | unknown[] = array ? [] : {};
  for (let index = 0; index < length; index++) {
    const key = keys ? keys[index] : String(index);
    let field: unknown;
    try {
      field = (item as Record<string, unknown>)[key];
    } catch (error) {
      refuse("unreadable", path === "" ? key : `${path}.${key}`, unreadable(error), error);
    }
    const copied =
      typeof field === "object" && field !== null
        ? copyValue(field, path === "" ? key : `${path}.${key}`, depth + 1, count)
        : field;
    // A "__proto__" key stays a field (which strict schemas refuse), never a prototype.
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value: copied, enumerable: true, writable: true, configurable: true });
    } else {
      (out as Record<string, unknown>)[key] = copied;
    }
  }
  return out;
}

function isDataObject(item: object, path: string): boolean {
  if (Array.isArray(item)) return true;
  let prototype: unknown;
  try {
    prototype = Object.getPrototypeOf(item);
  } catch (error) {
    refuse("unreadable", path, unreadable(error), error);
  }
  return prototype === Object.prototype || prototype === null;
}

function refuse(code: string, path: string, message: string, cause?: unknown): never {
  throw new ValidationError([{ code, path, message }], { cause });
}

function unreadable(error: unknown): string {
  let message: string;
  try {
    message = error instanceof Error ? String(error.message) : String(error);
  } catch {
    message = "the value threw";
  }
  return `could not be read: ${message.slice(0, unreadableMessageLengthMax)}`;
}
