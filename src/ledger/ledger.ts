import { createHash, randomUUID } from "node:crypto";
import type { Caps, Decision, ReasonCode } from "../core/decision.js";
import {
  IdempotencyConflictError,
  invariant,
  isTransient,
  LedgerUnavailableError,
  OverageError,
  ReservationStateError,
  TollgateError,
  ValidationError,
} from "../core/errors.js";
import { fastCommitInput, fastReleaseInput, fastReserveInput } from "../core/fast-reserve-input.js";
import {
  reservationGraceMsDefault,
  reservationIdLengthMax,
  reservationTtlMsDefault,
  sweepIntervalMsDefault,
} from "../core/limits.js";
import { resolveNarrowing } from "../core/narrowing.js";
import type { Policy } from "../core/policy.js";
import {
  type AuditQuery,
  auditQuerySchema,
  type BalanceQuery,
  balanceQuerySchema,
  type CommitInput,
  commitSchema,
  type DecideReceiptInput,
  decideReceiptSchema,
  type ExtendInput,
  extendSchema,
  type ListBudgetsQuery,
  listBudgetsSchema,
  type OveragePolicy,
  parseInput,
  type ReceiptInput,
  type RecordApprovalInput,
  type ReleaseInput,
  type RemoveBudgetInput,
  type RepayDebtInput,
  type ReserveInput,
  receiptQuerySchema,
  recordApprovalSchema,
  releaseSchema,
  removeBudgetSchema,
  repayDebtSchema,
  reservationIdSchema,
  reserveSchema,
  type SetBudgetInput,
  setBudgetSchema,
} from "../core/schemas.js";
import { type Subject, scopeIdOf, tenantScopeOf } from "../core/scope.js";
import type { Tier } from "../core/tiers.js";
import { type Unit, unitDefault } from "../core/units.js";
import type { JsonObject } from "../evidence/canonical.js";
import type { CyclesEnvelope } from "../evidence/receipt.js";
import { WithBalances } from "../store/balance-snapshot.js";
import { EmbeddedReserveOutcome, reserveAnswerJson } from "../store/keyv-answers.js";
import type {
  AuditEvent,
  Balance,
  BudgetDefinition,
  IdempotencyTag,
  LedgerStore,
  ReservationRecord,
  ReserveCommand,
  ReserveOutcome,
  ReserveResult,
  SettleOutcome,
} from "../store/types.js";
import { recordDecision, recordSettlement } from "./telemetry.js";

export type LedgerMode = "enforce" | "shadow";

export interface LedgerOptions {
  /** "shadow" decides and audits but never blocks: for rolling a policy out safely. */
  mode?: LedgerMode;
  /**
   * Default TTL of a hold; an unsettled hold returns by itself after ttl + grace (rounded down to a
   * slot of at most a quarter of the grace: core/hold-deadline.ts).
   */
  reservationTtlMs?: number;
  reservationGraceMs?: number;
  /** How often held reservations past their deadline are swept (an unref'd timer). 0 disables. */
  sweepIntervalMs?: number;
  /**
   * How long a store call may take before a reservation fails closed with LEDGER_UNAVAILABLE; a
   * settle fails within the same bound, its retries included.
   */
  storeTimeoutMs?: number;
  /** Tiers allowed through (without a hold) when the store is unreachable. Default: none. */
  failOpenTiers?: Tier[];
  /** Settle retries against a distributed store, with the same idempotency key. */
  settleAttemptsMax?: number;
}

interface ReserveResponseFields {
  /** On ALLOW_WITH_CAPS (and on TIER_DISABLED denials): what the agent may still do next. */
  caps?: Caps;
  expiresAtMs?: number;
  /** Canonical scope id of the subject. */
  scope: string;
  unit: Unit;
  estimate: number;
  /** The checked budgets after the decision, outermost first. */
  balances: Balance[];
  /** Shadow mode: what enforcement would have answered. */
  shadow?: { decision: Decision; reasonCode?: ReasonCode; deniedScope?: string };
  /** This answer replays an earlier call with the same idempotency key. */
  replayed?: boolean;
  /**
   * The sequence number of this decision's audit event in its tenant's evidence chain, when the
   * store reports it: the join key between a trace and the evidence. Absent for decide().
   */
  auditSeq?: number;
}

