import { ValidationError, type ValidationIssue } from "../../core/errors.js";
import { actionNameLengthMax, reservationTtlMsMax } from "../../core/limits.js";
import { scopeValueIssue } from "../../core/scope.js";
import { isTier, riskPointsByTierDefault, type Tier } from "../../core/tiers.js";
import { toolsetFromName } from "../../core/tool-rules.js";
import { isAmount, isUnit, type Unit, unitDefault } from "../../core/units.js";

// Loose on purpose: tool arguments arrive as parsed JSON, and a spec is written for one tool.
// biome-ignore lint/suspicious/noExplicitAny: arguments of an arbitrary tool
type AnyArgs = any;

/** How one action (a tool call, a guarded function call) is charged. */
export interface ActionSpec<Args = AnyArgs, Result = AnyArgs> {
  tier: Tier;
  /** The toolset scope level charged; defaults to the tool name made scope-safe. */
  toolset?: string;
  /** Units held before the call; may depend on the arguments (five recipients, five emails). Defaults to the tier's risk points. */
  estimate?: number | ((args: Args) => number);
  /** Units actually spent, known once the call returned; defaults to the estimate. */
  actual?: (args: Args, result: Result) => number;
  unit?: Unit;
  actionKind?: string;
  /** The action name in the ledger and the audit log; defaults to the tool name. */
  actionName?: string;
  /** How long the hold lives if never settled (a crash); the ledger's default otherwise. */
  ttlMs?: number;
}

/** The action as the ledger is asked about it, for one call with its arguments. */
export interface ResolvedAction {
  name: string;
  tier: Tier;
  kind?: string;
  toolset: string;
  unit: Unit;
  estimate: number;
  ttlMs?: number;
}

/** Tools wrapped by guardTool carry their spec here, so a tool node charges them by it (once). */
export const actionSpecSymbol: unique symbol = Symbol.for("tollgate.actionSpec");

export function actionSpecOf(tool: unknown): ActionSpec | undefined {
  if (tool === null || typeof tool !== "object") return undefined;
  return (tool as { [actionSpecSymbol]?: ActionSpec })[actionSpecSymbol];
}

const actionSpecKeys = ["tier", "toolset", "estimate", "actual", "unit", "actionKind", "actionName", "ttlMs"] as const;

/** Every bad field of a spec, with its path, in one ValidationError. Functions are checked when called. */
export function validateActionSpec(spec: ActionSpec, path = "spec"): void {
  if (spec === null || typeof spec !== "object") {
    throw new ValidationError([{ code: "invalid_type", path, message: "must be an object" }]);
  }
  const issues: ValidationIssue[] = [];
  const at = (field: string) => (path ? `${path}.${field}` : field);
  for (const key of Object.keys(spec)) {
    if (!(actionSpecKeys as readonly string[]).includes(key)) {
      issues.push({ code: "unrecognized_keys", path: at(key), message: "unknown field" });
    }
  }
  if (!isTier(spec.tier)) issues.push({ code: "invalid_value", path: at("tier"), message: "must be a tier" });
  if (spec.toolset !== undefined) {
    const issue = scopeValueIssue(spec.toolset, at("toolset"));
    if (issue) issues.push(issue);
  }
  if (spec.estimate !== undefined && typeof spec.estimate !== "function" && !isAmount(spec.estimate)) {
    issues.push({ code: "invalid_value", path: at("estimate"), message: "must be a non-negative safe integer" });
  }
  if (spec.actual !== undefined && typeof spec.actual !== "function") {
    issues.push({ code: "invalid_type", path: at("actual"), message: "must be a function (args, result) => number" });
  }
  if (spec.unit !== undefined && !isUnit(spec.unit)) {
    issues.push({ code: "invalid_value", path: at("unit"), message: "must be a unit" });
  }
  for (const field of ["actionKind", "actionName"] as const) {
    const value = spec[field];
    if (
      value !== undefined &&
      (typeof value !== "string" || value.length === 0 || value.length > actionNameLengthMax)
    ) {
      issues.push({ code: "invalid_value", path: at(field), message: `must be 1-${actionNameLengthMax} characters` });
    }
  }
  if (
    spec.ttlMs !== undefined &&
    !(Number.isInteger(spec.ttlMs) && spec.ttlMs >= 1 && spec.ttlMs <= reservationTtlMsMax)
  ) {
    issues.push({
      code: "invalid_value",
      path: at("ttlMs"),
      message: `must be an integer from 1 to ${reservationTtlMsMax}`,
    });
  }
  if (issues.length > 0) throw new ValidationError(issues);
}

/** The estimate for these arguments; a function returning a bad amount is the spec's mistake, named as such. */
export function estimateOf(spec: ActionSpec, args: unknown, path = "estimate"): number {
  const estimate = typeof spec.estimate === "function" ? spec.estimate(args) : spec.estimate;
  const value = estimate ?? riskPointsByTierDefault[spec.tier];
  if (!isAmount(value)) {
    throw new ValidationError([
      { code: "invalid_value", path, message: `must be a non-negative safe integer (got ${String(value)})` },
    ]);
  }
  return value;
}

/** The actual spend after the call; a bad value is named, never silently charged. */
export function actualOf(spec: ActionSpec, args: unknown, result: unknown, estimate: number): number {
  if (!spec.actual) return estimate;
  const value = spec.actual(args, result);
  if (!isAmount(value)) {
    throw new ValidationError([
      {
        code: "invalid_value",
        path: "actual",
        message: `must return a non-negative safe integer (got ${String(value)})`,
      },
    ]);
  }
  return value;
}

export function resolveAction(spec: ActionSpec, toolName: string, args: unknown): ResolvedAction {
  return {
    name: spec.actionName ?? toolName,
    tier: spec.tier,
    kind: spec.actionKind,
    toolset: spec.toolset ?? toolsetFromName(toolName),
    unit: spec.unit ?? unitDefault,
    estimate: estimateOf(spec, args),
    ttlMs: spec.ttlMs,
  };
}
