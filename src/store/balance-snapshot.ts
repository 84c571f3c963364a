import type { BudgetWindow } from "../core/windows.js";
import type { Balance, BudgetDefinition } from "./types.js";

/** A checked budget as an answer names it: its definition (scope, unit, window, limit never change) and window instance. */
export interface CheckedBudget {
  definition: BudgetDefinition;
  instance: string;
  counters: { spent: number; reserved: number; debt: number };
}

/**
 * The balances of an answer, taken as numbers at answer time (spent, reserved and debt per budget)
 * and built into Balance objects only when someone reads them: most callers never do, and the
 * objects were the largest allocation of an embedded reserve + commit. `budgets` must not change
 * after it is handed over (the embedded store never mutates a held-budget list once made).
 */
export class BalanceSnapshot {
  // Declared only, set once in the constructor (see keyv-answers.ts on class fields).
  declare private readonly budgets: readonly CheckedBudget[];
  declare private readonly numbers: number[];
  declare private built: Balance[] | undefined;

  constructor(budgets: readonly CheckedBudget[]) {
    this.budgets = budgets;
    const numbers = new Array<number>(budgets.length * 3);
    for (let index = 0; index < budgets.length; index++) {
      const counters = budgets[index].counters;
      numbers[3 * index] = counters.spent;
      numbers[3 * index + 1] = counters.reserved;
      numbers[3 * index + 2] = counters.debt;
    }
    this.numbers = numbers;
    this.built = undefined;
  }

  get length(): number {
    return this.budgets.length;
  }

  scopeAt(index: number): string {
    return this.budgets[index].definition.scope;
  }

  definitionAt(index: number): BudgetDefinition {
    return this.budgets[index].definition;
  }

  allocatedAt(index: number): number {
    return this.budgets[index].definition.limit;
  }

  remainingAt(index: number): number {
    const n = this.numbers;
    return this.budgets[index].definition.limit - n[3 * index] - n[3 * index + 1] - n[3 * index + 2];
  }

  /** The Balance objects, built on the first call; every later call returns the same list. */
  toBalances(): Balance[] {
    if (this.built) return this.built;
    const out: Balance[] = [];
    const n = this.numbers;
    for (let index = 0; index < this.budgets.length; index++) {
      const { definition, instance } = this.budgets[index];
      out.push({
        scope: definition.scope,
        unit: definition.unit,
        window: definition.window as BudgetWindow,
        instance,
        allocated: definition.limit,
        spent: n[3 * index],
        reserved: n[3 * index + 1],
        debt: n[3 * index + 2],
        remaining: this.remainingAt(index),
      });
    }
    this.built = out;
    return out;
  }
}

/** An answer's balances as given: built already (a remote store's reply), or a snapshot to build from. */
export type BalanceSource = Balance[] | BalanceSnapshot;

/**
 * The base of an answer that carries balances: `balances` reads as a Balance[] (built from the
 * snapshot on first read, then kept), and toJSON (each subclass's) lists it in its place, so a
 * reader and JSON.stringify see what a plain object with the field showed. Only the own keys differ:
 * `balances` sits on the prototype (an own accessor per answer cost more than the objects it saves).
 */
export abstract class WithBalances {
  #balances: BalanceSource;

  constructor(balances: BalanceSource) {
    this.#balances = balances;
  }

  get balances(): Balance[] {
    const balances = this.#balances;
    if (Array.isArray(balances)) return balances;
    const built = balances.toBalances();
    this.#balances = built;
    return built;
  }

  set balances(value: Balance[]) {
    this.#balances = value;
  }

  /** Sets the balances without building them. */
  balancesFrom(source: BalanceSource): void {
    this.#balances = source;
  }

  /** Every field, balances in its place, as a plain object (what JSON.stringify and structuredClone should see). */
  abstract toJSON(): object;

  /** A plain copy's source: the answer itself, or its toJSON() when it builds balances lazily. */
  static plain<T>(answer: T): T {
    return answer instanceof WithBalances ? (answer.toJSON() as T) : answer;
  }

  /** The balances of any answer, without building them: the snapshot when it is one of these. */
  static sourceOf(answer: { balances: Balance[] }): BalanceSource {
    return answer instanceof WithBalances ? answer.#balances : answer.balances;
  }
}
