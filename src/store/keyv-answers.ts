import type { Caps, Decision, ReasonCode } from "../core/decision.js";
import type { Unit } from "../core/units.js";
import { type BalanceSource, WithBalances } from "./balance-snapshot.js";
import type { ReserveOutcome, SettleOutcome } from "./types.js";

// The embedded store's answers: plain fields, and balances built only when read (balance-snapshot.ts).
// toJSON lists every field in the order the store's plain answers had, so JSON.stringify, the
// idempotency record (structuredClone of toJSON()) and a replay read exactly as before.

/**
 * A reserve() answer, and a decide() one (nothing held: reservationId, expiresAtMs and auditSeq stay
 * undefined). It also carries what the ledger's answer adds (the subject's scope, the unit and the
 * estimate, all from the command), so the ledger hands this very object to its caller instead of
 * copying it into one of its own: toJSON() is the ledger answer's JSON, toOutcome() the store
 * outcome's (what an idempotency record keeps, as before).
 */
export class EmbeddedReserveOutcome extends WithBalances implements ReserveOutcome {
  decision: Decision;
  reasonCode: ReasonCode | undefined;
  deniedScope: string | undefined;
  caps: Caps | undefined;
  reservationId: string | undefined = undefined;
  expiresAtMs: number | undefined = undefined;
  scope: string;
  unit: Unit;
  estimate: number;
  shadow: ReserveOutcome["shadow"] = undefined;
  replayed: boolean | undefined = undefined;
  auditSeq: number | undefined = undefined;

  constructor(
    evaluation: { decision: Decision; reasonCode?: ReasonCode; deniedScope?: string; caps?: Caps },
    balances: BalanceSource,
    scope: string,
    unit: Unit,
    estimate: number,
  ) {
    super(balances);
    this.decision = evaluation.decision;
    this.reasonCode = evaluation.reasonCode;
    this.deniedScope = evaluation.deniedScope;
    this.caps = evaluation.caps;
    this.scope = scope;
    this.unit = unit;
    this.estimate = estimate;
  }

  /** The ledger answer's fields, in the order its answers always had. */
  toJSON(): ReserveOutcome & { scope: string; unit: Unit; estimate: number } {
    return {
      decision: this.decision,
      reasonCode: this.reasonCode,
      deniedScope: this.deniedScope,
      caps: this.caps,
      reservationId: this.reservationId,
      expiresAtMs: this.expiresAtMs,
      scope: this.scope,
      unit: this.unit,
      estimate: this.estimate,
      balances: this.balances,
      shadow: this.shadow,
      replayed: this.replayed,
      auditSeq: this.auditSeq,
    };
  }

  /** The store outcome's fields, in the order the store's plain answers had. */
  toOutcome(): ReserveOutcome {
    return {
      decision: this.decision,
      reasonCode: this.reasonCode,
      deniedScope: this.deniedScope,
      caps: this.caps,
      reservationId: this.reservationId,
      expiresAtMs: this.expiresAtMs,
      balances: this.balances,
      shadow: this.shadow,
      auditSeq: this.auditSeq,
    };
  }
}

type SettledOutcome = Extract<SettleOutcome, { ok: true }>;

export class EmbeddedSettleOutcome extends WithBalances implements SettledOutcome {
  readonly ok = true as const;
  reservationId: string;
  status: "committed" | "released";
  charged: number;
  debtAdded: number;
  uncharged: number;
  released: number;
  auditSeq: number;

  constructor(
    reservationId: string,
    status: "committed" | "released",
    charged: number,
    debtAdded: number,
    uncharged: number,
    released: number,
    balances: BalanceSource,
    auditSeq: number,
  ) {
    super(balances);
    this.reservationId = reservationId;
    this.status = status;
    this.charged = charged;
    this.debtAdded = debtAdded;
    this.uncharged = uncharged;
    this.released = released;
    this.auditSeq = auditSeq;
  }

  toJSON(): SettledOutcome {
    return {
      ok: true,
      reservationId: this.reservationId,
      status: this.status,
      charged: this.charged,
      debtAdded: this.debtAdded,
      uncharged: this.uncharged,
      released: this.released,
      balances: this.balances,
      auditSeq: this.auditSeq,
    };
  }
}
