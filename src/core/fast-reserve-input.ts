import { actionNameLengthMax, idempotencyKeyLengthMax, reservationTtlMsMax, runIdLengthMax } from "./limits.js";
import { type CommitInput, overagePolicies, type ReleaseInput, type ReserveInput } from "./schemas.js";
import { SCOPE_LEVELS, scopeValueLengthMax, scopeValuePattern } from "./scope.js";
import { isTier } from "./tiers.js";
import { isAmount, isUnit } from "./units.js";

// Key checks as switches: a comparison per case (the keys are interned strings) instead of a hash
// lookup per key, on every reserve.
function isReserveKey(key: string): boolean {
  switch (key) {
    case "subject":
    case "action":
    case "estimate":
    case "unit":
    case "runId":
    case "idempotencyKey":
    case "ttlMs":
    case "overagePolicy":
    case "actor":
      return true;
    default:
      return false;
  }
}

// The switch above lists the levels of SCOPE_LEVELS: checked once here, so they cannot drift apart.
if (SCOPE_LEVELS.length !== 6 || !SCOPE_LEVELS.every(isScopeLevel)) throw new Error("isScopeLevel is SCOPE_LEVELS");

function isActionKey(key: string): boolean {
  return key === "name" || key === "tier" || key === "kind";
}

function isScopeLevel(key: string): boolean {
  switch (key) {
    case "tenant":
    case "workspace":
    case "app":
    case "workflow":
    case "agent":
    case "toolset":
      return true;
    default:
      return false;
  }
}

/**
 * The reserve hot path's validation: the same rules as `reserveSchema` checked by hand, plus the
 * canonical scope id built in the same pass. Every field is read from the caller's object exactly
 * once and the answer is a fresh object built from those reads, so a getter, a Proxy or a caller
 * that changes its object after the call cannot make the ledger hold something it did not check.
 * Returns undefined on anything unusual (a read that throws included), and the caller then runs
 * the zod schema, which produces the error that names every bad field.
 */
export function fastReserveInput(input: unknown): { input: ReserveInput; scopeId: string } | undefined {
  try {
    return readReserveInput(input);
  } catch {
    return undefined;
  }
}

function readReserveInput(input: unknown): { input: ReserveInput; scopeId: string } | undefined {
  if (typeof input !== "object" || input === null) return undefined;
  const candidate = input as Record<string, unknown>;
  for (const key in candidate) if (!isReserveKey(key)) return undefined;
  const { subject, action, estimate, unit, runId, idempotencyKey, ttlMs, overagePolicy, actor } = candidate;
  if (!isAmount(estimate)) return undefined;
  if (typeof subject !== "object" || subject === null || typeof action !== "object" || action === null) {
    return undefined;
  }
  const levels = subject as Record<string, unknown>;
  const { tenant, workspace, app, workflow, agent, toolset } = levels;
  const scopeId = scopeIdOfLevels(tenant, workspace, app, workflow, agent, toolset);
  if (scopeId === undefined) return undefined;
  for (const key in levels) if (!isScopeLevel(key)) return undefined;
  for (const key in action) if (!isActionKey(key)) return undefined;
  const { name, tier, kind } = action as Record<string, unknown>;
  if (!isShortString(name, actionNameLengthMax) || !isTier(tier)) return undefined;
  if (kind !== undefined && !isShortString(kind, actionNameLengthMax)) return undefined;
  if (unit !== undefined && !isUnit(unit)) return undefined;
  if (runId !== undefined && !isShortString(runId, runIdLengthMax)) return undefined;
  if (idempotencyKey !== undefined && !isShortString(idempotencyKey, idempotencyKeyLengthMax)) return undefined;
  if (actor !== undefined && !isShortString(actor, actionNameLengthMax)) return undefined;
  if (
    ttlMs !== undefined &&
    !(Number.isSafeInteger(ttlMs) && (ttlMs as number) >= 1 && (ttlMs as number) <= reservationTtlMsMax)
  ) {
    return undefined;
  }
  if (overagePolicy !== undefined && !(overagePolicies as readonly unknown[]).includes(overagePolicy)) return undefined;
  // One shape for every call (absent fields are undefined), so the ledger's reads stay monomorphic.
  const copy: ReserveInput = {
    subject: subjectCopyOf(scopeId, tenant, workspace, app, workflow, agent, toolset),
    action: actionCopyOf(name, tier as ReserveInput["action"]["tier"], kind as string | undefined),
    estimate,
    unit: unit as ReserveInput["unit"],
    runId: runId as string | undefined,
    idempotencyKey: idempotencyKey as string | undefined,
    ttlMs: ttlMs as number | undefined,
    overagePolicy: overagePolicy as ReserveInput["overagePolicy"],
    actor: actor as string | undefined,
  };
  return { input: copy, scopeId };
}

/**
 * The copies of the subject and the action made last, frozen, so a call that repeats them (one
 * agent's tool calls) shares them instead of allocating two objects. Frozen copies of values read
 * once: nothing the caller does to its own objects afterwards reaches them, and no reader can change
 * them for the next call.
 */
