import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument } from "yaml";
import { TollgateError, ValidationError } from "../core/errors.js";
import { policyLeaseWaitMsDefault, policyLeaseWaitMsMax } from "../core/limits.js";
import { resolveNarrowing } from "../core/narrowing.js";
import {
  changedBudgetFields,
  isApprovalGrantScope,
  type LocatePath,
  type Policy,
  type PolicyBudget,
  type PolicyDocument,
  PolicyError,
  parsePolicy,
  sameBudget,
} from "../core/policy.js";
import {
  type ListBudgetsQuery,
  listBudgetsSchema,
  parseInput,
  type RemoveBudgetInput,
  type SetBudgetInput,
} from "../core/schemas.js";
import { isWithinScope } from "../core/scope.js";
import type { BudgetDefinition, LedgerStore } from "../store/types.js";

export const policyFileBytesMax = 10 * 1024 * 1024;
/** YAML aliases expand; a small cap stops a file from expanding into gigabytes. */
const yamlAliasCountMax = 100;

// ---------------------------------------------------------------- loading

/** Reads and validates a policy file (`.yaml`, `.yml` or `.json`); errors name the file, path and line. */
export async function loadPolicyFile(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw unreadable(file, error);
  }
  return parsePolicyText(text, file);
}

/** The synchronous twin of loadPolicyFile, for createLedger (which returns at once). */
export function loadPolicyFileSync(file: string): Policy {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw unreadable(file, error);
  }
  return parsePolicyText(text, file);
}

/** A policy from a file path or a document object. */
export function resolvePolicySync(policy: string | PolicyDocument | Policy): Policy {
  if (typeof policy === "string") return loadPolicyFileSync(policy);
  if (isResolvedPolicy(policy)) return policy;
  return parsePolicy(policy);
}

function isResolvedPolicy(value: object): value is Policy {
  return Array.isArray((value as Policy).toolRules) && Array.isArray((value as Policy).owns);
}

function unreadable(file: string, error: unknown): PolicyError {
  const reason = (error as NodeJS.ErrnoException)?.code === "ENOENT" ? "no such file" : (error as Error)?.message;
  return new PolicyError([{ code: "unreadable", path: "", message: `cannot read the file: ${reason}`, file }], file, {
    cause: error,
  });
}

/** Parses policy text. The format follows the extension of `file` (YAML unless it ends in .json). */
export function parsePolicyText(text: string, file = "policy.yaml"): Policy {
  if (Buffer.byteLength(text) > policyFileBytesMax) {
    throw new PolicyError(
      [{ code: "too_big", path: "", message: `is larger than ${policyFileBytesMax} bytes`, file }],
      file,
    );
  }
  const extension = extname(file).toLowerCase();
  if (![".yaml", ".yml", ".json"].includes(extension)) {
    throw new PolicyError(
      [{ code: "invalid_format", path: "", message: "must end in .yaml, .yml or .json", file }],
      file,
    );
  }
  const lineCounter = new LineCounter();
  if (extension === ".json") assertStrictJson(text, file);
  // YAML 1.2 is a superset of JSON, so one parser gives line numbers for both formats.
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new PolicyError(
      document.errors.map((error) => ({
        code: "syntax",
        path: "",
        message: error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, ""),
        file,
        line: error.linePos?.[0].line,
        column: error.linePos?.[0].col,
      })),
      file,
    );
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: yamlAliasCountMax });
  } catch (error) {
    throw new PolicyError([{ code: "syntax", path: "", message: (error as Error).message, file }], file);
  }
  const locate: LocatePath = (path) => {
    const node = deepestNode(document.contents as Node | null, path);
    const offset = node?.range?.[0];
    if (offset === undefined) return undefined;
    const position = lineCounter.linePos(offset);
    return { line: position.line, column: position.col };
  };
  return parsePolicy(value, { file, locate });
}

