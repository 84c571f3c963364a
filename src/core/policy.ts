import { z } from "zod";
import { TollgateError, type ValidationError, type ValidationIssue } from "./errors.js";
import { toolRuleGlobLengthMax } from "./glob.js";
import { type Band, resolveNarrowing } from "./narrowing.js";
import { parseScopeId, scopeValueIssue, tenantScopeOf } from "./scope.js";
import { TIERS, type Tier } from "./tiers.js";
import { type ToolRule, toolRulesMax } from "./tool-rules.js";
import { UNITS, type Unit, unitDefault } from "./units.js";
import { type BudgetWindow, WINDOWS } from "./windows.js";

/**
 * A policy document: the operator's whole intent for a set of scopes in one file. Budgets grant
 * actions (a missing or zero budget denies them), tool rules say how undeclared tools are charged,
 * fallbacks say where denied calls go, and mode picks enforce or shadow.
 */

export const policyVersionCurrent = 1;
export const policyBudgetsMax = 10_000;
export const policyOwnedScopesMax = 1_000;
export const fallbackNodeNameLengthMax = 128;

export type PolicyMode = "enforce" | "shadow";

/**
 * Budgets that people grant at run time by approving an action (toolsets `approved.<toolset>`,
 * `approved-run.<toolset>`, `approved-once.<key>`). A policy never prunes them: re-applying the
 * operator's file must not silently revoke what an approver granted. Remove them by name.
 */
export const approvalGrantToolsetPrefixes = ["approved.", "approved-run.", "approved-once."] as const;

export function isApprovalGrantScope(scope: string): boolean {
  const toolset = /(?:^|\/)toolset:([^/]+)$/.exec(scope)?.[1];
  return toolset !== undefined && approvalGrantToolsetPrefixes.some((prefix) => toolset.startsWith(prefix));
}

/** One budget as a policy states it, defaults filled in and narrowing resolved to bands. */
export interface PolicyBudget {
  scope: string;
  unit: Unit;
  limit: number;
  window: BudgetWindow;
  narrowing: Band[] | null;
  overdraftLimit: number;
}

/**
 * Where denied calls go: graph node names per tool first, then per tier, then the default. A
 * denial no route names (and no default) goes on to the node's `next`, answered by its denial
 * message. The tool node and a policy file's `fallbacks` use this one type.
 */
export interface FallbackRoutes {
  default?: string;
  tiers?: Partial<Record<Tier, string>>;
  tools?: Record<string, string>;
}

/** A fallback: one node for every denial, or routes. */
export type FallbackTarget = string | FallbackRoutes;

export interface Policy {
  version: number;
  /** Unset: the ledger's own mode (enforce unless configured otherwise). */
  mode?: PolicyMode;
  /**
   * The scopes whose budgets this policy states in full: a budget beneath one of them that the
   * policy does not list is removed on apply. Defaults to every tenant the budgets name.
   */
  owns: string[];
  /** False: apply only adds and changes, never removes. Default true. */
  prune: boolean;
  budgets: PolicyBudget[];
  toolRules: ToolRule[];
  fallbacks: FallbackRoutes;
  /** The file it was loaded from, for messages. */
  source?: string;
}

const amount = z
  .number({ error: "must be a number" })
  .int("must be an integer")
  .nonnegative("must not be negative")
  .refine(Number.isSafeInteger, "must be a safe integer");

const scopeId = z
  .string({ error: "must be a scope id such as tenant:acme/toolset:send-email" })
  .superRefine((value, ctx) => {
    try {
      parseScopeId(value);
    } catch (error) {
      for (const issue of (error as ValidationError).issues ?? [])
        ctx.addIssue({ code: "custom", message: issue.message });
    }
  });

