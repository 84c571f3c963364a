import { expect } from "vitest";
import type { Decision, ReasonCode } from "../../src/core/decision.js";
import type { Band } from "../../src/core/narrowing.js";
import type { OveragePolicy } from "../../src/core/schemas.js";
import type { Subject } from "../../src/core/scope.js";
import type { Tier } from "../../src/core/tiers.js";
import type { Unit } from "../../src/core/units.js";
import type { BudgetWindow } from "../../src/core/windows.js";
import type { Ledger } from "../../src/ledger/ledger.js";
import type { Balance } from "../../src/store/types.js";
import type { StoreHarness } from "./harness.js";

/** One event per row, the expected outcome at the end of the row. */
export type Row =
  | {
      op: "budget";
      scope: string;
      limit: number;
      unit?: Unit;
      window?: BudgetWindow;
      narrowing?: "progressive" | Band[];
      overdraftLimit?: number;
    }
  | { op: "remove"; scope: string }
  | {
      op: "reserve" | "decide";
      as?: string;
      subject: Subject;
      action: { name: string; tier: Tier };
      estimate: number;
      runId?: string;
      ttlMs?: number;
      overagePolicy?: OveragePolicy;
      expect: Decision;
      reason?: ReasonCode;
      disabledTiers?: string[];
    }
  | { op: "commit"; ref: string; actual?: number; expect: "ok" | string; charged?: number; uncharged?: number }
  | { op: "release"; ref: string; expect: "ok" | string }
  | { op: "extend"; ref: string; ttlMs: number; expect: "ok" | string }
  | { op: "advance"; ms: number }
  | { op: "sweep"; expect?: number }
  | { op: "repay"; scope: string; amount: number }
  | { op: "balance"; scope: string; runId?: string; expect: Partial<Balance> };

export async function runTable(ledger: Ledger, harness: StoreHarness, rows: Row[]): Promise<void> {
  const ids = new Map<string, string>();
  const idOf = (ref: string) => ids.get(ref) ?? `acme:${ref}`;
  for (const [index, row] of rows.entries()) {
    const where = `row ${index + 1}: ${JSON.stringify(row)}`;
    switch (row.op) {
      case "budget": {
        const { op: _op, ...input } = row;
        await ledger.setBudget(input);
        break;
      }
      case "remove":
        await ledger.removeBudget({ scope: row.scope });
        break;
      case "reserve":
      case "decide": {
        const { op, as, expect: expected, reason, disabledTiers, ...input } = row;
        const response = await (op === "reserve" ? ledger.reserve(input) : ledger.decide(input));
        expect(response.decision, where).toBe(expected);
        if (reason) expect(response.reasonCode, where).toBe(reason);
        if (disabledTiers) expect(response.caps?.disabledTiers, where).toEqual(disabledTiers);
        if (op === "decide") expect(response.reservationId, where).toBeUndefined();
        if (as) {
          expect(response.reservationId, where).toBeDefined();
          ids.set(as, response.reservationId as string);
        }
        break;
      }
      case "commit":
      case "release":
      case "extend": {
        const settle =
          row.op === "commit"
            ? ledger.commit(idOf(row.ref), { actual: row.actual })
            : row.op === "release"
              ? ledger.release(idOf(row.ref))
              : ledger.extend(idOf(row.ref), { ttlMs: row.ttlMs });
        const outcome = await settle.then(
          (value) => ({ code: "ok", value }) as const,
          (error: { code?: string }) => ({ code: error.code ?? String(error), value: undefined }) as const,
        );
        expect(outcome.code, where).toBe(row.expect);
        if (row.op === "commit" && outcome.value && "charged" in outcome.value) {
          if (row.charged !== undefined) expect(outcome.value.charged, where).toBe(row.charged);
          if (row.uncharged !== undefined) expect(outcome.value.uncharged, where).toBe(row.uncharged);
        }
        break;
      }
      case "advance":
        await harness.advanceTimeMs(row.ms);
        break;
      case "sweep": {
        const expired = await ledger.sweep();
        if (row.expect !== undefined) expect(expired, where).toBe(row.expect);
        break;
      }
      case "repay":
        await ledger.repayDebt({ scope: row.scope, amount: row.amount });
        break;
      case "balance": {
        const balance = await ledger.getBalance({ scope: row.scope, runId: row.runId });
        expect(balance, where).toMatchObject(row.expect);
        break;
      }
    }
  }
}