/** JSON files must be JSON (no comments, no trailing commas): an operator editing one expects it. */
function assertStrictJson(text: string, file: string): void {
  try {
    JSON.parse(text);
  } catch (error) {
    // JSON.parse does not always say where; find the first offending character ourselves.
    const offset = jsonSyntaxErrorOffset(text);
    const before = text.slice(0, offset);
    const line = before.split("\n").length;
    const column = before.length - before.lastIndexOf("\n");
    const message =
      offset >= text.length
        ? "not valid JSON: the text ends too soon"
        : `not valid JSON: unexpected ${JSON.stringify(text[offset])}`;
    throw new PolicyError([{ code: "syntax", path: "", message, file, line, column }], file, { cause: error });
  }
}

/** Offset of the first character a strict JSON reader rejects (text.length when the text ends too soon). */
export function jsonSyntaxErrorOffset(text: string): number {
  const scanner = new JsonScanner(text);
  try {
    scanner.value();
    scanner.space();
    if (scanner.at < text.length) return scanner.at;
  } catch (error) {
    if (error instanceof JsonSyntaxStop) return Math.min(scanner.at, text.length);
    throw error;
  }
  return text.length;
}

class JsonSyntaxStop extends Error {}

/** A strict JSON recognizer that only tracks where it is: the position is the answer. */
class JsonScanner {
  at = 0;
  constructor(private readonly text: string) {}

  private fail(): never {
    throw new JsonSyntaxStop();
  }

  space(): void {
    while (this.at < this.text.length && " \t\n\r".includes(this.text[this.at])) this.at++;
  }

  value(): void {
    this.space();
    const char = this.text[this.at];
    if (char === "{") this.container("}", true);
    else if (char === "[") this.container("]", false);
    else if (char === '"') this.string();
    else if (char === "t") this.literal("true");
    else if (char === "f") this.literal("false");
    else if (char === "n") this.literal("null");
    else this.number();
  }

  private literal(word: string): void {
    for (const char of word) {
      if (this.text[this.at] !== char) this.fail();
      this.at++;
    }
  }

  private string(): void {
    this.at++;
    while (this.at < this.text.length && this.text[this.at] !== '"') {
      if (this.text.charCodeAt(this.at) < 0x20) this.fail();
      this.at += this.text[this.at] === "\\" ? 2 : 1;
    }
    if (this.at >= this.text.length) this.fail();
    this.at++;
  }

  private number(): void {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.at, this.at + 400));
    if (!match) this.fail();
    this.at += match[0].length;
  }

  private container(close: string, keyed: boolean): void {
    this.at++;
    this.space();
    if (this.text[this.at] === close) {
      this.at++;
      return;
    }
    for (;;) {
      if (keyed) {
        this.space();
        if (this.text[this.at] !== '"') this.fail();
        this.string();
        this.space();
        if (this.text[this.at] !== ":") this.fail();
        this.at++;
      }
      this.value();
      this.space();
      const next = this.text[this.at];
      this.at++;
      if (next === close) return;
      if (next !== ",") {
        this.at--;
        this.fail();
      }
    }
  }
}

/** The node at `path`, or the deepest ancestor that exists (a missing field is reported at its parent). */
function deepestNode(root: Node | null, path: readonly (string | number)[]): Node | undefined {
  let node: Node | null | undefined = root;
  for (const part of path) {
    let next: Node | null | undefined;
    if (isMap(node)) {
      const pair: Pair<unknown, unknown> | undefined = node.items.find(
        (item) => isScalar(item.key) && String(item.key.value) === String(part),
      );
      // A field's value may be absent (`limit:` with nothing after it): point at the key then.
      next = (pair?.value as Node | null) ?? (pair?.key as Node | undefined);
    } else if (isSeq(node) && typeof part === "number") {
      next = node.items[part] as Node | undefined;
    }
    if (!next) break;
    node = next;
  }
  return node ?? undefined;
}

