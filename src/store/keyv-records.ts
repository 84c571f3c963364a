import { invariant } from "../core/errors.js";
import type { BudgetWindow } from "../core/windows.js";
import type { AuditEvent, Balance, BudgetDefinition } from "./types.js";

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
 * whether it was replaced or removed, and a held reservation's resolved budgets. Weak maps would do
 * the same, at a garbage-collection cost that grows with the number of budgets.
 */
export const lifetimeCounters = Symbol("lifetimeCounters");
export const retired = Symbol("retired");
export const heldBudgets = Symbol("heldBudgets");
export type Hot<T> = T & { [lifetimeCounters]?: Counters; [retired]?: boolean; [heldBudgets]?: HeldBudget[] };

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

export type StoredAuditEvent = Omit<AuditEvent, "balances"> & { balances?: (string | number)[] };

export function auditBalances(
  balances: readonly { scope: string; allocated: number; remaining: number }[],
): (string | number)[] {
  const flat: (string | number)[] = [];
  for (const balance of balances) flat.push(balance.scope, balance.allocated, balance.remaining);
  return flat;
}

export function publicAuditEvent(stored: StoredAuditEvent): AuditEvent {
  const { balances: flat, ...rest } = stored;
  if (!flat) return rest;
  const balances: NonNullable<AuditEvent["balances"]> = [];
  for (let index = 0; index < flat.length; index += 3) {
    balances.push({
      scope: flat[index] as string,
      allocated: flat[index + 1] as number,
      remaining: flat[index + 2] as number,
    });
  }
  return { ...rest, balances };
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

export function assertCounters(definition: BudgetDefinition, counters: Counters): void {
  invariant(counters.reserved >= 0, `reserved >= 0 on ${definition.scope} (got ${counters.reserved})`);
  invariant(counters.spent >= 0, `spent >= 0 on ${definition.scope} (got ${counters.spent})`);
  invariant(counters.debt >= 0, `debt >= 0 on ${definition.scope} (got ${counters.debt})`);
}

/** Reservation ids are `<tenant value>:<uuid>`; the tenant routes settlement to the right keys. */
export function tenantOfReservation(reservationId: string): string {
  const colon = reservationId.indexOf(":");
  return `tenant:${colon < 0 ? "" : reservationId.slice(0, colon)}`;
}
