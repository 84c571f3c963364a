import { ValidationError, type ValidationIssue } from "./errors.js";

/** Scope levels, outermost first. A canonical scope id lists present levels in exactly this order. */
export const SCOPE_LEVELS = ["tenant", "workspace", "app", "workflow", "agent", "toolset"] as const;
export type ScopeLevel = (typeof SCOPE_LEVELS)[number];

/** Who is acting: any subset of the levels; tenant is required. */
export type Subject = { tenant: string } & Partial<Record<Exclude<ScopeLevel, "tenant">, string>>;

export const scopeValueLengthMax = 128;
/** The alphabet of a scope value: nothing that could act as a separator. */
export const scopeValuePattern = /^[A-Za-z0-9_.-]+$/;

export function scopeValueIssue(value: unknown, path: string): ValidationIssue | undefined {
  if (typeof value !== "string") return { code: "invalid_type", path, message: "must be a string" };
  if (value.length === 0) return { code: "too_small", path, message: "must not be empty" };
  if (value.length > scopeValueLengthMax)
    return { code: "too_big", path, message: `must be at most ${scopeValueLengthMax} characters` };
  if (!scopeValuePattern.test(value))
    return { code: "invalid_format", path, message: "may only contain A-Z a-z 0-9 _ . -" };
  return undefined;
}

/** Validates a subject and returns its canonical scope id. Never escapes: bad values are rejected. */
export function scopeIdOf(subject: Subject, path = "subject"): string {
  const issues: ValidationIssue[] = [];
  if (subject === null || typeof subject !== "object") {
    throw new ValidationError([{ code: "invalid_type", path, message: "must be an object" }]);
  }
  for (const key of Object.keys(subject)) {
    if (!(SCOPE_LEVELS as readonly string[]).includes(key)) {
      issues.push({ code: "unrecognized_key", path: `${path}.${key}`, message: `unknown scope level "${key}"` });
    }
  }
  if (subject.tenant === undefined) {
    issues.push({ code: "invalid_type", path: `${path}.tenant`, message: "is required" });
  }
  const parts: string[] = [];
  for (const level of SCOPE_LEVELS) {
    const value = subject[level];
    if (value === undefined) continue;
    const issue = scopeValueIssue(value, `${path}.${level}`);
    if (issue) issues.push(issue);
    else parts.push(`${level}:${value}`);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return parts.join("/");
}

/** Parses a canonical scope id back to a subject, rejecting unknown levels, bad order and bad values. */
export function parseScopeId(scope: string, path = "scope"): Subject {
  if (typeof scope !== "string" || scope.length === 0) {
    throw new ValidationError([{ code: "invalid_type", path, message: "must be a non-empty scope id" }]);
  }
  const issues: ValidationIssue[] = [];
  const subject: Record<string, string> = {};
  let lastRank = -1;
  for (const segment of scope.split("/")) {
    const colon = segment.indexOf(":");
    const level = colon < 0 ? segment : segment.slice(0, colon);
    const value = colon < 0 ? "" : segment.slice(colon + 1);
    const rank = (SCOPE_LEVELS as readonly string[]).indexOf(level);
    if (rank < 0) {
      issues.push({ code: "invalid_value", path, message: `unknown scope level "${level}" in "${scope}"` });
      continue;
    }
    if (rank <= lastRank) {
      issues.push({ code: "invalid_value", path, message: `level "${level}" out of order in "${scope}"` });
      continue;
    }
    lastRank = rank;
    const issue = scopeValueIssue(value, `${path}.${level}`);
    if (issue) issues.push(issue);
    else subject[level] = value;
  }
  if (issues.length === 0 && subject.tenant === undefined) {
    issues.push({ code: "invalid_value", path, message: `must start with "tenant:" (got "${scope}")` });
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return subject as Subject;
}

export const applicableScopesCacheMax = 10_000;
const applicableScopesCache = new Map<string, readonly string[]>();

/**
 * The scopes whose budgets an action draws on: every scope formed from the tenant plus any subset
 * of the subject's other levels, outermost (fewest levels) first. Every prefix of the path is among
 * them, and so is `tenant:acme/toolset:send-email` for a subject that also names a workspace and an
 * agent: a budget governs every action whose path carries all of the budget's level:value pairs.
 */
export function applicableScopes(scopeId: string): readonly string[] {
  const cached = applicableScopesCache.get(scopeId);
  if (cached) return cached;
  const segments = scopeId.split("/");
  const rest = segments.length - 1;
  // Each subset extends the subset without its last member by one segment: one concatenation each.
  const byMask: string[] = [segments[0]];
  for (let mask = 1; mask < 1 << rest; mask++) {
    const last = 31 - Math.clz32(mask);
    byMask[mask] = `${byMask[mask & ~(1 << last)]}/${segments[last + 1]}`;
  }
  const scopes = Object.freeze(subsetOrder[rest].map((mask) => byMask[mask]));
  if (applicableScopesCache.size >= applicableScopesCacheMax) applicableScopesCache.clear();
  applicableScopesCache.set(scopeId, scopes);
  return scopes;
}

/**
 * Subsets of n positions as bitmasks, in the order scopes are listed: fewer levels first, then
 * outermost levels first (lexicographic on the positions). Depends only on n, so computed once.
 */
const subsetOrder: readonly (readonly number[])[] = Array.from({ length: SCOPE_LEVELS.length }, (_, n) =>
  Array.from({ length: 1 << n }, (_, mask) => mask).sort(compareSubsets),
);

export function compareSubsets(a: number, b: number): number {
  const bySize = popCount(a) - popCount(b);
  if (bySize !== 0) return bySize;
  for (let bit = 0; bit < 32; bit++) {
    const inA = (a >> bit) & 1;
    const inB = (b >> bit) & 1;
    if (inA !== inB) return inA ? -1 : 1;
  }
  return 0;
}

function popCount(mask: number): number {
  let count = 0;
  for (let rest = mask; rest !== 0; rest &= rest - 1) count++;
  return count;
}

/** The scope id asked last and its tenant segment: a store asks the same path several times per call. */
let lastScopeId = "";
let lastTenantScope = "";

/** The tenant segment ("tenant:acme"), which stores use to keep a tenant's keys together. */
export function tenantScopeOf(scopeId: string): string {
  // Usually the very string asked last (an identity comparison), answered without a new string.
  if (scopeId === lastScopeId) return lastTenantScope;
  const slash = scopeId.indexOf("/");
  const tenant = slash < 0 ? scopeId : scopeId.slice(0, slash);
  lastScopeId = scopeId;
  lastTenantScope = tenant;
  return tenant;
}

/** True when `scope` is `ancestor` or lies beneath it. */
export function isWithinScope(scope: string, ancestor: string): boolean {
  return scope === ancestor || scope.startsWith(`${ancestor}/`);
}