const bandSchema = z.strictObject({ from: z.number(), disabledTiers: z.array(z.enum(TIERS)) });
const narrowingSchema = z.union([z.literal("none"), z.literal("progressive"), z.array(bandSchema)], {
  error: 'must be "none", "progressive" or a list of { from, disabledTiers } bands',
});
const unitSchema = z.enum(UNITS, { error: `must be one of ${UNITS.join(", ")}` });
const windowSchema = z.enum(WINDOWS, { error: `must be one of ${WINDOWS.join(", ")}` });
const tierSchema = z.enum(TIERS, { error: `must be one of ${TIERS.join(", ")}` });
const nodeName = z.string().min(1, "must not be empty").max(fallbackNodeNameLengthMax);

const budgetEntrySchema = z.strictObject({
  scope: scopeId,
  limit: amount,
  unit: unitSchema.optional(),
  window: windowSchema.optional(),
  narrowing: narrowingSchema.optional(),
  overdraftLimit: amount.optional(),
  /** Free text for people reading the file; ignored by the ledger. */
  note: z.string().optional(),
});

const toolRuleEntrySchema = z.strictObject({
  /** Exact tool name. */
  name: z.string().min(1).max(toolRuleGlobLengthMax).optional(),
  /** Glob on the tool name: `*` any run of characters, `?` one character. */
  match: z.string().min(1).max(toolRuleGlobLengthMax).optional(),
  tag: z.string().min(1).optional(),
  /** The MCP server whose tools this rule charges. */
  server: z.string().min(1).optional(),
  /** MCP annotations the tool must declare, e.g. { destructiveHint: true }. */
  annotations: z
    .strictObject({
      readOnlyHint: z.boolean().optional(),
      destructiveHint: z.boolean().optional(),
      idempotentHint: z.boolean().optional(),
      openWorldHint: z.boolean().optional(),
    })
    .optional(),
  tier: tierSchema,
  estimate: amount.optional(),
  toolset: z.string().optional(),
  actionKind: z.string().min(1).optional(),
});

const fallbacksSchema = z.strictObject({
  default: nodeName.optional(),
  tiers: z.partialRecord(tierSchema, nodeName).optional(),
  tools: z.record(z.string().min(1), nodeName).optional(),
});

/** A fallback as a tool node takes it: a node name, or the same routes a policy file states. */
export const fallbackTargetSchema = z.union([nodeName, fallbacksSchema], {
  error: "must be a node name or { default?, tiers?, tools? }",
});

export const policyDocumentSchema = z.strictObject({
  version: z.literal(policyVersionCurrent, { error: `must be ${policyVersionCurrent}` }).optional(),
  mode: z.enum(["enforce", "shadow"], { error: 'must be "enforce" or "shadow"' }).optional(),
  owns: z.array(scopeId).max(policyOwnedScopesMax).optional(),
  prune: z.boolean({ error: "must be true or false" }).optional(),
  defaults: z
    .strictObject({
      unit: unitSchema.optional(),
      window: windowSchema.optional(),
      narrowing: narrowingSchema.optional(),
      overdraftLimit: amount.optional(),
    })
    .optional(),
  budgets: z.array(budgetEntrySchema).max(policyBudgetsMax).optional(),
  tools: z.array(toolRuleEntrySchema).max(toolRulesMax).optional(),
  fallbacks: fallbacksSchema.optional(),
});

/** The document as written (YAML or JSON), before defaults are filled in. */
export type PolicyDocument = z.input<typeof policyDocumentSchema>;

/** A policy issue, located in its file when it came from one. */
export interface PolicyIssue extends ValidationIssue {
  file?: string;
  /** 1-based. */
  line?: number;
  /** 1-based. */
  column?: number;
}

/** A policy that cannot be used: every issue with its path (and file and line when known). Nothing was applied. */
export class PolicyError extends TollgateError {
  readonly issues: PolicyIssue[];
  readonly file?: string;
  constructor(issues: PolicyIssue[], file?: string, options?: { cause?: unknown }) {
    super("POLICY_INVALID", formatPolicyIssues(issues, file), options);
    this.issues = issues;
    this.file = file;
  }
}

export function formatPolicyIssue(issue: PolicyIssue): string {
  const where = [issue.file, issue.line, issue.line !== undefined ? issue.column : undefined]
    .filter((part) => part !== undefined)
    .join(":");
  const path = issue.path || "(document)";
  return where ? `${where}: ${path}: ${issue.message}` : `${path}: ${issue.message}`;
}

