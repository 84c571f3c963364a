import type { Caps, Decision, ReasonCode } from "../core/decision.js";
import type { Band } from "../core/narrowing.js";
import type { OveragePolicy } from "../core/schemas.js";
import type { Tier } from "../core/tiers.js";
import type { Unit } from "../core/units.js";
import type { BudgetWindow } from "../core/windows.js";
import type { ChainRecord } from "../evidence/chain.js";
import type { ChainExport } from "../evidence/export.js";
import type { CyclesEnvelope } from "../evidence/receipt.js";
import type { DecisionReceiptQuery, ReceiptQuery } from "../evidence/stored-receipt.js";

/**
 * The storage contract. Every mutating method is ONE atomic step over the whole chain of affected
 * scopes (a Redis store runs each as one Lua script), including its idempotency record and its audit
 * event. Inputs arrive validated by the ledger; expected outcomes (DENY, a settled reservation) are
 * values, and only faults (store unreachable, broken invariants) are thrown.
 */
export interface LedgerStore {
  readonly name: string;
  /** True when several processes may share this store safely. */
  readonly distributed: boolean;
  /**
   * True when the store names reservations itself: the ledger then sends `reservationId: ""` and
   * takes the id from the answer. Absent (false): the ledger chooses every id.
   */
  readonly assignsReservationIds?: boolean;
  putBudget(command: PutBudgetCommand): Promise<PutBudgetOutcome>;
  removeBudget(command: RemoveBudgetCommand): Promise<RemoveBudgetOutcome>;
  listBudgets(query: { scopePrefix?: string }): Promise<BudgetDefinition[]>;
  reserve(command: ReserveCommand): Promise<ReserveResult>;
  commit(command: CommitCommand): Promise<SettleOutcome>;
  release(command: ReleaseCommand): Promise<SettleOutcome>;
  /**
   * Optional, for an in-process store: the same operation answered synchronously, or undefined when
   * it has to wait (still opening, loading, writing through); the caller then uses the async method.
   * Faults throw. The ledger's hot path takes these when present, with no promise in between.
   */
  reserveNow?(command: ReserveCommand): ReserveResult | undefined;
  commitNow?(command: CommitCommand): SettleOutcome | undefined;
  releaseNow?(command: ReleaseCommand): SettleOutcome | undefined;
  extend(command: ExtendCommand): Promise<ExtendOutcome>;
  repayDebt(command: RepayDebtCommand): Promise<RepayDebtOutcome>;
  /** Appends an event that settles nothing (a person's approval decision) to the audit log. */
  recordEvent(event: RecordedEvent): Promise<void>;
  /** Returns every hold whose deadline (TTL + grace, see core/hold-deadline.ts) has passed; resolves to how many expired. */
  sweep(): Promise<number>;
  getBalance(query: BalanceLookup): Promise<Balance | null>;
  getReservation(reservationId: string): Promise<ReservationRecord | null>;
  audit(query: AuditLookup): Promise<AuditEvent[]>;
  /** The store's clock (server time for Redis), in ms since the epoch. */
  now(): Promise<number>;
  /**
   * Optional, for a store that chains its audit (both built-in stores): the chain as kept, per
   * tenant (the tenant scope, or every tenant), oldest first, with its checkpoints and, when
   * retention cut it, the unsigned anchor at the first seq - 1.
   */
  chainExport?(query: { tenant?: string }): Promise<ChainExport>;
  /** Optional, with chainExport: links the events written but not linked yet, in the chains that exist. */
  linkChains?(query?: { tenant?: string }): Promise<void>;
  /**
   * Optional, with chainExport: one record of a tenant's chain (linked first), or undefined when the
   * store keeps no event with that seq (never written, or dropped by retention).
   */
  chainRecord?(query: { tenant: string; seq: number }): Promise<ChainRecord | undefined>;
  /**
   * Optional, for a store built with a signing key: a signed receipt (Cycles evidence envelope) for
   * the tenant's chained event at `seq` (receiptOfStoredRecord), or for a decide() answer the
   * ledger hands over (receiptOfDecision).
   */
  receipt?(query: ReceiptQuery | DecisionReceiptQuery): Promise<CyclesEnvelope>;
  /**
   * Optional, for a store several writers share: runs `work` holding the store's policy lease, so
   * two policy applies (two operators, replicas opening with a policy) never interleave their
   * writes. Waits up to `waitMs` for a lease another writer holds, then fails with
   * POLICY_APPLY_BUSY. `held()` turns false once the lease may have lapsed (its renewals failed):
   * work still to do must stop then.
   */
  withPolicyLease?<T>(work: (held: () => boolean) => Promise<T>, options: { waitMs: number }): Promise<T>;
  close(): Promise<void>;
}