let lastSubject: ReserveInput["subject"] | undefined;
let lastSubjectScopeId: string | undefined;
let lastAction: ReserveInput["action"] | undefined;

function subjectCopyOf(
  scopeId: string,
  tenant: unknown,
  workspace: unknown,
  app: unknown,
  workflow: unknown,
  agent: unknown,
  toolset: unknown,
): ReserveInput["subject"] {
  // The same scope id string is the same six values (scopeIdOfLevels hands it out only for them).
  if (lastSubject !== undefined && scopeId === lastSubjectScopeId) return lastSubject;
  const subject = Object.freeze({ tenant, workspace, app, workflow, agent, toolset }) as ReserveInput["subject"];
  lastSubject = subject;
  lastSubjectScopeId = scopeId;
  return subject;
}

function actionCopyOf(name: string, tier: ReserveInput["action"]["tier"], kind: string | undefined) {
  const last = lastAction;
  if (last !== undefined && last.name === name && last.tier === tier && last.kind === kind) return last;
  const action = Object.freeze({ name, tier, kind }) as ReserveInput["action"];
  lastAction = action;
  return action;
}

/**
 * The subject path checked last and its canonical scope id: a call on the same path (the common
 * case: one agent's tool calls) is answered by six comparisons, with no pattern test and no new
 * string, and every such call shares one scope id string. Values are strings, so equal means valid.
 */
const lastPath: unknown[] = [];
let lastScopeId: string | undefined;

function scopeIdOfLevels(
  tenant: unknown,
  workspace: unknown,
  app: unknown,
  workflow: unknown,
  agent: unknown,
  toolset: unknown,
): string | undefined {
  if (
    lastScopeId !== undefined &&
    tenant === lastPath[0] &&
    workspace === lastPath[1] &&
    app === lastPath[2] &&
    workflow === lastPath[3] &&
    agent === lastPath[4] &&
    toolset === lastPath[5]
  ) {
    return lastScopeId;
  }
  if (!isScopeValue(tenant)) return undefined;
  let scopeId = `tenant:${tenant}`;
  const rest = [workspace, app, workflow, agent, toolset];
  for (let index = 0; index < rest.length; index++) {
    const value = rest[index];
    if (value === undefined) continue;
    if (!isScopeValue(value)) return undefined;
    scopeId += `/${SCOPE_LEVELS[index + 1]}:${value}`;
  }
  lastPath[0] = tenant;
  lastPath[1] = workspace;
  lastPath[2] = app;
  lastPath[3] = workflow;
  lastPath[4] = agent;
  lastPath[5] = toolset;
  lastScopeId = scopeId;
  return scopeId;
}

function isScopeValue(value: unknown): value is string {
  return typeof value === "string" && value.length <= scopeValueLengthMax && scopeValuePattern.test(value);
}

function isShortString(value: unknown, lengthMax: number): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= lengthMax;
}

const commitKeys = new Set(["actual", "idempotencyKey", "actor"]);
const releaseKeys = new Set(["idempotencyKey", "reason", "actor"]);
const releaseReasonLengthMax = 256;

/** commitSchema's rules by hand, for the settle hot path; undefined on anything unusual (then zod). */
export function fastCommitInput(input: unknown): CommitInput | undefined {
  try {
    const candidate = plainRecord(input, commitKeys);
    if (!candidate) return undefined;
    const { actual, idempotencyKey, actor } = candidate;
    if (actual !== undefined && !isAmount(actual)) return undefined;
    if (idempotencyKey !== undefined && !isShortString(idempotencyKey, idempotencyKeyLengthMax)) return undefined;
    if (actor !== undefined && !isShortString(actor, actionNameLengthMax)) return undefined;
    return { actual, idempotencyKey, actor } as CommitInput;
  } catch {
    return undefined;
  }
}

/** releaseSchema's rules by hand, likewise. */
export function fastReleaseInput(input: unknown): ReleaseInput | undefined {
  try {
    const candidate = plainRecord(input, releaseKeys);
    if (!candidate) return undefined;
    const { idempotencyKey, reason, actor } = candidate;
    if (idempotencyKey !== undefined && !isShortString(idempotencyKey, idempotencyKeyLengthMax)) return undefined;
    if (reason !== undefined && !(typeof reason === "string" && reason.length <= releaseReasonLengthMax)) {
      return undefined;
    }
    if (actor !== undefined && !isShortString(actor, actionNameLengthMax)) return undefined;
    return { idempotencyKey, reason, actor } as ReleaseInput;
  } catch {
    return undefined;
  }
}

function plainRecord(input: unknown, keys: ReadonlySet<string>): Record<string, unknown> | undefined {
  if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined;
  if (Object.getPrototypeOf(input) !== Object.prototype) return undefined;
  const candidate = input as Record<string, unknown>;
  for (const key in candidate) if (!keys.has(key)) return undefined;
  return candidate;
}