function formatPolicyIssues(issues: PolicyIssue[], file: string | undefined): string {
  const head = `Invalid policy${file ? ` ${file}` : ""} (${issues.length} issue${issues.length === 1 ? "" : "s"}; nothing applied)`;
  return [head, ...issues.map((issue) => `  ${formatPolicyIssue(issue)}`)].join("\n");
}

/** Finds the 1-based line and column of a dotted path in the source, when the loader knows it. */
export type LocatePath = (path: readonly (string | number)[]) => { line: number; column: number } | undefined;

/**
 * Validates a parsed document and fills in defaults. Every problem is reported at once, with the
 * path of the offending field (and its line, given `locate`), so a file is fixed in one pass.
 */
export function parsePolicy(value: unknown, options: { file?: string; locate?: LocatePath } = {}): Policy {
  const issues: RawIssue[] = [];
  const parsed = policyDocumentSchema.safeParse(value ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      let message = issue.message;
      if (issue.code === "unrecognized_keys") message = `unknown field(s): ${issue.keys.join(", ")}`;
      const path = issue.path.map((part) => (typeof part === "symbol" ? String(part) : part));
      // An unknown field is found in the file by its own key, not by the object holding it.
      const locateAt = issue.code === "unrecognized_keys" ? [...path, issue.keys[0]] : undefined;
      issues.push({ path, code: issue.code, message, locateAt });
    }
    throw locatedError(issues, options);
  }
  const document = parsed.data;
  const defaults = document.defaults ?? {};
  const budgets: PolicyBudget[] = [];
  const seen = new Map<string, number>();
  (document.budgets ?? []).forEach((entry, index) => {
    const unit = entry.unit ?? defaults.unit ?? unitDefault;
    const key = `${entry.scope}|${unit}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({
        path: ["budgets", index, "scope"],
        code: "duplicate",
        message: `a second ${unit} budget for ${entry.scope} (the first is budgets.${first}); keep one`,
      });
      return;
    }
    seen.set(key, index);
    let narrowing: Band[] | null = null;
    try {
      narrowing = resolveNarrowing(entry.narrowing ?? defaults.narrowing, "narrowing");
    } catch (error) {
      for (const issue of (error as ValidationError).issues ?? []) {
        const at = entry.narrowing === undefined ? ["defaults"] : ["budgets", index];
        issues.push({ path: [...at, ...issue.path.split(".")], code: issue.code, message: issue.message });
      }
    }
    budgets.push({
      scope: entry.scope,
      unit,
      limit: entry.limit,
      window: entry.window ?? defaults.window ?? "lifetime",
      narrowing,
      overdraftLimit: entry.overdraftLimit ?? defaults.overdraftLimit ?? 0,
    });
  });
  const toolRules: ToolRule[] = [];
  (document.tools ?? []).forEach((entry, index) => {
    const at = ["tools", index];
    if (
      entry.name === undefined &&
      entry.match === undefined &&
      entry.tag === undefined &&
      entry.server === undefined &&
      entry.annotations === undefined
    ) {
      issues.push({
        path: at,
        code: "invalid_value",
        message: "needs name (exact), match (a glob), tag, server or annotations",
      });
    }
    if (entry.server !== undefined) {
      const issue = scopeValueIssue(entry.server, "server");
      if (issue) issues.push({ path: [...at, "server"], code: issue.code, message: issue.message });
    }
    if (entry.name !== undefined && entry.match !== undefined) {
      issues.push({ path: [...at, "match"], code: "invalid_value", message: "give name or match, not both" });
    }
    if (entry.name !== undefined && /[*?]/.test(entry.name)) {
      issues.push({
        path: [...at, "name"],
        code: "invalid_value",
        message: "is matched exactly and may not contain * or ?; use match for a glob",
      });
    }
    if (entry.toolset !== undefined) {
      const issue = scopeValueIssue(entry.toolset, "toolset");
      if (issue) issues.push({ path: [...at, "toolset"], code: issue.code, message: issue.message });
    }
    const rule: ToolRule = { tier: entry.tier };
    const match = entry.name ?? entry.match;
    if (match !== undefined) rule.match = match;
    if (entry.tag !== undefined) rule.tag = entry.tag;
    if (entry.server !== undefined) rule.server = entry.server;
    if (entry.annotations !== undefined) rule.annotations = { ...entry.annotations };
    if (entry.estimate !== undefined) rule.estimate = entry.estimate;
    if (entry.toolset !== undefined) rule.toolset = entry.toolset;
    if (entry.actionKind !== undefined) rule.actionKind = entry.actionKind;
    toolRules.push(rule);
  });
  if (issues.length > 0) throw locatedError(issues, options);
  const owns = document.owns ?? [...new Set(budgets.map((budget) => tenantScopeOf(budget.scope)))];
  const policy: Policy = {
    version: document.version ?? policyVersionCurrent,
    owns,
    prune: document.prune ?? true,
    budgets,
    toolRules,
    fallbacks: {
      default: document.fallbacks?.default,
      tiers: { ...(document.fallbacks?.tiers ?? {}) },
      tools: { ...(document.fallbacks?.tools ?? {}) },
    },
  };
  if (document.mode !== undefined) policy.mode = document.mode;
  if (options.file !== undefined) policy.source = options.file;
  return policy;
}

interface RawIssue {
  path: (string | number)[];
  code: string;
  message: string;
  locateAt?: (string | number)[];
}

function locatedError(issues: RawIssue[], options: { file?: string; locate?: LocatePath }): PolicyError {
  const located = issues.map((issue) => {
    const located: PolicyIssue = { code: issue.code, path: issue.path.join("."), message: issue.message };
    if (options.file !== undefined) located.file = options.file;
    const position = options.locate?.(issue.locateAt ?? issue.path);
    if (position) {
      located.line = position.line;
      located.column = position.column;
    }
    return located;
  });
  // In file order, so an operator can fix them top to bottom.
  located.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  return new PolicyError(located, options.file);
}

/** The fallback node for a denied call: per tool, then per tier, then the default; undefined when none. */
export function fallbackFor(fallback: FallbackTarget, tool: { name: string; tier: Tier }): string | undefined {
  if (typeof fallback === "string") return fallback;
  return fallback.tools?.[tool.name] ?? fallback.tiers?.[tool.tier] ?? fallback.default;
}

/** Every node a fallback can route to, for `addNode(..., { ends })`. */
export function fallbackNodes(fallback: FallbackTarget): string[] {
  if (typeof fallback === "string") return [fallback];
  const nodes = [fallback.default, ...Object.values(fallback.tools ?? {}), ...Object.values(fallback.tiers ?? {})];
  return [...new Set(nodes.filter((node): node is string => typeof node === "string"))];
}

/** Two budget statements are the same grant when every field the ledger stores is equal. */
export function sameBudget(a: PolicyBudget, b: PolicyBudget): boolean {
  return (
    a.scope === b.scope &&
    a.unit === b.unit &&
    a.limit === b.limit &&
    a.window === b.window &&
    a.overdraftLimit === b.overdraftLimit &&
    sameBands(a.narrowing, b.narrowing)
  );
}

export function sameBands(a: Band[] | null, b: Band[] | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  return a.every(
    (band, index) =>
      band.from === b[index].from &&
      band.disabledTiers.length === b[index].disabledTiers.length &&
      band.disabledTiers.every((tier, tierIndex) => tier === b[index].disabledTiers[tierIndex]),
  );
}

/** The fields that differ between two statements of the same budget, for a readable diff. */
export function changedBudgetFields(before: PolicyBudget, after: PolicyBudget): (keyof PolicyBudget)[] {
  const fields: (keyof PolicyBudget)[] = [];
  if (before.limit !== after.limit) fields.push("limit");
  if (before.window !== after.window) fields.push("window");
  if (!sameBands(before.narrowing, after.narrowing)) fields.push("narrowing");
  if (before.overdraftLimit !== after.overdraftLimit) fields.push("overdraftLimit");
  return fields;
}
