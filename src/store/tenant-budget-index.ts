import { compareSubsets, SCOPE_LEVELS, tenantScopeOf } from "../core/scope.js";
import { UNITS, type Unit } from "../core/units.js";
import type { BudgetDefinition } from "./types.js";

const levelBit = new Map<string, number>(SCOPE_LEVELS.slice(1).map((level, index) => [level, 1 << index]));

/** The shape of a canonical scope id: one bit per level below the tenant. */
export function shapeOf(scope: string): number {
  let shape = 0;
  const segments = scope.split("/");
  for (let index = 1; index < segments.length; index++) {
    const segment = segments[index];
    shape |= levelBit.get(segment.slice(0, segment.indexOf(":"))) ?? 0;
  }
  return shape;
}

/** `<scope>|<unit>`: scopes and units never contain `|`. */
export function budgetKey(scope: string, unit: Unit): string {
  return `${scope}|${unit}`;
}

/** Bumped by every change to a tenant's budgets: resolutions cached before it are stale. */
interface TenantEpoch {
  version: number;
}

/** A subject path's applicable budgets in one unit, resolved once, valid while its tenant's epoch holds. */
interface ResolvedPath {
  epoch: TenantEpoch;
  version: number;
  unit: Unit;
  definitions: readonly BudgetDefinition[];
  /** The same path in another unit (rare: most deployments budget one unit). */
  other: ResolvedPath | undefined;
}

/** Subject paths remembered at most; past it the cache starts over (it is only a cache). */
export const resolvedPathsMax = 131_072;

const noBudgets: readonly BudgetDefinition[] = Object.freeze([]);

/**
 * Budget definitions by scope and unit, plus, per tenant and unit, the distinct shapes (sets of
 * levels) its budgets have. An action's applicable budgets are found by trying only those shapes
 * (usually a handful) instead of all 32 subsets of a six-level subject, so a decision costs the same
 * however many tenants are provisioned, and a tenant costs one small array. The answer per subject
 * path is cached until setBudget or removeBudget changes that tenant's budgets.
 */
export class TenantBudgetIndex {
  private readonly byKey = new Map<string, BudgetDefinition>();
  /** `<tenant>|<unit>` → [shape, count, shape, count, ...], shapes in scope-listing order. */
  private readonly shapesByTenant = new Map<string, number[]>();
  private readonly epochs = new Map<string, TenantEpoch>();
  private readonly resolved = new Map<string, ResolvedPath>();

  get size(): number {
    return this.byKey.size;
  }

  get(scope: string, unit: Unit): BudgetDefinition | undefined {
    return this.byKey.get(budgetKey(scope, unit));
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  values(): IterableIterator<BudgetDefinition> {
    return this.byKey.values();
  }

  /** Adds or replaces; returns the definition it replaced. */
  set(definition: BudgetDefinition): BudgetDefinition | undefined {
    const key = budgetKey(definition.scope, definition.unit);
    const previous = this.byKey.get(key);
    this.byKey.set(key, definition);
    if (!previous) this.countShape(definition, 1);
    this.touchTenant(tenantScopeOf(definition.scope), true);
    return previous;
  }

  /** Removes; returns the definition removed. */
  delete(scope: string, unit: Unit): BudgetDefinition | undefined {
    const key = budgetKey(scope, unit);
    const previous = this.byKey.get(key);
    if (!previous) return undefined;
    this.byKey.delete(key);
    this.countShape(previous, -1);
    const tenant = tenantScopeOf(scope);
    this.touchTenant(tenant, this.hasTenant(tenant));
    return previous;
  }

  /** Whether the tenant has any budget, in any unit. */
  hasTenant(tenant: string): boolean {
    for (const unit of UNITS) if (this.shapesByTenant.has(`${tenant}|${unit}`)) return true;
    return false;
  }

  /** The budgets an action of this subject draws on in this unit, outermost first. Shared: never mutate it. */
  applicable(subjectScope: string, unit: Unit): readonly BudgetDefinition[] {
    const cached = this.resolved.get(subjectScope);
    for (let path = cached; path !== undefined; path = path.other) {
      if (path.unit === unit && path.version === path.epoch.version) return path.definitions;
    }
    const tenant = tenantScopeOf(subjectScope);
    const epoch = this.epochs.get(tenant);
    // A tenant without budgets is not cached: random tenant ids must not fill the cache.
    if (!epoch) return noBudgets;
    const definitions = Object.freeze(this.resolve(tenant, subjectScope, unit));
    const fresh = cached && cached.version === cached.epoch.version ? cached : undefined;
    if (!fresh && this.resolved.size >= resolvedPathsMax) this.resolved.clear();
    const path: ResolvedPath = { epoch, version: epoch.version, unit, definitions, other: fresh };
    this.resolved.set(subjectScope, path);
    return definitions;
  }

  /** Marks the tenant's cached resolutions stale; `keep`: the tenant still has budgets. */
  private touchTenant(tenant: string, keep: boolean): void {
    const epoch = this.epochs.get(tenant);
    if (epoch) epoch.version++;
    if (!keep) this.epochs.delete(tenant);
    else if (!epoch) this.epochs.set(tenant, { version: 0 });
  }

  private resolve(tenant: string, subjectScope: string, unit: Unit): BudgetDefinition[] {
    const shapes = this.shapesByTenant.get(`${tenant}|${unit}`);
    if (!shapes) return [];
    const segments = subjectScope.split("/");
    // The subject's segment for each level bit, and the levels it has.
    const segmentOfBit: string[] = [];
    let subjectShape = 0;
    for (let index = 1; index < segments.length; index++) {
      const segment = segments[index];
      const bit = levelBit.get(segment.slice(0, segment.indexOf(":"))) ?? 0;
      subjectShape |= bit;
      segmentOfBit[31 - Math.clz32(bit)] = segment;
    }
    const found: BudgetDefinition[] = [];
    for (let index = 0; index < shapes.length; index += 2) {
      const shape = shapes[index];
      if ((shape & ~subjectShape) !== 0) continue;
      let scope = tenant;
      for (let rest = shape; rest !== 0; rest &= rest - 1) scope += `/${segmentOfBit[31 - Math.clz32(rest & -rest)]}`;
      const definition = this.byKey.get(budgetKey(scope, unit));
      if (definition) found.push(definition);
    }
    return found;
  }

  private countShape(definition: BudgetDefinition, delta: 1 | -1): void {
    const tenantKey = `${tenantScopeOf(definition.scope)}|${definition.unit}`;
    const shape = shapeOf(definition.scope);
    const shapes = this.shapesByTenant.get(tenantKey) ?? [];
    const at = shapes.findIndex((existing, index) => index % 2 === 0 && existing === shape);
    if (at >= 0) {
      shapes[at + 1] += delta;
      if (shapes[at + 1] === 0) shapes.splice(at, 2);
    } else if (delta > 0) {
      // Insert in scope-listing order, so the budgets come out outermost first.
      let insertAt = 0;
      while (insertAt < shapes.length && compareSubsets(shapes[insertAt], shape) < 0) insertAt += 2;
      shapes.splice(insertAt, 0, shape, 1);
    }
    if (shapes.length === 0) this.shapesByTenant.delete(tenantKey);
    else this.shapesByTenant.set(tenantKey, shapes);
  }
}
