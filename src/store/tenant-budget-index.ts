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

/**
 * A tenant's budgets of one shape in one unit: the one definition (the usual case: a shape with a
 * single budget costs no map), or, when several budgets share the shape (`toolset:a`, `toolset:b`),
 * a map by scope.
 */
type ShapeBudgets = BudgetDefinition | Map<string, BudgetDefinition>;

/** Per tenant: per unit its budgets by shape, and a generation that any change of its budgets moves. */
interface TenantEntry {
  /** By unit (UNITS order): [shape, budgets, shape, budgets, ...], shapes in scope-listing order. */
  shapes: ((number | ShapeBudgets)[] | undefined)[];
  generation: number;
}

const noBudgets: readonly BudgetDefinition[] = Object.freeze([]);
/** Each level's `name:` prefix, by level bit index (workspace = 0 ... toolset = 4). */
const levelPrefixes = SCOPE_LEVELS.slice(1).map((level) => `${level}:`);
/** Scratch for one resolution: per level bit index, the subject segment's start and end (-1: absent). */
const segmentStart = new Int32Array(levelPrefixes.length);
const segmentEnd = new Int32Array(levelPrefixes.length);
const slash = 47;

/**
 * Budget definitions by scope and unit, plus, per tenant and unit, its budgets grouped by shape (the
 * set of levels a scope names). An action's applicable budgets are found by trying only the shapes
 * its tenant has (usually a handful) instead of all 32 subsets of a six-level subject: a shape with
 * one budget is matched against the subject path character by character, in place, so a decision
 * reads its tenant's entry and the definitions it finds and makes no string, whatever the number of
 * tenants. No resolved path is cached per subject (with many tenants any bounded cache of paths
 * misses, and an unbounded one would cost memory per path ever seen); the path asked last is
 * remembered, since most traffic repeats one path.
 */
