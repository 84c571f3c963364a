/**
 * Which budget shapes a tenant has, so a reserve sends only the candidate scopes that can have a
 * budget. A shape is a scope's levels with a unit ("RISK_POINTS|tenant/workspace/toolset"): a
 * subject's candidates are every subset of its levels (2^(depth-1) scopes), but a tenant's budgets
 * usually sit on a few shapes.
 *
 * Never a wrong decision from a stale cache: each entry is a snapshot of the tenant's budget fields
 * at a generation that Redis bumps whenever a budget is created or removed, by any process; the
 * reserve sends it, and the script answers SHAPES_CHANGED instead of deciding when it differs (the
 * client refreshes and asks again). Updating a budget's limit keeps its field, so its shape too.
 */
export class BudgetShapes {
  private readonly tenants = new Map<string, TenantShapes>();
  private readonly refreshing = new Map<string, Promise<TenantShapes | undefined>>();
  /** Tenants seen without a snapshot, and how often: a snapshot is read for those that come back. */
  private readonly misses = new Map<string, number>();

  constructor(
    /** Reads the tenant's budget fields and their generation (the shapes function). */
    private readonly read: (tenant: string) => Promise<{ generation: string; fields: string[] }>,
    private readonly tenantsMax = 100_000,
  ) {}

  get(tenant: string): TenantShapes | undefined {
    return this.tenants.get(tenant);
  }

  /**
   * A reserve went out without a snapshot of this tenant: true from its second time on, when the
   * snapshot is worth a read (a tenant seen once, like most of many tenants touched in turn, costs
   * nothing extra).
   */
  missed(tenant: string): boolean {
    const count = (this.misses.get(tenant) ?? 0) + 1;
    if (this.misses.size >= this.tenantsMax) this.misses.clear();
    this.misses.set(tenant, count);
    return count >= 2;
  }

  /** Reads the tenant's shapes again; concurrent refreshes of one tenant share one read. */
  refresh(tenant: string): Promise<TenantShapes | undefined> {
    let pending = this.refreshing.get(tenant);
    if (!pending) {
      pending = this.read(tenant)
        .then(({ generation, fields }) => {
          const shapes = new TenantShapes(generation, fields);
          if (this.tenants.size >= this.tenantsMax) this.tenants.clear();
          this.tenants.set(tenant, shapes);
          this.misses.delete(tenant);
          return shapes;
        })
        .finally(() => this.refreshing.delete(tenant));
      if (this.refreshing.size < this.tenantsMax) this.refreshing.set(tenant, pending);
    }
    return pending;
  }
}

/** Candidate lists kept per subject scope and unit, per tenant. */
const filteredMax = 1_000;

export class TenantShapes {
  private readonly shapes = new Set<string>();
  private readonly filtered = new Map<string, readonly string[]>();

  constructor(
    readonly generation: string,
    fields: readonly string[],
  ) {
    for (const field of fields) {
      const bar = field.lastIndexOf("|");
      this.shapes.add(`${field.slice(bar + 1)}|${shapeOf(field.slice(0, bar))}`);
    }
  }

  /** The candidates (all of a subject's applicable scopes, in order) whose shape has a budget in `unit`. */
  candidates(subjectScope: string, unit: string, all: readonly string[]): readonly string[] {
    const key = `${unit}|${subjectScope}`;
    let kept = this.filtered.get(key);
    if (!kept) {
      kept = all.filter((scope) => this.shapes.has(`${unit}|${shapeOf(scope)}`));
      if (this.filtered.size >= filteredMax) this.filtered.clear();
      this.filtered.set(key, kept);
    }
    return kept;
  }
}

/** "tenant:acme/agent:a" → "tenant/agent". */
export function shapeOf(scope: string): string {
  return scope
    .split("/")
    .map((segment) => segment.slice(0, segment.indexOf(":")))
    .join("/");
}