/** An ALLOW or ALLOW_WITH_CAPS: go ahead. */
export interface AllowResponse extends ReserveResponseFields {
  decision: "ALLOW" | "ALLOW_WITH_CAPS";
  /** Set only when a tier fails open on an unreachable store (LEDGER_UNAVAILABLE). */
  reasonCode?: ReasonCode;
  deniedScope?: undefined;
  /** Set when something was held: settle it with commit() or release(). */
  reservationId?: string;
}

/** A DENY: the action must not run; `reasonCode` says why. */
export interface DenyResponse extends ReserveResponseFields {
  decision: "DENY";
  reasonCode: ReasonCode;
  /** The scope whose budget caused the denial. */
  deniedScope?: string;
  reservationId?: undefined;
}

/** The answer to reserve() and decide(). A DENY is a value, never an exception. */
export type ReserveResponse = AllowResponse | DenyResponse;

export type SettleResponse = Extract<SettleOutcome, { ok: true }>;

export interface Ledger {
  readonly mode: LedgerMode;
  /** The policy the ledger was created with, if any: the integrations read its tool rules and fallbacks. */
  readonly policy?: Policy;
  setBudget(input: SetBudgetInput): Promise<BudgetDefinition>;
  removeBudget(input: RemoveBudgetInput): Promise<{ removed: boolean }>;
  /** The budgets at and beneath a scope; every tenant's only with `{ allTenants: true }`. */
  listBudgets(query: ListBudgetsQuery): Promise<BudgetDefinition[]>;
  reserve(input: ReserveInput): Promise<ReserveResponse>;
  decide(input: ReserveInput): Promise<ReserveResponse>;
  commit(reservationId: string, input?: CommitInput): Promise<SettleResponse>;
  release(reservationId: string, input?: ReleaseInput): Promise<SettleResponse>;
  extend(reservationId: string, input: ExtendInput): Promise<{ reservationId: string; expiresAtMs: number }>;
  repayDebt(input: RepayDebtInput): Promise<{ repaid: number; balance: Balance | null }>;
  getBalance(query: BalanceQuery): Promise<Balance | null>;
  getReservation(reservationId: string): Promise<ReservationRecord | null>;
  audit(query?: AuditQuery): Promise<AuditEvent[]>;
  /**
   * Records a person's decision on a denied action in the audit log. An approval's spend is recorded
   * by the reservation made on the approver's behalf; this is for what spends nothing (a rejection,
   * a timeout) or to note who approved before the action runs.
   */
  recordApproval(input: RecordApprovalInput): Promise<void>;
  /**
   * A signed receipt (Cycles evidence envelope) for one audit event: the chained event at `seq` of
   * the scope's tenant, as `auditSeq` of a reserve/commit/release answer names it; or, with
   * `{ decide }`, a decide() made now and its answer (artifact type "decide"). Needs `evidence`
   * with a `privateKey`; an event no longer kept is a ValidationError naming `seq`.
   */
  receipt(input: ReceiptInput | DecideReceiptInput): Promise<CyclesEnvelope>;
  /** Expires overdue holds now (the periodic sweep does this on its own). */
  sweep(): Promise<number>;
  /** The store, for tooling (CLI, tests). */
  readonly store: Promise<LedgerStore>;
  close(): Promise<void>;
}

/**
 * The ledger over any LedgerStore: validates input, names reservations, fails closed on store
 * faults, turns store outcomes into typed errors, and runs the expiry sweep.
 */
export class StoreLedger implements Ledger {
  readonly mode: LedgerMode;
  readonly policy?: Policy;
  readonly store: Promise<LedgerStore>;
  private resolvedStore: LedgerStore | undefined;
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private readonly storeTimeoutMs: number;
  private readonly failOpenTiers: ReadonlySet<Tier>;
  private readonly settleAttemptsMax: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /**
   * Reservations whose reserve failed after it may have reached the store (no answer in time, a
   * lost connection): the caller was told DENY (or a fail-open ALLOW without a hold), so whatever the
   * store may have held is released as soon as it answers again. Oldest first; bounded.
   */
  private readonly lostReserves = new Map<string, string | undefined>();
  private releasingLost: Promise<void> | undefined;

