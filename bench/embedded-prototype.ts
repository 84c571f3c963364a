import { getRandomValues } from "node:crypto";

/**
 * A minimal embedded ledger doing the benchmark's work and no more, as a yardstick for the real one
 * in the same run: hand validation of the reserve input, a per-tenant trie of subject paths (each
 * node validated once, holding its canonical scope and its budgets), check and hold on every
 * budget on the path, reservations in preallocated slots with ids of slot + generation + random
 * bits, an audit ring in typed arrays, and balances built per answer, behind async methods. It has
 * no windows, narrowing, idempotency, shadow mode, persistence or overage policies: what the real
 * ledger spends on those (and on its general store interface) is the gap between the two.
 */
const levels = ["workspace", "app", "workflow", "agent", "toolset"] as const;
const valuePattern = /^[A-Za-z0-9_.-]+$/;

interface Budget {
  scope: string;
  limit: number;
  spent: number;
  reserved: number;
}

interface PathNode {
  scope: string;
  /** The budgets on this path, outermost first (resolved once per budget change). */
  budgets: Budget[] | undefined;
  children: Map<string, PathNode>[];
}

interface TenantTrie {
  root: PathNode;
  budgets: Map<string, Budget>;
}

export interface PrototypeInput {
  subject: Record<string, string | undefined>;
  action: { name: string; tier: string };
  estimate: number;
}

export class PrototypeLedger {
  private readonly tenants = new Map<string, TenantTrie>();
  private capacity = 1_024;
  private gen = new Uint32Array(this.capacity);
  private tag = new Uint32Array(this.capacity);
  private estimate = new Float64Array(this.capacity);
  private held: (Budget[] | undefined)[] = new Array(this.capacity).fill(undefined);
  private ids: (string | undefined)[] = new Array(this.capacity).fill(undefined);
  private free: number[] = Array.from({ length: this.capacity }, (_, slot) => this.capacity - 1 - slot);
  private readonly audit = new Float64Array(10_000 * 4);
  private auditAt = 0;
  private readonly random = new Uint32Array(1_024);
  private randomAt = this.random.length;

  async setBudget(input: { scope: string; limit: number }): Promise<void> {
    const [tenantSegment] = input.scope.split("/");
    const tenant = tenantSegment.slice("tenant:".length);
    let trie = this.tenants.get(tenant);
    if (!trie) {
      trie = { root: { scope: tenantSegment, budgets: undefined, children: [] }, budgets: new Map() };
      this.tenants.set(tenant, trie);
    }
    trie.budgets.set(input.scope, { scope: input.scope, limit: input.limit, spent: 0, reserved: 0 });
    this.invalidate(trie.root);
  }

  async decide(input: PrototypeInput) {
    return this.evaluate(input, false);
  }

  async reserve(input: PrototypeInput) {
    return this.evaluate(input, true);
  }

  async commit(id: string) {
    const slot = Number.parseInt(id.slice(id.indexOf(":") + 1, id.indexOf(":") + 9), 16);
    if (!(slot >= 0 && slot < this.capacity) || this.ids[slot] !== id) throw new Error("RESERVATION_NOT_FOUND");
    const budgets = this.held[slot] as Budget[];
    const amount = this.estimate[slot];
    for (const budget of budgets) {
      budget.reserved -= amount;
      budget.spent += amount;
    }
    this.ids[slot] = undefined;
    this.held[slot] = undefined;
    this.gen[slot]++;
    this.free.push(slot);
    this.appendAudit(2, amount);
    return { ok: true, charged: amount, balances: budgets.map((budget) => this.balance(budget)) };
  }

  private evaluate(input: PrototypeInput, hold: boolean) {
    const { subject, action, estimate } = input;
    if (!(Number.isSafeInteger(estimate) && estimate >= 0)) throw new Error("estimate");
    if (typeof action?.name !== "string" || typeof action.tier !== "string") throw new Error("action");
    const node = this.pathOf(subject);
    const budgets = node?.budgets ?? [];
    let allowed = budgets.length > 0;
    for (const budget of budgets) {
      if (budget.limit - budget.spent - budget.reserved < estimate) allowed = false;
    }
    let reservationId: string | undefined;
    if (allowed && hold) {
      for (const budget of budgets) budget.reserved += estimate;
      const slot = this.open(budgets, estimate);
      reservationId = `${subject.tenant}:${slot.toString(16).padStart(8, "0")}-${this.gen[slot]}-${this.tag[slot]}`;
      this.ids[slot] = reservationId;
      this.appendAudit(1, estimate);
    }
    return {
      decision: allowed ? "ALLOW" : "DENY",
      reservationId,
      scope: node?.scope,
      balances: budgets.map((budget) => this.balance(budget)),
    };
  }

  /** Walks the trie by level values: a value is checked once, when its node is made. */
  private pathOf(subject: Record<string, string | undefined>): PathNode | undefined {
    const trie = typeof subject.tenant === "string" ? this.tenants.get(subject.tenant) : undefined;
    if (!trie) return undefined;
    let node = trie.root;
    for (let level = 0; level < levels.length; level++) {
      const value = subject[levels[level]];
      if (value === undefined) continue;
      let child = node.children[level]?.get(value);
      if (!child) {
        if (typeof value !== "string" || !valuePattern.test(value)) return undefined;
        child = { scope: `${node.scope}/${levels[level]}:${value}`, budgets: undefined, children: [] };
        node.children[level] ??= new Map();
        node.children[level].set(value, child);
      }
      node = child;
    }
    node.budgets ??= this.resolve(trie, node.scope);
    return node;
  }

  private resolve(trie: TenantTrie, scope: string): Budget[] {
    const segments = scope.split("/");
    const found: Budget[] = [];
    for (let mask = 0; mask < 1 << (segments.length - 1); mask++) {
      let candidate = segments[0];
      for (let index = 1; index < segments.length; index++) {
        if (mask & (1 << (index - 1))) candidate += `/${segments[index]}`;
      }
      const budget = trie.budgets.get(candidate);
      if (budget) found.push(budget);
    }
    return found;
  }

  private invalidate(node: PathNode): void {
    node.budgets = undefined;
    for (const children of node.children) for (const child of children?.values() ?? []) this.invalidate(child);
  }

  private open(budgets: Budget[], estimate: number): number {
    if (this.free.length === 0) throw new Error("prototype: slots exhausted");
    const slot = this.free.pop() as number;
    if (this.randomAt === this.random.length) {
      getRandomValues(this.random);
      this.randomAt = 0;
    }
    this.tag[slot] = this.random[this.randomAt++];
    this.estimate[slot] = estimate;
    this.held[slot] = budgets;
    return slot;
  }

  private appendAudit(type: number, amount: number): void {
    const at = (this.auditAt++ % 10_000) * 4;
    this.audit[at] = this.auditAt;
    this.audit[at + 1] = Date.now();
    this.audit[at + 2] = type;
    this.audit[at + 3] = amount;
  }

  private balance(budget: Budget) {
    return {
      scope: budget.scope,
      allocated: budget.limit,
      spent: budget.spent,
      reserved: budget.reserved,
      remaining: budget.limit - budget.spent - budget.reserved,
    };
  }
}
