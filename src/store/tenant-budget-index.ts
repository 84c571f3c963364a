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

/** A subject path's applicable budgets in one unit, resolved once, valid while its tenant's generation holds. */
interface ResolvedPath {
  entry: TenantEntry;
  generation: number;
  definitions: readonly BudgetDefinition[];
}

/** Per tenant: its budgets' shapes per unit, and a generation that any change of its budgets moves. */
interface TenantEntry {
  /** By unit (UNITS order): [shape, count, shape, count, ...], shapes in scope-listing order. */
  shapes: (number[] | undefined)[];
  generation: number;
}

/**
 * Resolved subject paths kept across all tenants; past it the cache starts over. One cache for every
 * tenant, not one per tenant, so a budget that sits idle costs no cached path: only paths in use do.
 */
export const resolvedPathsMax = 16_384;

const noBudgets: readonly BudgetDefinition[] = Object.freeze([]);

/**
 * Budget definitions by scope and unit, plus, per tenant and unit, the distinct shapes (sets of
 * levels) its budgets have. An action's applicable budgets are found by trying only those shapes
 * (usually a handful) instead of all 32 subsets of a six-level subject, so a decision costs the same
 * however many tenants are provisioned, and a tenant costs one small entry. The answer per subject
 * path is kept on the tenant's entry until setBudget or removeBudget changes that tenant's budgets.
 */
export class TenantBudgetIndex {
  private readonly byKey = new Map<string, BudgetDefinition>();
  private readonly tenants = new Map<string, TenantEntry>();
  /** By unit (UNITS order): subject scope → its resolved budgets. */
  private readonly resolved: Map<string, ResolvedPath>[] = UNITS.map(() => new Map());
  private resolvedCount = 0;
  /** The path resolved last (most traffic repeats one path). */
  private lastScope = "";
  private lastUnit: Unit | undefined;
  private lastPath: ResolvedPath | undefined;

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
    const entry = this.tenants.get(tenantScopeOf(definition.scope));
    if (entry) entry.generation++;
    return previous;
  }

  /** Removes; returns the definition removed. */
  delete(scope: string, unit: Unit): BudgetDefinition | undefined {
    const key = budgetKey(scope, unit);
    const previous = this.byKey.get(key);
    if (!previous) return undefined;
    this.byKey.delete(key);
    this.countShape(previous, -1);
    const entry = this.tenants.get(tenantScopeOf(scope));
    if (entry) entry.generation++;
    return previous;
  }

  /** Whether the tenant has any budget, in any unit. */
  hasTenant(tenant: string): boolean {
    return this.tenants.has(tenant);
  }

  /** The budgets an action of this subject draws on in this unit, outermost first. Shared: never mutate it. */
  applicable(subjectScope: string, unit: Unit): readonly BudgetDefinition[] {
    const tenant = tenantScopeOf(subjectScope);
    const entry = this.tenants.get(tenant);
    // A tenant without budgets has nothing cached: random tenant ids cost nothing here.
    if (!entry) return noBudgets;
    const last = this.lastPath;
    if (
      last !== undefined &&
      this.lastUnit === unit &&
      this.lastScope === subjectScope &&
      last.entry === entry &&
      last.generation === entry.generation
    ) {
      return last.definitions;
    }
    const byScope = this.resolved[UNITS.indexOf(unit)];
    let path = byScope.get(subjectScope);
    if (path === undefined || path.entry !== entry || path.generation !== entry.generation) {
      if (path === undefined && this.resolvedCount >= resolvedPathsMax) {
        for (const map of this.resolved) map.clear();
        this.resolvedCount = 0;
      }
      if (path === undefined) this.resolvedCount++;
      path = {
        entry,
        generation: entry.generation,
        definitions: Object.freeze(this.resolve(entry, tenant, subjectScope, unit)),
      };
      byScope.set(subjectScope, path);
    }
    this.lastScope = subjectScope;
    this.lastUnit = unit;
    this.lastPath = path;
    return path.definitions;
  }

  private resolve(entry: TenantEntry, tenant: string, subjectScope: string, unit: Unit): BudgetDefinition[] {
    const shapes = entry.shapes[UNITS.indexOf(unit)];
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
    const tenant = tenantScopeOf(definition.scope);
    let entry = this.tenants.get(tenant);
    if (!entry) {
      if (delta < 0) return;
      entry = { shapes: [], generation: 0 };
      this.tenants.set(tenant, entry);
    }
    const unitIndex = UNITS.indexOf(definition.unit);
    const shape = shapeOf(definition.scope);
    const shapes = entry.shapes[unitIndex] ?? [];
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
    entry.shapes[unitIndex] = shapes.length === 0 ? undefined : shapes;
    if (entry.shapes.every((unitShapes) => unitShapes === undefined)) this.tenants.delete(tenant);
  }
}
