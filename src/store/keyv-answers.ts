import type { Caps, Decision, ReasonCode } from "../core/decision.js";
import type { Unit } from "../core/units.js";
import { type BalanceSource, WithBalances } from "./balance-snapshot.js";
import type { ReserveOutcome, SettleOutcome } from "./types.js";

// The embedded store's answers: plain fields, and balances built only when read (balance-snapshot.ts).
// toJSON lists every field in the order the store's plain answers had, so JSON.stringify, the
// idempotency record (structuredClone of toJSON()) and a replay read exactly as before. Fields are
// declared only and all set in the constructor, in their order: a class field with define semantics
// is defined once by the field initializer and written again by the constructor.

/**
 * A reserve() answer, and a decide() one (nothing held: reservationId, expiresAtMs and auditSeq stay
 * undefined). It also carries what the ledger's answer adds (the subject's scope, the unit and the
 * estimate, all from the command), so the ledger hands this very object to its caller instead of
 * copying it into one of its own: toJSON() is the ledger answer's JSON, toOutcome() the store
 * outcome's (what an idempotency record keeps, as before).
 */
/** A reserve answer as the ledger hands it out: the store outcome with the command's scope, unit and estimate. */
export type ReserveAnswerJson = ReserveOutcome & { scope: string; unit: Unit; estimate: number; replayed?: boolean };

/**
 * The JSON of a reserve answer, in the order the ledger's answers always had: one field list for
 * every answer class (this store's and the ledger's own), so the two cannot drift apart.
 */
export function reserveAnswerJson(answer: Readonly<ReserveAnswerJson>): ReserveAnswerJson {
  return {
    decision: answer.decision,
    reasonCode: answer.reasonCode,
    deniedScope: answer.deniedScope,
    caps: answer.caps,
    reservationId: answer.reservationId,
    expiresAtMs: answer.expiresAtMs,
    scope: answer.scope,
    unit: answer.unit,
    estimate: answer.estimate,
    balances: answer.balances,
    shadow: answer.shadow,
    replayed: answer.replayed,
    auditSeq: answer.auditSeq,
  };
}

export class EmbeddedReserveOutcome extends WithBalances implements ReserveOutcome {
  declare decision: Decision;
  declare reasonCode: ReasonCode | undefined;
  declare deniedScope: string | undefined;
  declare caps: Caps | undefined;
  declare reservationId: string | undefined;
  declare expiresAtMs: number | undefined;
  declare scope: string;
  declare unit: Unit;
  declare estimate: number;
  declare shadow: ReserveOutcome["shadow"];
  declare replayed: boolean | undefined;
  declare auditSeq: number | undefined;

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
    this.reservationId = undefined;
    this.expiresAtMs = undefined;
    this.scope = scope;
    this.unit = unit;
    this.estimate = estimate;
    this.shadow = undefined;
    this.replayed = undefined;
    this.auditSeq = undefined;
  }

  /** The ledger answer's fields, in the order its answers always had. */
  toJSON(): ReserveAnswerJson {
    return reserveAnswerJson(this);
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
  declare readonly ok: true;
  declare reservationId: string;
  declare status: "committed" | "released";
  declare charged: number;
  declare debtAdded: number;
  declare uncharged: number;
  declare released: number;
  declare auditSeq: number;

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
    (this as { ok: true }).ok = true;
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
