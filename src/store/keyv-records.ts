import { invariant } from "../core/errors.js";
import { isAmount } from "../core/units.js";
import type { BudgetWindow } from "../core/windows.js";
import type { Balance, BudgetDefinition, ReservationRecord } from "./types.js";

// The embedded store's in-memory records and the pure helpers that read and check them.

export interface Counters {
  spent: number;
  reserved: number;
  debt: number;
  touchedAtMs: number;
}

export interface HeldBudget {
  definition: BudgetDefinition;
  instance: string;
  counters: Counters;
}

/**
 * Hot-path shortcuts kept on the objects themselves under symbols (JSON and structuredClone skip
 * symbol keys, so nothing persisted or returned carries them): a definition's lifetime counters,
 * and whether it was replaced or removed. Weak maps would do
 * the same, at a garbage-collection cost that grows with the number of budgets.
 */
export const lifetimeCounters = Symbol("lifetimeCounters");
export const retired = Symbol("retired");
/** A lifetime budget's hold reference, shared by every hold on it (see heldRef in keyv-store.ts). */
export const lifetimeHold = Symbol("lifetimeHold");
/**
 * The id of the definition's scope in the audit's string table when last interned: checked against
 * the table before use (the string may have been let go since), it spares a hash-table probe per
 * balance of every audit event.
 */
export const auditScopeId = Symbol("auditScopeId");
export type Hot<T> = T & {
  [lifetimeCounters]?: Counters;
  [retired]?: boolean;
  [lifetimeHold]?: HeldBudget;
  [auditScopeId]?: number;
};

export const lifetimeInstance = "life";
export const lifetimeCounterSuffix = `|${lifetimeInstance}`;

/** `c:<scope>|<unit>|<instance>` → `<scope>|<unit>`; scopes and units never contain `|`, run ids may. */
export function budgetKeyOfCounterKey(counterKey: string): string {
  const unitBar = counterKey.indexOf("|");
  return counterKey.slice(2, counterKey.indexOf("|", unitBar + 1));
}

/** Callers get a copy: the cached object is the store's state and carries hot-path symbols. */
export function copyOfDefinition(definition: BudgetDefinition): BudgetDefinition {
  return {
    scope: definition.scope,
    unit: definition.unit,
    limit: definition.limit,
    window: definition.window,
    narrowing:
      definition.narrowing?.map((band) => ({ from: band.from, disabledTiers: [...band.disabledTiers] })) ?? null,
    overdraftLimit: definition.overdraftLimit,
    updatedAtMs: definition.updatedAtMs,
  };
}

export function balanceOf(definition: BudgetDefinition, instance: string, counters: Counters): Balance {
  return {
    scope: definition.scope,
    unit: definition.unit,
    window: definition.window as BudgetWindow,
    instance,
    allocated: definition.limit,
    spent: counters.spent,
    reserved: counters.reserved,
    debt: counters.debt,
    remaining: definition.limit - counters.spent - counters.reserved - counters.debt,
  };
}

/** Checked after every write of counters and when they are read back from keyv: a bad number is never kept. */
export function assertCounters(definition: BudgetDefinition, counters: Counters): void {
  assertCount(counters.reserved, "reserved", definition.scope);
  assertCount(counters.spent, "spent", definition.scope);
  assertCount(counters.debt, "debt", definition.scope);
}

function assertCount(value: number, name: string, scope: string): void {
  // The messages are built only when a check fails: this runs on every write of the hot path.
  if (value >= 0 && Number.isSafeInteger(value)) return;
  invariant(value >= 0, `${name} >= 0 on ${scope} (got ${value})`);
  invariant(false, `${name} is a safe integer on ${scope} (got ${value})`);
}

/**
 * After a hold, which changed only `reserved` (spent and debt were checked when they were written):
 * the decision allowed it only with room, so no budget it holds can go below zero.
 */
export function assertHeld(definition: BudgetDefinition, counters: Counters): void {
  const remaining = definition.limit - counters.spent - counters.reserved - counters.debt;
  if (Number.isSafeInteger(counters.reserved) && counters.reserved >= 0 && remaining >= 0) return;
  assertCount(counters.reserved, "reserved", definition.scope);
  invariant(false, `remaining >= 0 after a hold on ${definition.scope} (got ${remaining})`);
}

/** Records read back from a keyv adapter are checked before the store trusts any number in them. */
export function assertStoredCounters(key: string, value: unknown): asserts value is Counters {
  invariant(typeof value === "object" && value !== null, `counters ${key} are a record`);
  const counters = value as Counters;
  assertCounters({ scope: key } as BudgetDefinition, counters);
  invariant(Number.isFinite(counters.touchedAtMs), `counters ${key} have a finite touchedAtMs`);
}

export function assertStoredDefinition(key: string, value: unknown): asserts value is BudgetDefinition {
  invariant(typeof value === "object" && value !== null, `budget ${key} is a record`);
  const definition = value as BudgetDefinition;
  invariant(isAmount(definition.limit), `limit of budget ${key} is a safe integer >= 0`);
  invariant(isAmount(definition.overdraftLimit), `overdraftLimit of budget ${key} is a safe integer >= 0`);
}

export function assertStoredReservation(id: string, value: unknown): asserts value is ReservationRecord {
  invariant(typeof value === "object" && value !== null, `reservation ${id} is a record`);
  const record = value as ReservationRecord;
  invariant(isAmount(record.estimate), `estimate of reservation ${id} is a safe integer >= 0`);
  invariant(isAmount(record.charged), `charged of reservation ${id} is a safe integer >= 0`);
  invariant(Number.isFinite(record.expiresAtMs), `expiresAtMs of reservation ${id} is finite`);
  invariant(Number.isFinite(record.graceMs), `graceMs of reservation ${id} is finite`);
  invariant(Array.isArray(record.holds), `holds of reservation ${id} are a list`);
}

/** Reservation ids are `<tenant value>:<36 characters>` (a uuid, or the embedded store's slot id); the tenant routes settlement. */
export function tenantOfReservation(reservationId: string): string {
  const colon = reservationId.indexOf(":");
  return `tenant:${colon < 0 ? "" : reservationId.slice(0, colon)}`;
}