// ---------------------------------------------------------------- planning

/** What applying a policy needs from a ledger (a Ledger has all of it). */
export interface BudgetAdmin {
  listBudgets(query: ListBudgetsQuery): Promise<BudgetDefinition[]>;
  setBudget(input: SetBudgetInput): Promise<unknown>;
  removeBudget(input: RemoveBudgetInput): Promise<{ removed: boolean }>;
  /** The store's policy lease (LedgerStore.withPolicyLease); a Ledger's is taken from its store. */
  withPolicyLease?: LedgerStore["withPolicyLease"];
  /** A Ledger's store, whose policy lease an apply holds. */
  readonly store?: Promise<LedgerStore>;
}

export type PolicyChange =
  | { kind: "add"; after: PolicyBudget }
  | { kind: "change"; before: PolicyBudget; after: PolicyBudget; fields: (keyof PolicyBudget)[] }
  | { kind: "remove"; before: PolicyBudget };

export interface PolicyPlan {
  /** Adds and changes first, removals last: a failure mid-way then leaves grants, not revocations, to undo. */
  changes: PolicyChange[];
  /** Budgets the policy states that the store already has, exactly. */
  unchanged: number;
  /** The scopes whose unlisted budgets are removed. */
  owns: string[];
}

/** What applying `policy` would change, without changing anything. Applying it twice plans nothing. */
export async function planPolicy(admin: BudgetAdmin, policy: Policy): Promise<PolicyPlan> {
  const current = await currentBudgets(admin, policy);
  const wanted = new Map(policy.budgets.map((budget) => [budgetKeyOf(budget), budget]));
  const adds: PolicyChange[] = [];
  const changes: PolicyChange[] = [];
  const removes: PolicyChange[] = [];
  let unchanged = 0;
  for (const after of policy.budgets) {
    const before = current.get(budgetKeyOf(after));
    if (!before) adds.push({ kind: "add", after });
    else if (sameBudget(before, after)) unchanged++;
    else changes.push({ kind: "change", before, after, fields: changedBudgetFields(before, after) });
  }
  for (const [key, before] of current) {
    if (!policy.prune || wanted.has(key) || isApprovalGrantScope(before.scope)) continue;
    if (policy.owns.some((owned) => isWithinScope(before.scope, owned))) removes.push({ kind: "remove", before });
  }
  return { changes: [...adds, ...changes, ...removes], unchanged, owns: policy.owns };
}

async function currentBudgets(admin: BudgetAdmin, policy: Policy): Promise<Map<string, PolicyBudget>> {
  const prefixes = outermostScopes([...policy.owns, ...policy.budgets.map((budget) => budget.scope)]);
  const current = new Map<string, PolicyBudget>();
  for (const prefix of prefixes) {
    for (const definition of await admin.listBudgets({ scope: prefix })) {
      current.set(budgetKeyOf(definition), policyBudgetOf(definition));
    }
  }
  return current;
}

/** The scopes not beneath another in the list: one listing each covers them all. */
function outermostScopes(scopes: string[]): string[] {
  const unique = [...new Set(scopes)].sort((a, b) => a.length - b.length);
  const outermost: string[] = [];
  for (const scope of unique) if (!outermost.some((outer) => isWithinScope(scope, outer))) outermost.push(scope);
  return outermost;
}

function budgetKeyOf(budget: { scope: string; unit: string }): string {
  return `${budget.scope}|${budget.unit}`;
}

export function policyBudgetOf(definition: BudgetDefinition | PolicyBudget): PolicyBudget {
  return {
    scope: definition.scope,
    unit: definition.unit,
    limit: definition.limit,
    window: definition.window,
    narrowing: definition.narrowing,
    overdraftLimit: definition.overdraftLimit,
  };
}

// ---------------------------------------------------------------- applying

export interface ApplyProgress {
  done: number;
  total: number;
  change: PolicyChange;
}