export interface BudgetDefinition {
  scope: string;
  unit: Unit;
  limit: number;
  window: BudgetWindow;
  narrowing: Band[] | null;
  overdraftLimit: number;
  updatedAtMs: number;
}

export interface Balance {
  scope: string;
  unit: Unit;
  window: BudgetWindow;
  /** Which window instance these counters belong to ("life", "run:thread-1", "hour:491234"). */
  instance: string;
  allocated: number;
  spent: number;
  reserved: number;
  debt: number;
  remaining: number;
}

export interface IdempotencyTag {
  key: string;
  /** Hash of the request payload: the same key with another fingerprint is a conflict. */
  fingerprint: string;
}

export type IdempotencyConflict = { ok: false; error: "IDEMPOTENCY_CONFLICT" };

export interface ActionRecord {
  name: string;
  tier: Tier;
  kind?: string;
}

export interface PutBudgetCommand {
  definition: Omit<BudgetDefinition, "updatedAtMs">;
  idempotency?: IdempotencyTag;
}
export type PutBudgetOutcome = { ok: true; definition: BudgetDefinition; created: boolean } | IdempotencyConflict;

export interface RemoveBudgetCommand {
  scope: string;
  unit: Unit;
  idempotency?: IdempotencyTag;
}
export type RemoveBudgetOutcome = { ok: true; removed: boolean } | IdempotencyConflict;

export interface ReserveCommand {
  /**
   * Chosen by the ledger; `<tenant value>:<uuid>` so a store can route by tenant. Empty when the store
   * assignsReservationIds: it then names the reservation `<tenant value>:<36 characters>` itself.
   */
  reservationId: string;
  /**
   * Canonical scope id of the subject. The store checks every budget whose scope carries only
   * level:value pairs of this path (see applicableScopes), outermost first.
   */
  subjectScope: string;
  unit: Unit;
  action: ActionRecord;
  estimate: number;
  runId?: string;
  ttlMs: number;
  graceMs: number;
  overagePolicy: OveragePolicy;
  /** decide(): evaluate only; hold nothing, write nothing (no audit, no idempotency record). */
  dryRun: boolean;
  /** Shadow mode: evaluate and audit, but never block. A would-be DENY holds nothing. */
  shadow: boolean;
  actor?: string;
  idempotency?: IdempotencyTag;
}

export interface ReserveOutcome {
  /** The effective answer (in shadow mode never DENY). */
  decision: Decision;
  reasonCode?: ReasonCode;
  deniedScope?: string;
  caps?: Caps;
  reservationId?: string;
  expiresAtMs?: number;
  /** The checked budgets after the operation, outermost first. */
  balances: Balance[];
  /** In shadow mode: what enforcement would have answered. */
  shadow?: { decision: Decision; reasonCode?: ReasonCode; deniedScope?: string };
  /** True when this answer is the replay of an earlier call with the same idempotency key. */
  replayed?: boolean;
  /**
   * The sequence number of this reserve's own audit event (a replay: the first call's). Per tenant:
   * the audit stream id on Redis, the tenant's chain seq on the embedded store when it chains, else
   * the event's `seq`. Absent for decide(), which writes no event.
   */
  auditSeq?: number;
}

export type ReserveResult = ReserveOutcome | IdempotencyConflict;

export interface CommitCommand {
  reservationId: string;
  /** Defaults to the reservation's estimate. */
  actual?: number;
  actor?: string;
  idempotency?: IdempotencyTag;
}
export interface ReleaseCommand {
  reservationId: string;
  reason?: string;
  actor?: string;
  idempotency?: IdempotencyTag;
  /**
   * Set by the ledger for a reserve whose answer never reached its caller. The release is refused
   * (RESERVATION_FINALIZED) once a replay of that reserve has handed the reservation to a caller, and
   * the reserve's idempotency record (under this key) is forgotten, so a retry is decided afresh.
   */
  lostReserve?: { idempotencyKey?: string };
}

