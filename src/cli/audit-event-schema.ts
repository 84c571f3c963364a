import { z } from "zod";
import { DECISIONS, REASON_CODES } from "../core/decision.js";
import type { ValidationError, ValidationIssue } from "../core/errors.js";
import { actionNameLengthMax, runIdLengthMax } from "../core/limits.js";
import { bandsMax, resolveNarrowing } from "../core/narrowing.js";
import { parseScopeId } from "../core/scope.js";
import { TIERS } from "../core/tiers.js";
import { UNITS } from "../core/units.js";
import { WINDOWS } from "../core/windows.js";
import { AUDIT_EVENT_TYPES, type AuditEvent, type BudgetDefinition } from "../store/types.js";

/**
 * The one schema of an audit event and of a budget line, for every reader of an audit export
 * (`audit --from`, `--follow` on a file, `report --from`). An export is a file anyone can edit, so
 * every field is checked: a number is a safe integer, a name is a bounded string, a scope is a
 * scope, a decision or reason is one the ledger gives; unknown fields are refused.
 */

/** Budgets one event reports balances for: every scope level, with room for approval grants. */
export const auditBalancesPerEventMax = 32;
/** Tools named in a cap's allow or deny list. */
export const auditCapToolsMax = 1_000;
/** Free text of an event (a release reason, an approval's note) and reservation ids. */
export const auditTextLengthMax = 1_024;

const safeInteger = z.number().refine(Number.isSafeInteger, "must be a safe integer");
const amount = safeInteger.refine((value) => value >= 0, "must not be negative");
/** An export repeats a few scopes many times; the valid ones are remembered, up to this many. */
export const auditScopesRememberedMax = 10_000;
const validScopes = new Set<string>();
const scopeId = z.string().superRefine((value, context) => {
  if (validScopes.has(value)) return;
  try {
    parseScopeId(value);
    if (validScopes.size >= auditScopesRememberedMax) validScopes.clear();
    validScopes.add(value);
  } catch (error) {
    for (const issue of (error as { issues?: ValidationIssue[] }).issues ?? [{ message: "must be a scope id" }]) {
      context.addIssue({ code: "custom", message: issue.message });
    }
  }
});
const name = z.string().min(1).max(actionNameLengthMax);
const tier = z.enum(TIERS);
const unit = z.enum(UNITS);
const decision = z.enum(DECISIONS);
const reasonCode = z.enum(REASON_CODES);

export const auditEventSchema = z.strictObject({
  seq: amount,
  atMs: amount,
  type: z.enum(AUDIT_EVENT_TYPES),
  scope: scopeId,
  unit,
  reservationId: z.string().min(1).max(auditTextLengthMax).optional(),
  action: z.strictObject({ name, tier, kind: name.optional() }).optional(),
  runId: z.string().min(1).max(runIdLengthMax).optional(),
  actor: name.optional(),
  estimate: amount.optional(),
  amount: amount.optional(),
  decision: decision.optional(),
  reasonCode: reasonCode.optional(),
  deniedScope: scopeId.optional(),
  caps: z
    .strictObject({
      disabledTiers: z.array(tier).max(TIERS.length),
      toolAllowlist: z.array(name).max(auditCapToolsMax).optional(),
      toolDenylist: z.array(name).max(auditCapToolsMax).optional(),
      maxStepsRemaining: amount.optional(),
      maxTokens: amount.optional(),
      cooldownMs: amount.optional(),
    })
    .optional(),
  shadow: z.strictObject({ decision, reasonCode: reasonCode.optional(), deniedScope: scopeId.optional() }).optional(),
  balances: z
    .array(z.strictObject({ scope: scopeId, allocated: amount, remaining: safeInteger }))
    .max(auditBalancesPerEventMax)
    .optional(),
  detail: z.string().max(auditTextLengthMax).optional(),
});

const band = z.strictObject({ from: z.number(), disabledTiers: z.array(tier).max(TIERS.length) });

export const budgetDefinitionSchema = z.strictObject({
  scope: scopeId,
  unit,
  limit: amount,
  window: z.enum(WINDOWS),
  // The ledger's own band check (0 to 1, increasing, at most bandsMax), so both agree on what a band is.
  narrowing: z
    .array(band)
    .max(bandsMax)
    .nullable()
    .superRefine((bands, context) => {
      if (bands === null) return;
      try {
        resolveNarrowing(bands, "");
      } catch (error) {
        for (const issue of (error as ValidationError).issues ?? []) {
          context.addIssue({ code: "custom", message: issue.message, path: issue.path.split(".").filter(Boolean) });
        }
      }
    }),
  overdraftLimit: amount,
  updatedAtMs: amount,
});

// The schemas describe the types exactly: a field added to AuditEvent or BudgetDefinition without
// a schema fails to compile here (and a reason code, decision or event type added to its union too).
type Exactly<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? true
        : false
      : false
    : false
  : false;
const eventSchemaIsExact: Exactly<z.output<typeof auditEventSchema>, AuditEvent> = true;
const budgetSchemaIsExact: Exactly<z.output<typeof budgetDefinitionSchema>, BudgetDefinition> = true;
void [eventSchemaIsExact, budgetSchemaIsExact];