export interface ApplyPolicyOptions {
  onProgress?: (progress: ApplyProgress) => void;
  /** How long to wait for another apply holding the store's policy lease. Default 60 s; then POLICY_APPLY_BUSY. */
  leaseWaitMs?: number;
}

export interface PolicyApplyResult {
  applied: PolicyChange[];
  unchanged: number;
}

/**
 * Applying failed part-way. `rolledBack` says whether the store is back where it started.
 * `keptRemovals`: budgets the apply removed and did not add back, because a budget added again
 * starts from no spend (re-adding one spent 90 of 100 would grant 100 more): revocations the file
 * asked for, left in place, so a failure never grants more than before.
 */
export class PolicyApplyError extends TollgateError {
  readonly failedChange: PolicyChange;
  readonly rolledBack: boolean;
  readonly rollbackFailures: PolicyChange[];
  readonly keptRemovals: PolicyChange[];
  constructor(
    failedChange: PolicyChange,
    appliedCount: number,
    undo: { failures: PolicyChange[]; keptRemovals: PolicyChange[] },
    source: string | undefined,
    cause: unknown,
  ) {
    const what = `${describeChange(failedChange)}: ${(cause as Error)?.message ?? String(cause)}`;
    const code = cause instanceof TollgateError ? cause.code : "LEDGER_UNAVAILABLE";
    const { failures, keptRemovals } = undo;
    const diff = `run "tollgate policy diff${source ? ` ${source}` : ""}" to see what differs, then apply again.`;
    const kept =
      keptRemovals.length === 0
        ? ""
        : ` Kept, not added back (a budget added again would start from no spend): ${keptRemovals.map(describeChange).join(", ")}.`;
    const outcome =
      failures.length > 0
        ? `Rolling back failed for ${failures.map(describeChange).join(", ")};${kept} ${diff}`
        : keptRemovals.length > 0
          ? `The other change(s) were rolled back.${kept} ${diff}`
          : appliedCount === 0
            ? "Nothing was changed."
            : `The ${appliedCount} change(s) already made were rolled back; nothing was changed.`;
    super(code, `Applying the policy failed at ${what}. ${outcome}`, { cause });
    this.failedChange = failedChange;
    this.rolledBack = failures.length === 0 && keptRemovals.length === 0;
    this.rollbackFailures = failures;
    this.keptRemovals = keptRemovals;
  }
}

/**
 * Applies a validated policy whole or not at all: the plan is computed first, then run; if the
 * store fails part-way, the changes already made are undone in reverse order, except removals:
 * removing a budget drops its counters, and adding it back would start it from no spend, so those
 * stay removed (PolicyApplyError.keptRemovals) and a failure never grants more than before. That is
 * why removals run last. The plan and its run hold the store's policy lease when it has one: two
 * operators (or replicas opening with a policy) applying at once take turns, each planning from
 * what the one before left, so the store ends as one policy says, never a mix of two.
 */
export async function applyPolicy(
  admin: BudgetAdmin,
  policy: Policy,
  options: ApplyPolicyOptions = {},
): Promise<PolicyApplyResult> {
  const waitMs = options.leaseWaitMs ?? policyLeaseWaitMsDefault;
  if (!(Number.isSafeInteger(waitMs) && waitMs >= 0 && waitMs <= policyLeaseWaitMsMax)) {
    throw new ValidationError([
      { code: "invalid_value", path: "leaseWaitMs", message: `must be an integer from 0 to ${policyLeaseWaitMsMax}` },
    ]);
  }
  const onProgress = options.onProgress;
  const store = admin.withPolicyLease ? undefined : await admin.store;
  const lease = admin.withPolicyLease ?? store?.withPolicyLease?.bind(store);
  if (!lease) return planAndApply(admin, policy, onProgress, () => true);
  return lease((held) => planAndApply(admin, policy, onProgress, held), { waitMs });
}