  /** `policy`: the one it was provisioned from; its tool rules and fallbacks serve the integrations. */
  constructor(store: LedgerStore | Promise<LedgerStore>, options: LedgerOptions & { policy?: Policy } = {}) {
    this.mode = options.mode ?? "enforce";
    if (options.policy) this.policy = options.policy;
    this.ttlMs = options.reservationTtlMs ?? reservationTtlMsDefault;
    this.graceMs = options.reservationGraceMs ?? reservationGraceMsDefault;
    this.storeTimeoutMs = options.storeTimeoutMs ?? 2_000;
    this.failOpenTiers = new Set(options.failOpenTiers ?? []);
    this.settleAttemptsMax = options.settleAttemptsMax ?? 3;
    this.store = Promise.resolve(store).then((resolved) => {
      this.resolvedStore = resolved;
      return resolved;
    });
    // Keep an unhandled rejection from escaping before the first call awaits the store.
    this.store.catch(() => undefined);
    const sweepIntervalMs = options.sweepIntervalMs ?? sweepIntervalMsDefault;
    if (sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweep().catch(() => undefined);
      }, sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  /** The store without a microtask when it is open already (the hot path). */
  private readyStore(): LedgerStore | undefined {
    return this.closed ? undefined : this.resolvedStore;
  }

  private async getStore(): Promise<LedgerStore> {
    if (this.closed) throw new TollgateError("LEDGER_UNAVAILABLE", "The ledger is closed");
    return this.resolvedStore ?? this.store;
  }

  async setBudget(input: SetBudgetInput): Promise<BudgetDefinition> {
    const parsed = parseInput(setBudgetSchema, input);
    const narrowing = resolveNarrowing(parsed.narrowing);
    const store = await this.getStore();
    const outcome = await store.putBudget({
      definition: {
        scope: parsed.scope,
        unit: parsed.unit ?? unitDefault,
        limit: parsed.limit,
        window: parsed.window ?? "lifetime",
        narrowing,
        overdraftLimit: parsed.overdraftLimit ?? 0,
      },
      idempotency: tagOf(parsed.idempotencyKey, parsed),
    });
    if (!outcome.ok) throw new IdempotencyConflictError(parsed.idempotencyKey as string);
    return outcome.definition;
  }

  async removeBudget(input: RemoveBudgetInput): Promise<{ removed: boolean }> {
    const parsed = parseInput(removeBudgetSchema, input);
    const store = await this.getStore();
    const outcome = await store.removeBudget({
      scope: parsed.scope,
      unit: parsed.unit ?? unitDefault,
      idempotency: tagOf(parsed.idempotencyKey, parsed),
    });
    if (!outcome.ok) throw new IdempotencyConflictError(parsed.idempotencyKey as string);
    return { removed: outcome.removed };
  }

  async listBudgets(query: ListBudgetsQuery): Promise<BudgetDefinition[]> {
    const parsed = parseInput(listBudgetsSchema, query ?? {});
    const store = await this.getStore();
    return store.listBudgets({ scopePrefix: parsed.scope });
  }

  reserve(input: ReserveInput): Promise<ReserveResponse> {
    return this.reserveOrDecide(input, false);
  }

  decide(input: ReserveInput): Promise<ReserveResponse> {
    return this.reserveOrDecide(input, true);
  }

  /**
   * The hot path takes no promise in between: a store with a synchronous core (reserveNow) answers
   * at once, and the response is handed back in one resolved promise. Anything else (a store still
   * opening, writing through, or remote) takes the async path with the same rules.
   */
  private reserveOrDecide(input: ReserveInput, dryRun: boolean): Promise<ReserveResponse> {
    let request: ReserveRequest;
    try {
      request = reserveRequestOf(input);
    } catch (error) {
      return Promise.reject(error);
    }
    const store = this.readyStore();
    if (store?.reserveNow) {
      const reservationId = this.reservationIdFor(store, request);
      let outcome: ReserveResult | undefined;
      try {
        outcome = store.reserveNow(this.reserveCommand(request, reservationId, dryRun));
      } catch (error) {
        return this.reserveFailed(error, request, reservationId, dryRun);
      }
      if (outcome !== undefined) {
        try {
          return Promise.resolve(this.reserveAnswered(outcome, request, dryRun));
        } catch (error) {
          return Promise.reject(error);
        }
      }
    }
    return this.reserveAsync(request, dryRun);
  }

  private async reserveAsync(request: ReserveRequest, dryRun: boolean): Promise<ReserveResponse> {
    let reservationId = "";
    let outcome: ReserveResult;
    try {
      const store = this.readyStore() ?? (await this.getStore());
      reservationId = this.reservationIdFor(store, request);
      outcome = await this.withTimeout(store.reserve(this.reserveCommand(request, reservationId, dryRun)));
    } catch (error) {
      return this.reserveFailed(error, request, reservationId, dryRun);
    }
    return this.reserveAnswered(outcome, request, dryRun);
  }

  /** A store that names its reservations gets "" (its id comes back in the answer). */
  private reservationIdFor(store: LedgerStore, request: ReserveRequest): string {
    return store.assignsReservationIds ? "" : `${request.input.subject.tenant}:${randomUUID()}`;
  }

  private reserveCommand(request: ReserveRequest, reservationId: string, dryRun: boolean): ReserveCommand {
    const parsed = request.input;
    return {
      reservationId,
      subjectScope: request.scopeId,
      unit: parsed.unit ?? unitDefault,
      // A fresh copy already (the input was read into one), which the store may keep.
      action: parsed.action,
      estimate: parsed.estimate,
      runId: parsed.runId,
      ttlMs: parsed.ttlMs ?? this.ttlMs,
      graceMs: this.graceMs,
      overagePolicy: (parsed.overagePolicy ?? "ALLOW_IF_AVAILABLE") as OveragePolicy,
      dryRun,
      shadow: this.mode === "shadow",
      actor: parsed.actor,
      idempotency: tagOf(parsed.idempotencyKey, parsed),
    };
  }

  private reserveFailed(
    error: unknown,
    request: ReserveRequest,
    reservationId: string,
    dryRun: boolean,
  ): Promise<ReserveResponse> {
    if (error instanceof ValidationError) return Promise.reject(error);
    const { input: parsed, scopeId: subjectScope } = request;
    const unit = parsed.unit ?? unitDefault;
    // The store may have made the hold before its answer was lost: release it once the store answers.
    // (A store that never opened was never asked; one that names its reservations answered nothing,
    // so there is no id to release.)
    if (!dryRun && reservationId && this.resolvedStore && !this.closed) {
      this.releaseLost(reservationId, parsed.idempotencyKey);
    }
    // Fail closed: an unreachable ledger never turns into an accidental ALLOW (unless told so for a tier).
    const decision = this.failOpenTiers.has(parsed.action.tier) ? "ALLOW" : "DENY";
    const unavailable = {
      scope: subjectScope,
      unit,
      estimate: parsed.estimate,
      decision,
      reasonCode: "LEDGER_UNAVAILABLE",
      balances: [],
    } as ReserveResponse;
    return Promise.resolve(recordDecision(unavailable, parsed, dryRun, this.mode));
  }

  private reserveAnswered(outcome: ReserveResult, request: ReserveRequest, dryRun: boolean): ReserveResponse {
    const parsed = request.input;
    if ("ok" in outcome) throw new IdempotencyConflictError(parsed.idempotencyKey as string);
    // A retry whose replay hands over a reservation noted as lost: its caller knows it now.
    if (outcome.replayed && outcome.reservationId) this.lostReserves.delete(outcome.reservationId);
    // The embedded store's answer carries the scope, unit and estimate of its command (this request's)
    // already: it is the answer. Any other (a remote store's, a replay) is copied into one.
    const response = (outcome instanceof EmbeddedReserveOutcome
      ? outcome
      : new LedgerReserveResponse(
          outcome,
          request.scopeId,
          parsed.unit ?? unitDefault,
          parsed.estimate,
        )) as unknown as ReserveResponse;
    invariant(response.decision !== "DENY" || response.reasonCode !== undefined, "a DENY carries its reason code");
    return recordDecision(response, parsed, dryRun, this.mode); // telemetry (issue 5)
  }

  commit(reservationId: string, input: CommitInput = noSettleInput): Promise<SettleResponse> {
    let id: string;
    let parsed: CommitInput;
    try {
      id = reservationIdOf(reservationId);
      // No input given: nothing to read or copy (the shared empty input is frozen).
      parsed = input === noSettleInput ? noSettleInput : (fastCommitInput(input) ?? parseInput(commitSchema, input));
    } catch (error) {
      return Promise.reject(error);
    }
    const key = parsed.idempotencyKey;
    const store = this.readyStore();
    if (store?.commitNow && !store.distributed) {
      let outcome: SettleOutcome | undefined;
      try {
        outcome = store.commitNow({
          reservationId: id,
          actual: parsed.actual,
          actor: parsed.actor,
          idempotency: key === undefined ? undefined : tagOf(key, { reservationId: id, ...commitPayload(parsed) }),
        });
      } catch (error) {
        return Promise.reject(asUnavailable(error));
      }
      if (outcome !== undefined) return this.settledNow(id, key, outcome);
    }
    return this.settle(id, key, commitPayload(parsed), (ready, idempotency) =>
      ready.commit({ reservationId: id, actual: parsed.actual, actor: parsed.actor, idempotency }),
    );
  }

  release(reservationId: string, input: ReleaseInput = noSettleInput): Promise<SettleResponse> {
    let id: string;
    let parsed: ReleaseInput;
    try {
      id = reservationIdOf(reservationId);
      parsed = input === noSettleInput ? noSettleInput : (fastReleaseInput(input) ?? parseInput(releaseSchema, input));
    } catch (error) {
      return Promise.reject(error);
    }
    const key = parsed.idempotencyKey;
    const store = this.readyStore();
    if (store?.releaseNow && !store.distributed) {
      let outcome: SettleOutcome | undefined;
      try {
        outcome = store.releaseNow({
          reservationId: id,
          reason: parsed.reason,
          actor: parsed.actor,
          idempotency: key === undefined ? undefined : tagOf(key, { reservationId: id, ...releasePayload(parsed) }),
        });
      } catch (error) {
        return Promise.reject(asUnavailable(error));
      }
      if (outcome !== undefined) return this.settledNow(id, key, outcome);
    }
    return this.settle(id, key, releasePayload(parsed), (ready, idempotency) =>
      ready.release({ reservationId: id, reason: parsed.reason, actor: parsed.actor, idempotency }),
    );
  }

  /** A local store's synchronous settle answer, in one promise. */
  private settledNow(
    reservationId: string,
    idempotencyKey: string | undefined,
    outcome: SettleOutcome,
  ): Promise<SettleResponse> {
    try {
      return Promise.resolve(this.settleAnswered(reservationId, idempotencyKey, outcome));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Settles once. Against a distributed store a lost reply is retried with the same idempotency
   * tag, so a retry replays instead of charging twice. When the caller gave no key, the tag is a
   * retry token for this one call: an empty key (never a caller's: keys are non-empty) and a
   * fingerprint unique to the call, which the store keeps on the reservation itself rather than as
   * a tenant-wide idempotency record.
   */
  private async settle(
    reservationId: string,
    idempotencyKey: string | undefined,
    payload: object,
    run: (store: LedgerStore, idempotency: IdempotencyTag | undefined) => Promise<SettleOutcome>,
  ): Promise<SettleResponse> {
    const store = this.readyStore() ?? (await this.getStore());
    const idempotency =
      idempotencyKey !== undefined
        ? tagOf(idempotencyKey, { reservationId, ...payload })
        : store.distributed
          ? { key: "", fingerprint: randomUUID() }
          : undefined;
    let outcome: SettleOutcome | undefined;
    // The attempts together stay within storeTimeoutMs, like a reserve.
    const deadlineMs = performance.now() + this.storeTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        outcome = await this.withTimeout(run(store, idempotency), deadlineMs - performance.now());
        break;
      } catch (error) {
        const backoffMs = settleRetryDelayMsMin * 2 ** (attempt - 1);
        const leftMs = deadlineMs - performance.now() - backoffMs;
        if (
          !store.distributed ||
          attempt >= this.settleAttemptsMax ||
          !isTransient(error) ||
          leftMs < settleAttemptMsMin
        )
          throw asUnavailable(error);
        await delay(backoffMs);
      }
    }
    return this.settleAnswered(reservationId, idempotencyKey, outcome);
  }

  /** A settle's answer as the caller gets it: the outcome, or the typed error it stands for. */
  private settleAnswered(
    reservationId: string,
    idempotencyKey: string | undefined,
    outcome: SettleOutcome,
  ): SettleResponse {
    if (outcome.ok) {
      recordSettlement(reservationId, outcome); // telemetry (issue 5)
      return outcome;
    }
    switch (outcome.error) {
      case "IDEMPOTENCY_CONFLICT":
        throw new IdempotencyConflictError(idempotencyKey as string);
      case "OVERAGE_REJECTED":
      case "OVERDRAFT_LIMIT_EXCEEDED":
        throw new OverageError(outcome.error, reservationId, outcome.detail ?? "over the estimate");
      default:
        throw new ReservationStateError(outcome.error, reservationId, outcome.detail);
    }
  }

  async extend(reservationId: string, input: ExtendInput): Promise<{ reservationId: string; expiresAtMs: number }> {
    const id = parseInput(reservationIdSchema, reservationId, "reservationId");
    const parsed = parseInput(extendSchema, input);
    const store = await this.getStore();
    const outcome = await this.withTimeout(
      store.extend({
        reservationId: id,
        ttlMs: parsed.ttlMs,
        idempotency: tagOf(parsed.idempotencyKey, { id, ...parsed }),
      }),
    ).catch((error) => {
      throw asUnavailable(error);
    });
    if (outcome.ok) return { reservationId: outcome.reservationId, expiresAtMs: outcome.expiresAtMs };
    if (outcome.error === "IDEMPOTENCY_CONFLICT") throw new IdempotencyConflictError(parsed.idempotencyKey as string);
    throw new ReservationStateError(outcome.error, id);
  }

  async repayDebt(input: RepayDebtInput): Promise<{ repaid: number; balance: Balance | null }> {
    const parsed = parseInput(repayDebtSchema, input);
    const store = await this.getStore();
    const outcome = await store.repayDebt({
      scope: parsed.scope,
      unit: parsed.unit ?? unitDefault,
      runId: parsed.runId,
      amount: parsed.amount,
      idempotency: tagOf(parsed.idempotencyKey, parsed),
    });
    if (!outcome.ok) throw new IdempotencyConflictError(parsed.idempotencyKey as string);
    return { repaid: outcome.repaid, balance: outcome.balance };
  }

  async getBalance(query: BalanceQuery): Promise<Balance | null> {
    const parsed = parseInput(balanceQuerySchema, query);
    const store = await this.getStore();
    return store.getBalance({ scope: parsed.scope, unit: parsed.unit ?? unitDefault, runId: parsed.runId });
  }

  async getReservation(reservationId: string): Promise<ReservationRecord | null> {
    const id = parseInput(reservationIdSchema, reservationId, "reservationId");
    const store = await this.getStore();
    return store.getReservation(id);
  }

  async audit(query: AuditQuery = {}): Promise<AuditEvent[]> {
    const parsed = parseInput(auditQuerySchema, query);
    const store = await this.getStore();
    return store.audit(parsed);
  }

  async recordApproval(input: RecordApprovalInput): Promise<void> {
    const parsed = parseInput(recordApprovalSchema, input);
    const store = await this.getStore();
    const approved = parsed.outcome === "approved";
    await this.withTimeout(
      store.recordEvent({
        type: "approval",
        scope: scopeIdOf(parsed.subject as Subject),
        unit: parsed.unit ?? unitDefault,
        action: { name: parsed.action.name, tier: parsed.action.tier, kind: parsed.action.kind },
        runId: parsed.runId,
        actor: parsed.actor,
        decision: approved ? "ALLOW" : "DENY",
        reasonCode: approved ? undefined : parsed.outcome === "rejected" ? "APPROVAL_REJECTED" : "APPROVAL_TIMEOUT",
        detail: parsed.detail,
      }),
    ).catch((error) => {
      throw asUnavailable(error);
    });
  }

  async receipt(input: ReceiptInput | DecideReceiptInput): Promise<CyclesEnvelope> {
    const isDecide = typeof input === "object" && input !== null && "decide" in input;
    const parsed = isDecide ? parseInput(decideReceiptSchema, input) : parseInput(receiptQuerySchema, input);
    const store = await this.getStore();
    if (typeof store.receipt !== "function") {
      throw new ValidationError([
        { code: "unsupported", path: "evidence", message: `the ${store.name} store issues no receipts` },
      ]);
    }
    let query: Parameters<NonNullable<LedgerStore["receipt"]>>[0];
    if ("decide" in parsed) {
      const asked = parseInput(reserveSchema, parsed.decide, "decide");
      const scope = scopeIdOf(asked.subject as Subject);
      const answer = await this.decide(asked);
      query = { tenant: tenantScopeOf(scope), decision: decisionBodyOf(asked, scope, answer), traceId: parsed.traceId };
    } else {
      query = { tenant: tenantScopeOf(parsed.scope), seq: parsed.seq, traceId: parsed.traceId };
    }
    return this.withTimeout(store.receipt(query)).catch((error) => {
      throw asUnavailable(error);
    });
  }

  async sweep(): Promise<number> {
    const store = await this.getStore();
    return store.sweep();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.closed) return;
    this.closed = true;
    const store = await this.store.catch(() => undefined);
    await store?.close();
  }

  private withTimeout<T>(promise: Promise<T>, timeoutMs = this.storeTimeoutMs): Promise<T> {
    // The embedded store answers in microseconds; only a distributed store can hang.
    if (this.resolvedStore && !this.resolvedStore.distributed) return promise;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new LedgerUnavailableError(`The ledger store did not answer within ${this.storeTimeoutMs} ms`)),
        Math.max(0, timeoutMs),
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Notes a reservation whose reserve may have held something nobody knows about, and starts releasing. */
  private releaseLost(reservationId: string, idempotencyKey: string | undefined): void {
    if (this.lostReserves.size >= lostReservesMax) {
      // The oldest is dropped: its hold, if any, still returns by itself after TTL + grace.
      this.lostReserves.delete(this.lostReserves.keys().next().value as string);
    }
    this.lostReserves.set(reservationId, idempotencyKey);
    this.releasingLost ??= this.releaseLostUntilDone().finally(() => {
      this.releasingLost = undefined;
    });
  }

  /**
   * Releases every noted reservation, retrying while the store does not answer. Release is
   * idempotent and audited: a hold that was made is returned with an audit event saying why; one that
   * never reached the store answers RESERVATION_NOT_FOUND and writes nothing. On one connection the
   * release is sent after the reserve, so it cannot overtake it.
   */
  private async releaseLostUntilDone(): Promise<void> {
    let waitMs = lostReleaseRetryMsMin;
    while (this.lostReserves.size > 0 && !this.closed) {
      const store = await this.store.catch(() => undefined);
      let storeAnswered = store !== undefined;
      for (const [reservationId, idempotencyKey] of [...this.lostReserves]) {
        if (!store || this.closed) break;
        try {
          await this.withTimeout(
            store.release({
              reservationId,
              reason: lostReserveReleaseReason,
              idempotency: store.distributed ? { key: "", fingerprint: randomUUID() } : undefined,
              lostReserve: { idempotencyKey },
            }),
          );
          // Released, never made, settled or expired already: nothing is held by it any more.
          this.lostReserves.delete(reservationId);
        } catch (error) {
          if (isTransient(error)) {
            storeAnswered = false;
            break;
          }
          this.lostReserves.delete(reservationId);
        }
      }
      if (this.lostReserves.size === 0 || this.closed) return;
      waitMs = storeAnswered ? lostReleaseRetryMsMin : Math.min(waitMs * 2, lostReleaseRetryMsMax);
      await delay(waitMs, true);
    }
  }
}

/**
 * A reserve or decide answer. `balances` is built from the store's snapshot on first read (the
 * embedded store takes numbers, not objects; see store/balance-snapshot.ts); toJSON gives the fields
 * in the order the answer always had.
 */
class LedgerReserveResponse extends WithBalances {
  decision: Decision;
  reasonCode: ReasonCode | undefined;
  deniedScope: string | undefined;
  caps: Caps | undefined;
  reservationId: string | undefined;
  expiresAtMs: number | undefined;
  scope: string;
  unit: Unit;
  estimate: number;
  shadow: ReserveResponseFields["shadow"];
  replayed: boolean | undefined;
  auditSeq: number | undefined;

