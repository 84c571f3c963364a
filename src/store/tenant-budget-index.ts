import { compareSubsets, SCOPE_LEVELS } from "../core/scope.js";
import type { Unit } from "../core/units.js";
import type { BudgetDefinition } from "./types.js";

interface TenantBudgets {
  byScope: Map<string, BudgetDefinition>;
  /** Each distinct shape (the set of levels below the tenant, as a bitmask) and how many budgets have it. */
  shapeCounts: Map<number, number>;
  /** The shapes in scope-listing order (fewer levels first, outermost first). */
  shapes: number[];
}

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

/**
 * Budget definitions by unit and tenant, indexed by shape. An action's applicable budgets are found
 * by trying only the shapes its tenant actually has (usually a handful) instead of all 32 subsets of
 * a six-level subject: the cost of a decision stays flat however many tenants are provisioned.
 */
export class TenantBudgetIndex {
  private readonly byUnit = new Map<Unit, Map<string, TenantBudgets>>();

  get(scope: string, unit: Unit): BudgetDefinition | undefined {
    return this.byUnit.get(unit)?.get(tenantOf(scope))?.byScope.get(scope);
  }

  set(definition: BudgetDefinition): void {
    let tenants = this.byUnit.get(definition.unit);
    if (!tenants) {
      tenants = new Map();
      this.byUnit.set(definition.unit, tenants);
    }
    const tenant = tenantOf(definition.scope);
    let budgets = tenants.get(tenant);
    if (!budgets) {
      budgets = { byScope: new Map(), shapeCounts: new Map(), shapes: [] };
      tenants.set(tenant, budgets);
    }
    if (!budgets.byScope.has(definition.scope)) {
      const shape = shapeOf(definition.scope);
      const count = budgets.shapeCounts.get(shape) ?? 0;
      budgets.shapeCounts.set(shape, count + 1);
      if (count === 0) budgets.shapes = [...budgets.shapes, shape].sort(compareSubsets);
    }
    budgets.byScope.set(definition.scope, definition);
  }

  delete(scope: string, unit: Unit): boolean {
    const tenants = this.byUnit.get(unit);
    const tenant = tenantOf(scope);
    const budgets = tenants?.get(tenant);
    if (!tenants || !budgets?.byScope.delete(scope)) return false;
    const shape = shapeOf(scope);
    const count = (budgets.shapeCounts.get(shape) ?? 1) - 1;
    if (count > 0) budgets.shapeCounts.set(shape, count);
    else {
      budgets.shapeCounts.delete(shape);
      budgets.shapes = budgets.shapes.filter((existing) => existing !== shape);
    }
    if (budgets.byScope.size === 0) tenants.delete(tenant);
    return true;
  }

  /** The budgets an action of this subject draws on in this unit, outermost first. */
  applicable(subjectScope: string, unit: Unit): BudgetDefinition[] {
    const budgets = this.byUnit.get(unit)?.get(tenantOf(subjectScope));
    if (!budgets) return [];
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
    for (const shape of budgets.shapes) {
      if ((shape & ~subjectShape) !== 0) continue;
      let scope = segments[0];
      for (let rest = shape; rest !== 0; rest &= rest - 1) scope += `/${segmentOfBit[31 - Math.clz32(rest & -rest)]}`;
      const definition = budgets.byScope.get(scope);
      if (definition) found.push(definition);
    }
    return found;
  }
}

function tenantOf(scope: string): string {
  const slash = scope.indexOf("/");
  return slash < 0 ? scope : scope.slice(0, slash);
}