async function planAndApply(
  admin: BudgetAdmin,
  policy: Policy,
  onProgress: ApplyPolicyOptions["onProgress"],
  held: () => boolean,
): Promise<PolicyApplyResult> {
  const plan = await planPolicy(admin, policy);
  const applied: PolicyChange[] = [];
  for (const change of plan.changes) {
    try {
      // A lease that may have lapsed may be another apply's now: stop before writing more.
      if (!held()) throw leaseLostError();
      await runChange(admin, change);
    } catch (error) {
      const failures: PolicyChange[] = [];
      const keptRemovals: PolicyChange[] = [];
      for (const done of [...applied].reverse()) {
        // Removing dropped the budget's counters: adding it back would hand out its spent part again.
        if (done.kind === "remove") {
          keptRemovals.push(done);
          continue;
        }
        try {
          await runChange(admin, inverseOf(done));
        } catch {
          failures.push(done);
        }
      }
      throw new PolicyApplyError(change, applied.length, { failures, keptRemovals }, policy.source, error);
    }
    applied.push(change);
    onProgress?.({ done: applied.length, total: plan.changes.length, change });
  }
  return { applied, unchanged: plan.unchanged };
}

function leaseLostError(): TollgateError {
  return new TollgateError(
    "LEDGER_UNAVAILABLE",
    "the policy lease may have lapsed (the store did not confirm its renewals), so another apply may be running",
    { transient: true },
  );
}

async function runChange(admin: BudgetAdmin, change: PolicyChange): Promise<void> {
  if (change.kind === "remove") {
    await admin.removeBudget({ scope: change.before.scope, unit: change.before.unit });
    return;
  }
  const budget = change.after;
  await admin.setBudget({
    scope: budget.scope,
    unit: budget.unit,
    limit: budget.limit,
    window: budget.window,
    narrowing: budget.narrowing ?? "none",
    overdraftLimit: budget.overdraftLimit,
  });
}

/** The change that undoes an add or a change (a removal is not undone: see applyPolicy). */
function inverseOf(change: Exclude<PolicyChange, { kind: "remove" }>): PolicyChange {
  return change.kind === "add"
    ? { kind: "remove", before: change.after }
    : { kind: "change", before: change.after, after: change.before, fields: change.fields };
}

export function describeChange(change: PolicyChange): string {
  switch (change.kind) {
    case "add":
      return `add ${change.after.scope} ${change.after.unit}`;
    case "change":
      return `change ${change.after.scope} ${change.after.unit}`;
    case "remove":
      return `remove ${change.before.scope} ${change.before.unit}`;
  }
}

/** Budget administration straight on a store, for applying a policy while the ledger opens. */
export function budgetAdminOfStore(store: LedgerStore): BudgetAdmin {
  return {
    withPolicyLease: store.withPolicyLease?.bind(store),
    listBudgets: async (query) => store.listBudgets({ scopePrefix: parseInput(listBudgetsSchema, query).scope }),
    async setBudget(input) {
      await store.putBudget({
        definition: {
          scope: input.scope,
          unit: input.unit ?? "RISK_POINTS",
          limit: input.limit,
          window: input.window ?? "lifetime",
          narrowing: resolveNarrowing(input.narrowing),
          overdraftLimit: input.overdraftLimit ?? 0,
        },
      });
    },
    async removeBudget(input) {
      const outcome = await store.removeBudget({ scope: input.scope, unit: input.unit ?? "RISK_POINTS" });
      return { removed: outcome.ok && outcome.removed };
    },
  };
}

/** The store, with the policy applied before anyone else may use it. */
export async function applyPolicyOnOpen(
  store: LedgerStore | Promise<LedgerStore>,
  policy: Policy,
): Promise<LedgerStore> {
  const resolved = await store;
  await applyPolicy(budgetAdminOfStore(resolved), policy);
  return resolved;
}