export type SettleError =
  | "RESERVATION_NOT_FOUND"
  | "RESERVATION_FINALIZED"
  | "RESERVATION_EXPIRED"
  | "OVERAGE_REJECTED"
  | "OVERDRAFT_LIMIT_EXCEEDED"
  | "IDEMPOTENCY_CONFLICT";

export type SettleOutcome =
  | {
      ok: true;
      reservationId: string;
      status: "committed" | "released";
      /** Amount turned into spend on each held budget (0 for release). */
      charged: number;
      /** Of `charged`, how much became debt (ALLOW_WITH_OVERDRAFT only). */
      debtAdded: number;
      /** Overage that could not be charged under ALLOW_IF_AVAILABLE. */
      uncharged: number;
      /** Estimate returned to the budgets. */
      released: number;
      balances: Balance[];
      replayed?: boolean;
      /** The sequence number of the settlement's audit event, as ReserveOutcome.auditSeq. */
      auditSeq?: number;
    }
  | { ok: false; error: SettleError; detail?: string };

export interface ExtendCommand {
  reservationId: string;
  ttlMs: number;
  idempotency?: IdempotencyTag;
}
export type ExtendOutcome =
  | { ok: true; reservationId: string; expiresAtMs: number; replayed?: boolean }
  | {
      ok: false;
      error: "RESERVATION_NOT_FOUND" | "RESERVATION_FINALIZED" | "RESERVATION_EXPIRED" | "IDEMPOTENCY_CONFLICT";
    };

export interface RepayDebtCommand {
  scope: string;
  unit: Unit;
  runId?: string;
  amount: number;
  idempotency?: IdempotencyTag;
}
export type RepayDebtOutcome =
  | { ok: true; repaid: number; balance: Balance | null; replayed?: boolean }
  | IdempotencyConflict;

export interface BalanceLookup {
  scope: string;
  unit: Unit;
  runId?: string;
}

export type ReservationStatus = "held" | "committed" | "released" | "expired";

export interface ReservationRecord {
  id: string;
  subjectScope: string;
  unit: Unit;
  action: ActionRecord;
  estimate: number;
  runId?: string;
  /** The budgets held, each with the window instance it was held on. */
  holds: { scope: string; instance: string }[];
  overagePolicy: OveragePolicy;
  status: ReservationStatus;
  /** A shadow reservation held nothing: enforcement would have denied it. */
  shadowDenied: boolean;
  createdAtMs: number;
  expiresAtMs: number;
  graceMs: number;
  charged: number;
}

export const AUDIT_EVENT_TYPES = [
  "reserve",
  "commit",
  "release",
  "expire",
  "extend",
  "budget.set",
  "budget.remove",
  "debt.repay",
  "approval",
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** One line of the audit log: who, what, where, how much, the answer and why. */
export interface AuditEvent {
  /** Monotonic per store (per tenant on Redis); orders events with the same timestamp. */
  seq: number;
  atMs: number;
  type: AuditEventType;
  /** The subject's scope for actions, the budget's scope for budget events. */
  scope: string;
  unit: Unit;
  reservationId?: string;
  action?: ActionRecord;
  runId?: string;
  actor?: string;
  estimate?: number;
  /** Charged on commit, released on release/expire, limit on budget.set, repaid on debt.repay. */
  amount?: number;
  decision?: Decision;
  reasonCode?: ReasonCode;
  deniedScope?: string;
  caps?: Caps;
  shadow?: { decision: Decision; reasonCode?: ReasonCode; deniedScope?: string };
  /** Remaining and allocated of each checked budget after the event. */
  balances?: { scope: string; allocated: number; remaining: number }[];
  detail?: string;
}

/** An audit event that changes no balance; the store stamps `seq` and `atMs` with its own clock. */
export type RecordedEvent = Omit<AuditEvent, "seq" | "atMs">;

export interface AuditLookup {
  /** Events whose scope is this scope or beneath it. */
  scope?: string;
  /** Newest `limit` events (returned oldest first). */
  limit?: number;
  decision?: Decision;
  type?: string;
  action?: string;
  sinceMs?: number;
  untilMs?: number;
  afterSeq?: number;
}