export class TenantBudgetIndex {
  private readonly byKey = new Map<string, BudgetDefinition>();
  private readonly tenants = new Map<string, TenantEntry>();
  /** The path resolved last, valid while its tenant entry and generation hold. */
  private lastScope = "";
  private lastUnit: Unit | undefined;
  private lastEntry: TenantEntry | undefined;
  private lastGeneration = -1;
  private lastDefinitions: readonly BudgetDefinition[] = noBudgets;

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
    this.place(definition, previous);
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
    this.unplace(previous);
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
    // A tenant without budgets has nothing to find: random tenant ids cost nothing here.
    if (!entry) return noBudgets;
    if (
      this.lastEntry === entry &&
      this.lastGeneration === entry.generation &&
      this.lastUnit === unit &&
      this.lastScope === subjectScope
    ) {
      return this.lastDefinitions;
    }
    const definitions = this.resolve(entry, tenant, subjectScope, unit);
    this.lastScope = subjectScope;
    this.lastUnit = unit;
    this.lastEntry = entry;
    this.lastGeneration = entry.generation;
    this.lastDefinitions = definitions;
    return definitions;
  }

  private resolve(entry: TenantEntry, tenant: string, subjectScope: string, unit: Unit): readonly BudgetDefinition[] {
    const shapes = entry.shapes[UNITS.indexOf(unit)];
    if (!shapes) return noBudgets;
    // The subject's segment of each level, found in place (a canonical scope id lists its levels in order).
    segmentStart.fill(-1);
    let subjectShape = 0;
    for (let at = tenant.length; at < subjectScope.length; ) {
      const end = subjectScope.indexOf("/", at + 1);
      const segmentEndAt = end < 0 ? subjectScope.length : end;
      for (let level = 0; level < levelPrefixes.length; level++) {
        if (!subjectScope.startsWith(levelPrefixes[level], at + 1)) continue;
        segmentStart[level] = at + 1;
        segmentEnd[level] = segmentEndAt;
        subjectShape |= 1 << level;
        break;
      }
      at = segmentEndAt;
    }
    let found: BudgetDefinition[] | undefined;
    for (let index = 0; index < shapes.length; index += 2) {
      const shape = shapes[index] as number;
      if ((shape & ~subjectShape) !== 0) continue;
      const budgets = shapes[index + 1] as ShapeBudgets;
      const definition =
        budgets instanceof Map
          ? budgets.get(scopeOfShape(tenant, subjectScope, shape))
          : matchesShape(budgets.scope, tenant.length, subjectScope, shape)
            ? budgets
            : undefined;
      if (!definition) continue;
      found ??= [];
      found.push(definition);
    }
    return found ? Object.freeze(found) : noBudgets;
  }

  /** Files a definition under its tenant, unit and shape (replacing `previous`, the one of its key). */
  private place(definition: BudgetDefinition, previous: BudgetDefinition | undefined): void {
    const tenant = tenantScopeOf(definition.scope);
    let entry = this.tenants.get(tenant);
    if (!entry) {
      entry = { shapes: [], generation: 0 };
      this.tenants.set(tenant, entry);
    }
    const unitIndex = UNITS.indexOf(definition.unit);
    const shape = shapeOf(definition.scope);
    const shapes = entry.shapes[unitIndex] ?? [];
    entry.shapes[unitIndex] = shapes;
    const at = indexOfShape(shapes, shape);
    if (at < 0) {
      // Insert in scope-listing order, so the budgets come out outermost first.
      let insertAt = 0;
      while (insertAt < shapes.length && compareSubsets(shapes[insertAt] as number, shape) < 0) insertAt += 2;
      shapes.splice(insertAt, 0, shape, definition);
      return;
    }
    const budgets = shapes[at + 1] as ShapeBudgets;
    if (budgets instanceof Map) budgets.set(definition.scope, definition);
    else if (budgets === previous || budgets.scope === definition.scope) shapes[at + 1] = definition;
    else
      shapes[at + 1] = new Map([
        [budgets.scope, budgets],
        [definition.scope, definition],
      ]);
  }

  private unplace(definition: BudgetDefinition): void {
    const tenant = tenantScopeOf(definition.scope);
    const entry = this.tenants.get(tenant);
    if (!entry) return;
    const unitIndex = UNITS.indexOf(definition.unit);
    const shapes = entry.shapes[unitIndex];
    if (!shapes) return;
    const at = indexOfShape(shapes, shapeOf(definition.scope));
    if (at < 0) return;
    const budgets = shapes[at + 1] as ShapeBudgets;
    if (budgets instanceof Map) {
      budgets.delete(definition.scope);
      // Back to the single form when one is left.
      if (budgets.size === 1) shapes[at + 1] = budgets.values().next().value as BudgetDefinition;
    } else if (budgets.scope === definition.scope) {
      shapes.splice(at, 2);
    }
    entry.shapes[unitIndex] = shapes.length === 0 ? undefined : shapes;
    if (entry.shapes.every((unitShapes) => unitShapes === undefined)) this.tenants.delete(tenant);
  }
}

function indexOfShape(shapes: readonly (number | ShapeBudgets)[], shape: number): number {
  for (let index = 0; index < shapes.length; index += 2) if (shapes[index] === shape) return index;
  return -1;
}

/**
 * Whether `scope` is the tenant followed by exactly the subject's segments of `shape`'s levels, in
 * order (the segment bounds of the last resolution): compared in place, no string made.
 */
function matchesShape(scope: string, tenantLength: number, subjectScope: string, shape: number): boolean {
  let at = tenantLength;
  for (let rest = shape; rest !== 0; rest &= rest - 1) {
    const level = 31 - Math.clz32(rest & -rest);
    const start = segmentStart[level];
    const length = segmentEnd[level] - start;
    if (scope.charCodeAt(at) !== slash) return false;
    for (let offset = 0; offset < length; offset++) {
      if (scope.charCodeAt(at + 1 + offset) !== subjectScope.charCodeAt(start + offset)) return false;
    }
    at += 1 + length;
  }
  return at === scope.length;
}

/** The scope of `shape`'s levels of the subject (for a shape with several budgets, looked up by it). */
function scopeOfShape(tenant: string, subjectScope: string, shape: number): string {
  let scope = tenant;
  for (let rest = shape; rest !== 0; rest &= rest - 1) {
    const level = 31 - Math.clz32(rest & -rest);
    scope += `/${subjectScope.slice(segmentStart[level], segmentEnd[level])}`;
  }
  return scope;
}