  constructor(outcome: ReserveOutcome, scope: string, unit: Unit, estimate: number) {
    super(WithBalances.sourceOf(outcome));
    this.decision = outcome.decision;
    this.reasonCode = outcome.reasonCode;
    this.deniedScope = outcome.deniedScope;
    this.caps = outcome.caps;
    this.reservationId = outcome.reservationId;
    this.expiresAtMs = outcome.expiresAtMs;
    this.scope = scope;
    this.unit = unit;
    this.estimate = estimate;
    this.shadow = outcome.shadow;
    this.replayed = outcome.replayed;
    this.auditSeq = outcome.auditSeq;
  }

  toJSON(): ReserveResponse {
    return reserveAnswerJson(this) as ReserveResponse;
  }
}

/** The input of a commit or release called without one. */
const noSettleInput: CommitInput & ReleaseInput = Object.freeze({});

/** Settle retries wait 50 ms, then 100 ms, ...; an attempt is not started with less than this left. */
const settleRetryDelayMsMin = 50;
const settleAttemptMsMin = 100;
/** Lost reserves remembered for release at most (per ledger); retried from 50 ms up to every second. */
const lostReservesMax = 10_000;
const lostReleaseRetryMsMin = 50;
const lostReleaseRetryMsMax = 1_000;
const lostReserveReleaseReason = "released: the reserve failed before its answer reached the caller";

/** The check reservationIdSchema makes, without zod, for the settle hot path. */
function isPlainReservationId(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= reservationIdLengthMax;
}

/** What a settle's idempotency fingerprint covers (with the reservation id). */
function commitPayload(parsed: CommitInput): object {
  return { actual: parsed.actual, actor: parsed.actor };
}

function releasePayload(parsed: ReleaseInput): object {
  return { release: true, reason: parsed.reason, actor: parsed.actor };
}

function reservationIdOf(value: string): string {
  return isPlainReservationId(value) ? value : parseInput(reservationIdSchema, value, "reservationId");
}

/**
 * A reserve's input as validated once: a fresh copy and its canonical scope id (the fast check's
 * answer itself, so the hot path makes no second object for it).
 */
interface ReserveRequest {
  input: ReserveInput;
  scopeId: string;
}

function reserveRequestOf(input: ReserveInput): ReserveRequest {
  // Well-formed input takes a hand-written check; anything else goes through zod for its errors.
  // Either way `request.input` is a fresh copy read once: `input` is never looked at again.
  const fast = fastReserveInput(input);
  if (fast) return fast;
  const parsed = parseInput(reserveSchema, input);
  return { input: parsed, scopeId: scopeIdOf(parsed.subject as Subject) };
}

function tagOf(key: string | undefined, payload: object): IdempotencyTag | undefined {
  if (key === undefined) return undefined;
  const { idempotencyKey: _ignored, ...rest } = payload as Record<string, unknown>;
  return { key, fingerprint: createHash("sha256").update(stableJson(rest)).digest("base64url") };
}

/** JSON with object keys sorted, so equal payloads fingerprint equally whatever their key order. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(",")}}`;
}

/**
 * What a decide receipt vouches for: the question (subject scope, action, estimate, unit, run) and
 * the answer (decision, reason, denied scope, caps, balances), as plain JSON with no absent fields.
 */
function decisionBodyOf(asked: ReserveInput, scope: string, answer: ReserveResponse): JsonObject {
  const body = {
    subject: scope,
    action: asked.action,
    estimate: asked.estimate,
    unit: asked.unit ?? unitDefault,
    runId: asked.runId,
    decision: answer.decision,
    reasonCode: answer.reasonCode,
    deniedScope: answer.deniedScope,
    caps: answer.caps,
    shadow: answer.shadow,
    balances: answer.balances,
  };
  return JSON.parse(JSON.stringify(body)) as JsonObject;
}

function asUnavailable(error: unknown): Error {
  if (error instanceof TollgateError) return error;
  return new LedgerUnavailableError(`The ledger store failed: ${(error as Error)?.message ?? String(error)}`, {
    cause: error,
  });
}

/** unref: a wait that must not keep the process alive (background releases). */
function delay(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (unref) timer.unref();
  });
}
