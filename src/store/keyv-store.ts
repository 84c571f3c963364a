import Keyv from "keyv";
import { type BudgetView, evaluate, remainingOf } from "../core/decision.js";
import { invariant } from "../core/errors.js";
import { holdDeadlineMs } from "../core/hold-deadline.js";
import {
  auditEventsMaxDefault,
  auditEventsTotalMaxDefault,
  idempotencyKeysMaxDefault,
  idempotencyRetentionMsDefault,
  settledReservationRetentionMsDefault,
  settledReservationsMaxDefault,
} from "../core/limits.js";
import { tenantScopeOf } from "../core/scope.js";
import { assertAmount, type Unit } from "../core/units.js";
import { windowInstanceOf, windowLengthMs } from "../core/windows.js";
import type { ChainRecord } from "../evidence/chain.js";
import type { ChainExport } from "../evidence/export.js";
import { ChainLinker } from "../evidence/linker.js";
import { copyEvidenceConfig, type EvidenceConfig } from "../evidence/options.js";
import type { CyclesEnvelope } from "../evidence/receipt.js";
import {
  type DecisionReceiptQuery,
  type ReceiptQuery,
  receiptOfDecision,
  receiptOfStoredRecord,
} from "../evidence/stored-receipt.js";
import { auditQueryLimitDefault } from "./audit-filter.js";
import { BalanceSnapshot, WithBalances } from "./balance-snapshot.js";
import { EmbeddedReserveOutcome, EmbeddedSettleOutcome } from "./keyv-answers.js";
import { AuditColumns, type AuditInput } from "./keyv-audit.js";
import { EmbeddedChain } from "./keyv-chain.js";
import { HoldDeadlines } from "./keyv-deadlines.js";
import {
  assertCounters,
  assertHeld,
  assertStoredCounters,
  assertStoredDefinition,
  assertStoredReservation,
  auditScopeId,
  balanceOf,
  budgetKeyOfCounterKey,
  type Counters,
  copyOfDefinition,
  type HeldBudget,
  type Hot,
  lifetimeCounterSuffix,
  lifetimeCounters,
  lifetimeHold,
  lifetimeInstance,
  retired,
  tenantOfReservation,
} from "./keyv-records.js";
import { ReservationSlots, type SlotFields, slotHeld } from "./keyv-reservations.js";
import { KeyvWriteThrough } from "./keyv-write-through.js";
import { budgetKey, TenantBudgetIndex } from "./tenant-budget-index.js";
import type {
  AuditEvent,
  AuditLookup,
  Balance,
  BalanceLookup,
  BudgetDefinition,
  CommitCommand,
  ExtendCommand,
  ExtendOutcome,
  IdempotencyTag,
  LedgerStore,
  PutBudgetCommand,
  PutBudgetOutcome,
  RecordedEvent,
  ReleaseCommand,
  RemoveBudgetCommand,
  RemoveBudgetOutcome,
  RepayDebtCommand,
  RepayDebtOutcome,
  ReservationRecord,
  ReserveCommand,
  ReserveResult,
  SettleOutcome,
} from "./types.js";

export interface KeyvStoreOptions {
  /** Any keyv instance; defaults to `new Keyv()` (in memory). Must not be shared with another process. */
  keyv?: Keyv;
  /**
   * Write every mutation through to keyv before the call resolves. Defaults to true for any
   * adapter, and to false when keyv's backend is its own in-memory Map: there this store's cache
   * already is the process-memory state, and a second serialized copy would only halve the speed.
   */
  writeThrough?: boolean;
  /** Injectable clock (ms since epoch) for tests. */
  clock?: () => number;
  /** Audit events kept per tenant (the newest)... */
  auditEventsMax?: number;
  /** ...and for all tenants together (the oldest of the tenant written to longest ago go first). */
  auditEventsTotalMax?: number;
  idempotencyKeysMax?: number;
  idempotencyRetentionMs?: number;
  settledReservationRetentionMs?: number;
  /** Settled reservations remembered (for precise errors on a late second settle), by count. */
  settledReservationsMax?: number;
  /** Counters of run and clock windows that hold nothing are dropped after this much idleness. */
  windowCountersRetentionMs?: number;
  /**
   * Chains every audit event into its tenant's hash chain (and signs checkpoints with a private
   * key): see the README's Evidence section; `parseEvidenceOptions` validates the options into this.
   * Without it the store does no chain work at all. The chain, like the audit, lives in this
   * process's memory: a new process begins every tenant's chain again at seq 1.
   */
  evidence?: EvidenceConfig;
}

interface IdempotencyRecord {
  fingerprint: string;
  outcome: unknown;
  atMs: number;
}

const windowCountersRetentionMsDefault = 7 * 86_400_000;
/** Idempotency records kept for all tenants without budgets together (the oldest go first). */
const unknownTenantIdempotencyKeysMax = 10_000;
/** Budget keys are indexed in append-only chunks, so adding one budget never rewrites the whole list. */
const budgetIndexChunkCountKey = "index:budgets:chunks";
const budgetIndexChunkSize = 1_024;
const indexHoldsKey = "index:holds";
const tenantPrefixLength = "tenant:".length;
const noHolds: HeldBudget[] = [];
const noBalances: Balance[] = [];

/**
 * The embedded store: state lives in this process's memory and is written through to a keyv
 * adapter (keyv's own in-memory Map by default). keyv has no atomic operations, so this store is
 * SINGLE-PROCESS: each mutation runs as one synchronous critical section over cached state, and its
 * changed records are persisted in order before the call resolves. Two processes sharing one keyv
 * backend would overwrite each other; use the Redis store for that.
 */
export class KeyvSingleProcessStore implements LedgerStore {
  readonly name = "keyv-single-process";
  readonly distributed = false;
  /** Reservation ids name a slot and its generation, so this store chooses them (see keyv-reservations.ts). */
  readonly assignsReservationIds = true;

  private readonly writes: KeyvWriteThrough;
  private readonly clock: () => number;
  private readonly budgetIndex = new TenantBudgetIndex();
  /** Window counters by `c:<scope>|<unit>|<instance>` (lifetime counters hang off their definition). */
  private readonly counters = new Map<string, Counters>();
  /** Counter keys per budget key, so removing a budget finds its window counters without a scan. */
  private readonly counterKeysByBudget = new Map<string, Set<string>>();
  private readonly slots: ReservationSlots;
  private readonly deadlines = new HoldDeadlines();
  private readonly views: BudgetView[][] = [];
  /** The held-budget list made last (shared by the holds it fits) and the scratch it is filled in. */
  private lastChecked: HeldBudget[] = noHolds;
  private readonly checkedScratch: HeldBudget[] = [];
  private readonly scratchEvent = {} as AuditInput;
  private lastTenant = "";
  private lastTenantValue = "";
  private readonly slotFields: SlotFields = {
    tenantValue: "",
    subjectScope: "",
    unit: "RISK_POINTS",
    action: { name: "", tier: "read" },
    estimate: 0,
    runId: undefined,
    overagePolicy: "ALLOW_IF_AVAILABLE",
    shadowDenied: false,
    createdAtMs: 0,
    expiresAtMs: 0,
    graceMs: 0,
    holds: noHolds,
  };
  /** Ids of open holds, kept only when writing through: the persisted index. */
  private readonly heldIds = new Set<string>();
  /** The last policy apply queued (withPolicyLease), settled or not. */
  private policyApplies: Promise<unknown> = Promise.resolve();
  private readonly idempotency = new Map<string, IdempotencyRecord>();
  /**
   * Records of tenants without budgets (a hostile caller's random tenant ids): a pool of their own,
   * so they never evict the records of tenants with budgets. Oldest first.
   */
  private readonly unknownIdempotency = new Map<string, IdempotencyRecord>();
  /** The audit trail as numbers and interned strings; events are objects only when read. */
  private readonly audits: AuditColumns;
  private auditSeq = 0;
  /** With `evidence` only: its config (a copy), each tenant's chain, and the linker that hashes it off the write path. */
  private readonly evidence: EvidenceConfig | undefined;
  private readonly chain: EmbeddedChain | undefined;
  private readonly linker: ChainLinker | undefined;
  private readonly idempotencyKeysMax: number;
  private readonly idempotencyRetentionMs: number;
  private readonly windowCountersRetentionMs: number;
  private lastCounterScanMs = 0;
  private readonly ready: Promise<void>;
  /** Set once restore() finished, so calls after that skip awaiting it. */
  private restored = false;
  /** The budget-index chunk being filled: its number and the keys in it. */
  private budgetIndexChunk = { number: 0, keys: [] as string[] };

  constructor(options: KeyvStoreOptions = {}) {
    const keyv = options.keyv ?? new Keyv();
    this.writes = new KeyvWriteThrough(
      keyv,
      options.writeThrough ?? !(keyv.opts.store instanceof Map),
      (key, value) => {
        // Numbers read back from the adapter are checked before they are trusted (a bad one throws).
        if (key.startsWith("c:")) {
          assertStoredCounters(key, value);
          this.cacheCounters(key, value);
        } else if (key.startsWith("i:")) this.idempotency.set(key, value as IdempotencyRecord);
      },
    );
    this.clock = options.clock ?? Date.now;
    this.slots = new ReservationSlots(
      options.settledReservationsMax ?? settledReservationsMaxDefault,
      options.settledReservationRetentionMs ?? settledReservationRetentionMsDefault,
    );
    this.audits = new AuditColumns(
      options.auditEventsMax ?? auditEventsMaxDefault,
      options.auditEventsTotalMax ?? auditEventsTotalMaxDefault,
      this.slots,
    );
    if (options.evidence !== undefined) {
      this.evidence = copyEvidenceConfig(options.evidence);
      this.chain = new EmbeddedChain(this.audits);
      this.linker = new ChainLinker(this.chain, this.evidence, {}, this.clock);
      this.linker.start();
    }
    this.idempotencyKeysMax = options.idempotencyKeysMax ?? idempotencyKeysMaxDefault;
    this.idempotencyRetentionMs = options.idempotencyRetentionMs ?? idempotencyRetentionMsDefault;
    this.windowCountersRetentionMs = options.windowCountersRetentionMs ?? windowCountersRetentionMsDefault;
    this.ready = this.restore().then(() => {
      this.restored = true;
    });
    // A failed restore (a broken record in the adapter) rejects every call; it is not an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** Loads every budget definition and every held reservation, so decisions never wait on keyv. */
  private async restore(): Promise<void> {
    const chunkCount = ((await this.writes.keyv.get(budgetIndexChunkCountKey)) as number | undefined) ?? 0;
    const chunkKeys = Array.from({ length: chunkCount }, (_, index) => `index:budgets:${index}`);
    const chunks = (chunkCount > 0 ? await this.writes.keyv.getMany(chunkKeys) : []) as (string[] | undefined)[];
    if (chunkCount > 0) this.budgetIndexChunk = { number: chunkCount - 1, keys: chunks[chunkCount - 1] ?? [] };
    const budgetKeys = [...new Set(chunks.flatMap((chunk) => chunk ?? []))];
    const definitions =
      budgetKeys.length > 0 ? await this.writes.keyv.getMany(budgetKeys.map((key) => `b:${key}`)) : [];
    budgetKeys.forEach((_key, index) => {
      const definition = definitions[index] as BudgetDefinition | undefined;
      if (!definition) return;
      assertStoredDefinition(budgetKeys[index], definition);
      // A fresh object of the checked fields: nothing else the adapter handed back is kept.
      this.indexBudget(hotDefinition(definition, definition.updatedAtMs));
    });
    const heldIds = ((await this.writes.keyv.get(indexHoldsKey)) as string[] | undefined) ?? [];
    const records = heldIds.length > 0 ? await this.writes.keyv.getMany(heldIds.map((id) => `r:${id}`)) : [];
    const counterKeys = new Set<string>();
    const held: ReservationRecord[] = [];
    records.forEach((value, index) => {
      const record = value as ReservationRecord | undefined;
      const id = heldIds[index];
      if (record?.status !== "held") return;
      assertStoredReservation(id, record);
      held.push(record);
      for (const hold of record.holds) counterKeys.add(`c:${budgetKey(hold.scope, record.unit)}|${hold.instance}`);
    });
    await this.writes.load([...counterKeys]);
    for (const record of held) {
      const holds: HeldBudget[] = [];
      for (const hold of record.holds) {
        const definition = this.budgetIndex.get(hold.scope, record.unit);
        const counters = definition && this.peekCounters(definition, hold.instance);
        if (definition && counters) holds.push({ definition, instance: hold.instance, counters });
      }
      const slot = this.slots.restore(record, holds, held.length);
      this.heldIds.add(record.id);
      this.pushDeadline(slot, record.expiresAtMs - record.createdAtMs);
    }
  }

  async now(): Promise<number> {
    return this.clock();
  }

  /**
   * Policy applies in this process one after another (the store has one process by definition):
   * each starts when the one before it has finished, so two never interleave their writes.
   */
  withPolicyLease<T>(work: (held: () => boolean) => Promise<T>): Promise<T> {
    const turn = this.policyApplies.then(() => work(() => true));
    this.policyApplies = turn.catch(() => undefined);
    return turn;
  }

  async close(): Promise<void> {
    await this.linker?.close();
    await this.writes.flush();
  }

  // ---------------------------------------------------------------- evidence

  /**
   * The audit hash chain as kept (every event sealed first): per tenant (the tenant scope, or every
   * tenant), a record for every kept event, the kept checkpoints, and the retention anchor when the
   * oldest were dropped. Empty without `evidence`.
   */
  async chainExport(query: { tenant?: string }): Promise<ChainExport> {
    const exported: ChainExport = { records: [], checkpoints: [] };
    const chain = this.chain;
    if (!chain) return exported;
    await this.linkChains(query);
    const tenants = query.tenant !== undefined ? [tenantScopeOf(query.tenant)] : chain.tenantNames().sort();
    const nowMs = this.clock();
    for (const tenant of tenants) {
      const one = chain.exportTenant(tenant, nowMs);
      exported.records.push(...one.records);
      exported.checkpoints.push(...one.checkpoints);
    }
    return exported;
  }

  async chainRecord(query: { tenant: string; seq: number }): Promise<ChainRecord | undefined> {
    return this.chain?.recordAt(tenantScopeOf(query.tenant), query.seq);
  }

  async receipt(query: ReceiptQuery | DecisionReceiptQuery): Promise<CyclesEnvelope> {
    const tenant = tenantScopeOf(query.tenant);
    if ("decision" in query) return receiptOfDecision(this.evidence, { ...query, tenant });
    return receiptOfStoredRecord(this.evidence, { ...query, tenant }, await this.chainRecord({ ...query, tenant }));
  }

  /** Links every tenant's events up to its newest and signs the checkpoints that are due. */
  async linkChains(query: { tenant?: string } = {}): Promise<void> {
    const { chain, linker } = this;
    if (!chain || !linker) return;
    const tenants = query.tenant !== undefined ? [tenantScopeOf(query.tenant)] : chain.tenantNames();
    for (const tenant of tenants) {
      // linkTenant takes a bounded number of batches per call: go on until the head stops moving.
      for (let head = -1; ; ) {
        const linked = await linker.linkTenant(tenant);
        if (linked.seq === head) break;
        head = linked.seq;
      }
    }
  }

  // ---------------------------------------------------------------- budgets

  async putBudget(command: PutBudgetCommand): Promise<PutBudgetOutcome> {
    assertAmount(command.definition.limit, "limit");
    assertAmount(command.definition.overdraftLimit, "overdraftLimit");
    if (!this.restored) await this.ready;
    const tenant = tenantScopeOf(command.definition.scope);
    await this.writes.load(this.idempotencyKeys(tenant, "budget.set", command.idempotency));
    const now = this.clock();
    const replay = this.replay<PutBudgetOutcome>(tenant, "budget.set", command.idempotency);
    if (replay) return replay;
    const key = budgetKey(command.definition.scope, command.definition.unit);
    const created = !this.budgetIndex.get(command.definition.scope, command.definition.unit);
    const definition = hotDefinition(command.definition, now);
    this.indexBudget(definition);
    this.writes.persist(`b:${key}`, definition);
    if (created) this.appendToBudgetIndex(key);
    this.appendAudit({
      atMs: now,
      type: "budget.set",
      scope: definition.scope,
      unit: definition.unit,
      amount: definition.limit,
      detail: `window=${definition.window} narrowing=${definition.narrowing ? "bands" : "none"} overdraftLimit=${definition.overdraftLimit}`,
    });
    const outcome: PutBudgetOutcome = { ok: true, definition: copyOfDefinition(definition), created };
    this.remember(tenant, "budget.set", command.idempotency, outcome, now);
    if (this.writes.enabled) await this.writes.flush();
    return outcome;
  }

  async removeBudget(command: RemoveBudgetCommand): Promise<RemoveBudgetOutcome> {
    if (!this.restored) await this.ready;
    const tenant = tenantScopeOf(command.scope);
    await this.writes.load(this.idempotencyKeys(tenant, "budget.remove", command.idempotency));
    const now = this.clock();
    const replay = this.replay<RemoveBudgetOutcome>(tenant, "budget.remove", command.idempotency);
    if (replay) return replay;
    const key = budgetKey(command.scope, command.unit);
    const previous = this.budgetIndex.delete(command.scope, command.unit);
    const removed = previous !== undefined;
    if (previous) {
      (previous as Hot<BudgetDefinition>)[retired] = true;
      // The persisted index keeps the key; restore skips keys whose definition is gone.
      this.writes.persist(`b:${key}`, null);
      // Counters go with the grant: re-adding a budget later starts fresh. Holds on it settle as no-ops.
      for (const counterKey of [`c:${key}${lifetimeCounterSuffix}`, ...(this.counterKeysByBudget.get(key) ?? [])]) {
        this.counters.delete(counterKey);
        this.writes.persist(counterKey, null);
      }
      this.counterKeysByBudget.delete(key);
      // Open holds on the removed budget let go of it, so they can never touch a budget re-added later.
      for (const slot of this.slots.heldSlots()) {
        const holds = this.slots.holds[slot];
        if (this.slots.unit[slot] !== command.unit || !holds.some((hold) => hold.definition.scope === command.scope)) {
          continue;
        }
        this.slots.holds[slot] = holds.filter((hold) => hold.definition.scope !== command.scope);
        this.persistReservation(slot);
      }
      this.appendAudit({ atMs: now, type: "budget.remove", scope: command.scope, unit: command.unit });
    }
    const outcome: RemoveBudgetOutcome = { ok: true, removed };
    this.remember(tenant, "budget.remove", command.idempotency, outcome, now);
    if (this.writes.enabled) await this.writes.flush();
    return outcome;
  }

  async listBudgets(query: { scopePrefix?: string }): Promise<BudgetDefinition[]> {
    if (!this.restored) await this.ready;
    const out: BudgetDefinition[] = [];
    for (const definition of this.budgetIndex.values()) {
      const prefix = query.scopePrefix;
      if (prefix !== undefined && definition.scope !== prefix && !definition.scope.startsWith(`${prefix}/`)) continue;
      out.push(copyOfDefinition(definition));
    }
    return out.sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.unit < b.unit ? -1 : 1));
  }

  // ---------------------------------------------------------------- reserve

  /**
   * The synchronous core's answer now, when nothing has to be loaded or written through first (the
   * store is open and keeps its state in memory only); undefined otherwise: call reserve().
   */
  reserveNow(command: ReserveCommand): ReserveResult | undefined {
    return this.restored && !this.writes.enabled ? this.reserveCore(command) : undefined;
  }

  async reserve(command: ReserveCommand): Promise<ReserveResult> {
    if (!this.restored) await this.ready;
    const tenant = tenantScopeOf(command.subjectScope);
    if (this.writes.enabled) {
      // Load whatever the critical section will touch, then run it without awaiting.
      for (;;) {
        const missing = this.writes.missing([
          ...this.idempotencyKeys(tenant, "reserve", command.idempotency),
          ...this.counterKeysFor(command.subjectScope, command.unit, this.clock(), command.runId),
        ]);
        if (missing.length === 0) break;
        await this.writes.load(missing);
      }
    }
    const outcome = this.reserveCore(command);
    if (this.writes.enabled) await this.writes.flush();
    return outcome;
  }

  /** One critical section: decide, hold, audit, remember. Never awaits. */
  private reserveCore(command: ReserveCommand): ReserveResult {
    // The ledger validated these; a store never holds a number it did not check itself either.
    assertAmount(command.estimate, "estimate");
    if (!(Number.isSafeInteger(command.ttlMs) && command.ttlMs > 0)) {
      invariant(false, `ttlMs is a positive integer (got ${command.ttlMs})`);
    }
    const tenant = tenantScopeOf(command.subjectScope);
    const now = this.clock();
    this.expireDue(now);
    if (!command.dryRun && command.idempotency) {
      const replay = this.replay<ReserveResult>(tenant, "reserve", command.idempotency);
      if (replay) return replay;
    }

    const definitions = this.budgetIndex.applicable(command.subjectScope, command.unit);
    // The budgets as held (settling reads `counters`), and the decision's views of them: snapshots
    // taken now in objects reused from call to call (the decision keeps none of them).
    const count = definitions.length;
    const scratch = this.checkedScratch;
    const views = this.viewsOf(count);
    let same = this.lastChecked.length === count;
    for (let index = 0; index < count; index++) {
      const definition = definitions[index];
      const instance =
        definition.window === "lifetime" ? lifetimeInstance : windowInstanceOf(definition.window, now, command.runId);
      const counters = this.countersOf(definition, instance, now);
      const ref = this.heldRef(definition, instance, counters);
      scratch[index] = ref;
      if (same && this.lastChecked[index] !== ref) same = false;
      const view = views[index];
      view.scope = definition.scope;
      view.allocated = definition.limit;
      view.spent = counters.spent;
      view.reserved = counters.reserved;
      view.debt = counters.debt;
      view.narrowing = definition.narrowing;
    }
    // Held-budget lists are never changed once made, so holds on the same budgets (lifetime ones: the
    // same references) share one list instead of each keeping an array of its own. Else a new list of
    // exactly this size (grown by push, a list gets room for 17).
    let checked = this.lastChecked;
    if (!same) {
      checked = scratch.slice(0, count);
      this.lastChecked = checked;
    }
    const evaluation = evaluate(views, command.action.tier, command.estimate);
    const allowed = evaluation.decision !== "DENY";

    if (command.dryRun) {
      return new EmbeddedReserveOutcome(
        evaluation,
        new BalanceSnapshot(checked),
        command.subjectScope,
        command.unit,
        command.estimate,
      );
    }

    // Balances are taken once holds are made (below); until then the outcome names none.
    const outcome = new EmbeddedReserveOutcome(
      evaluation,
      noBalances,
      command.subjectScope,
      command.unit,
      command.estimate,
    );
    if (command.shadow && !allowed) {
      outcome.decision = "ALLOW";
      outcome.shadow = { decision: "DENY", reasonCode: evaluation.reasonCode, deniedScope: evaluation.deniedScope };
      outcome.reasonCode = undefined;
      outcome.deniedScope = undefined;
      outcome.caps = undefined;
    }
    let heldSlot: number | undefined;
    if (allowed || command.shadow) {
      const givenId = command.reservationId;
      if (givenId && this.slots.slotOf(givenId) >= 0) invariant(false, `reservation id ${givenId} reused`);
      if (allowed) {
        for (const { definition, instance, counters } of checked) {
          counters.reserved += command.estimate;
          assertHeld(definition, counters);
          counters.touchedAtMs = now;
          this.persistCounters(definition, instance, counters);
        }
      }
      const holds = allowed ? checked : noHolds;
      // One scratch record for the store's life: open() copies it into the slot's columns.
      const fields = this.slotFields;
      fields.tenantValue = this.tenantValueOf(tenant);
      fields.subjectScope = command.subjectScope;
      fields.unit = command.unit;
      fields.action = command.action;
      fields.estimate = command.estimate;
      fields.runId = command.runId;
      fields.overagePolicy = command.overagePolicy;
      fields.shadowDenied = !allowed;
      fields.createdAtMs = now;
      fields.expiresAtMs = now + command.ttlMs;
      fields.graceMs = command.graceMs;
      fields.holds = holds;
      const slot = this.slots.open(fields, givenId);
      heldSlot = slot;
      fields.holds = noHolds;
      this.pushDeadline(slot, command.ttlMs);
      this.persistReservation(slot);
      if (this.writes.enabled) {
        this.heldIds.add(this.slots.ids[slot] as string);
        this.writes.persistLater(indexHoldsKey, () => [...this.heldIds]);
      }
      outcome.reservationId = this.slots.ids[slot];
      outcome.expiresAtMs = this.slots.expiresAtMs[slot];
    }
    const balances = new BalanceSnapshot(checked);
    outcome.balancesFrom(balances);
    const event = this.hotEvent("reserve", now, command.subjectScope, command.unit);
    event.reservationId = outcome.reservationId;
    event.reservationSlot = heldSlot;
    event.action = command.action;
    event.runId = command.runId;
    event.actor = command.actor;
    event.estimate = command.estimate;
    event.decision = outcome.decision;
    event.reasonCode = outcome.reasonCode;
    event.deniedScope = outcome.deniedScope;
    event.caps = outcome.caps;
    event.shadow = outcome.shadow;
    event.balances = balances;
    outcome.auditSeq = this.appendAudit(event);
    this.remember(tenant, "reserve", command.idempotency, outcome, now);
    return outcome;
  }

  /** "acme" of "tenant:acme"; the last one is remembered (most traffic repeats a tenant). */
  private tenantValueOf(tenant: string): string {
    if (tenant !== this.lastTenant) {
      this.lastTenant = tenant;
      this.lastTenantValue = tenant.slice(tenantPrefixLength);
    }
    return this.lastTenantValue;
  }

  /** Reusable decision views, one array per budget count (at most 32 budgets apply to a subject). */
  private viewsOf(count: number): BudgetView[] {
    let views = this.views[count];
    if (!views) {
      views = Array.from({ length: count }, () => ({
        scope: "",
        allocated: 0,
        spent: 0,
        reserved: 0,
        debt: 0,
        narrowing: null,
      }));
      if (count <= 64) this.views[count] = views;
    }
    return views;
  }

  /** A hold's reference to a budget; a lifetime budget's is made once and kept on its definition. */
  private heldRef(definition: BudgetDefinition, instance: string, counters: Counters): HeldBudget {
    if (instance !== lifetimeInstance) return { definition, instance, counters };
    const hot = definition as Hot<BudgetDefinition>;
    const cached = hot[lifetimeHold];
    if (cached?.counters === counters) return cached;
    const made = { definition, instance, counters };
    hot[lifetimeHold] = made;
    return made;
  }

  // ---------------------------------------------------------------- settle

  async commit(command: CommitCommand): Promise<SettleOutcome> {
    return this.settle(command, "commit");
  }

  async release(command: ReleaseCommand): Promise<SettleOutcome> {
    return this.settle(command, "release");
  }

  /** Like reserveNow: the synchronous core's answer, or undefined when it must wait (call commit()). */
  commitNow(command: CommitCommand): SettleOutcome | undefined {
    return this.restored && !this.writes.enabled ? this.settleCore(command, "commit") : undefined;
  }

  releaseNow(command: ReleaseCommand): SettleOutcome | undefined {
    return this.restored && !this.writes.enabled ? this.settleCore(command, "release") : undefined;
  }

  private async settle(command: CommitCommand & ReleaseCommand, kind: "commit" | "release"): Promise<SettleOutcome> {
    if (!this.restored) await this.ready;
    // Held reservations and their counters are all in memory (restore loaded them).
    if (this.writes.enabled) {
      const tenant = tenantOfReservation(command.reservationId);
      await this.writes.load(this.idempotencyKeys(tenant, kind, command.idempotency));
    }
    const outcome = this.settleCore(command, kind);
    if (this.writes.enabled) await this.writes.flush();
    return outcome;
  }

  private settleCore(command: CommitCommand & ReleaseCommand, kind: "commit" | "release"): SettleOutcome {
    if (command.actual !== undefined) assertAmount(command.actual, "actual");
    // The tenant names idempotency records only: without a tag (or a lost reserve) no string is made.
    const tenant = command.idempotency || command.lostReserve ? tenantOfReservation(command.reservationId) : "";
    const now = this.clock();
    this.expireDue(now);
    const replay = this.replay<SettleOutcome>(tenant, kind, command.idempotency);
    if (replay) return replay;
    const slot = this.slots.slotOf(command.reservationId);
    if (slot < 0) return { ok: false, error: "RESERVATION_NOT_FOUND" };
    const status = this.slots.statusName(slot);
    if (status === "expired") return { ok: false, error: "RESERVATION_EXPIRED" };
    if (status !== "held") return { ok: false, error: "RESERVATION_FINALIZED", detail: status };
    const shadowDenied = this.slots.isShadowDenied(slot);
    const overagePolicy = this.slots.overagePolicy(slot);

    const held = this.heldBudgets(slot);
    const estimate = this.slots.estimate[slot];
    let charged = 0;
    let debtAdded = 0;
    let uncharged = 0;
    if (kind === "commit" && !shadowDenied) {
      const actual = command.actual ?? estimate;
      const overage = actual - estimate;
      if (overage <= 0) {
        charged = actual;
        for (const { counters } of held) {
          counters.reserved -= estimate;
          counters.spent += actual;
        }
      } else if (overagePolicy === "REJECT") {
        return { ok: false, error: "OVERAGE_REJECTED", detail: `actual ${actual} exceeds the estimate ${estimate}` };
      } else if (overagePolicy === "ALLOW_IF_AVAILABLE") {
        let available = overage;
        for (const { counters, definition } of held) {
          available = Math.min(available, Math.max(0, remainingOf({ allocated: definition.limit, ...counters })));
        }
        charged = estimate + available;
        uncharged = overage - available;
        for (const { counters } of held) {
          counters.reserved -= estimate;
          counters.spent += charged;
        }
      } else {
        const plans = held.map(({ counters, definition }) => {
          const fromRemaining = Math.min(
            overage,
            Math.max(0, remainingOf({ allocated: definition.limit, ...counters })),
          );
          return { counters, definition, fromRemaining, toDebt: overage - fromRemaining };
        });
        const over = plans.find((plan) => plan.counters.debt + plan.toDebt > plan.definition.overdraftLimit);
        if (over) {
          return {
            ok: false,
            error: "OVERDRAFT_LIMIT_EXCEEDED",
            detail: `${over.definition.scope} would owe ${over.counters.debt + over.toDebt}, over its overdraftLimit ${over.definition.overdraftLimit}`,
          };
        }
        charged = actual;
        for (const plan of plans) {
          plan.counters.reserved -= estimate;
          plan.counters.spent += estimate + plan.fromRemaining;
          plan.counters.debt += plan.toDebt;
          debtAdded = Math.max(debtAdded, plan.toDebt);
        }
      }
    } else {
      for (const { counters } of held) counters.reserved -= estimate;
    }
    for (const { definition, instance, counters } of held) {
      assertCounters(definition, counters);
      counters.touchedAtMs = now;
      this.persistCounters(definition, instance, counters);
    }
    const settledAs = kind === "commit" ? "committed" : "released";
    this.slots.charged[slot] = charged;
    const balances = new BalanceSnapshot(held);
    const released = kind === "commit" ? Math.max(0, estimate - charged) : estimate;
    const event = this.hotEvent(kind, now, this.slots.subjectScope[slot] as string, this.slots.unit[slot] as Unit);
    event.reservationId = command.reservationId;
    event.reservationSlot = slot;
    event.action = this.slots.action[slot];
    event.runId = this.slots.runId[slot];
    event.actor = command.actor;
    event.estimate = estimate;
    event.amount = kind === "commit" ? charged : released;
    event.balances = balances;
    event.detail = command.reason ?? (uncharged > 0 ? `uncharged overage ${uncharged}` : undefined);
    const auditSeq = this.appendAudit(event);
    this.markSettled(slot, settledAs, now);
    const outcome = new EmbeddedSettleOutcome(
      command.reservationId,
      settledAs,
      charged,
      debtAdded,
      uncharged,
      shadowDenied ? 0 : released,
      balances,
      auditSeq,
    );
    this.remember(tenant, kind, command.idempotency, outcome, now);
    if (command.lostReserve?.idempotencyKey !== undefined) {
      this.forgetReserve(tenant, command.lostReserve.idempotencyKey, command.reservationId);
    }
    return outcome;
  }

  async extend(command: ExtendCommand): Promise<ExtendOutcome> {
    if (!this.restored) await this.ready;
    const tenant = tenantOfReservation(command.reservationId);
    await this.writes.load(this.idempotencyKeys(tenant, "extend", command.idempotency));
    const now = this.clock();
    this.expireDue(now);
    const replay = this.replay<ExtendOutcome>(tenant, "extend", command.idempotency);
    if (replay) return replay;
    const slot = this.slots.slotOf(command.reservationId);
    if (slot < 0) return { ok: false, error: "RESERVATION_NOT_FOUND" };
    const status = this.slots.statusName(slot);
    if (status === "expired") return { ok: false, error: "RESERVATION_EXPIRED" };
    if (status !== "held") return { ok: false, error: "RESERVATION_FINALIZED" };
    const expiresAtMs = now + command.ttlMs;
    this.slots.expiresAtMs[slot] = expiresAtMs;
    this.pushDeadline(slot, command.ttlMs);
    this.persistReservation(slot);
    this.appendAudit({
      atMs: now,
      type: "extend",
      scope: this.slots.subjectScope[slot] as string,
      unit: this.slots.unit[slot] as Unit,
      reservationId: command.reservationId,
      action: this.slots.action[slot],
      runId: this.slots.runId[slot],
      detail: `expiresAtMs=${expiresAtMs}`,
    });
    const outcome: ExtendOutcome = { ok: true, reservationId: command.reservationId, expiresAtMs };
    this.remember(tenant, "extend", command.idempotency, outcome, now);
    if (this.writes.enabled) await this.writes.flush();
    return outcome;
  }

  async repayDebt(command: RepayDebtCommand): Promise<RepayDebtOutcome> {
    assertAmount(command.amount, "amount");
    if (!this.restored) await this.ready;
    const tenant = tenantScopeOf(command.scope);
    const definition = this.budgetIndex.get(command.scope, command.unit);
    let now = this.clock();
    const counterKeys = definition
      ? [this.counterKey(definition, windowInstanceOf(definition.window, now, command.runId))]
      : [];
    await this.writes.load([...counterKeys, ...this.idempotencyKeys(tenant, "debt.repay", command.idempotency)]);
    now = this.clock();
    const replay = this.replay<RepayDebtOutcome>(tenant, "debt.repay", command.idempotency);
    if (replay) return replay;
    const current = this.budgetIndex.get(command.scope, command.unit);
    if (!current) return { ok: true, repaid: 0, balance: null };
    const instance = windowInstanceOf(current.window, now, command.runId);
    const counters = this.countersOf(current, instance, now);
    // Repaying moves debt into spend: the operator accepts the overage, and the scope may reserve again.
    const repaid = Math.min(command.amount, counters.debt);
    counters.debt -= repaid;
    counters.spent += repaid;
    assertCounters(current, counters);
    this.persistCounters(current, instance, counters);
    const balance = balanceOf(current, instance, counters);
    this.appendAudit({
      atMs: now,
      type: "debt.repay",
      scope: command.scope,
      unit: command.unit,
      runId: command.runId,
      amount: repaid,
    });
    const outcome: RepayDebtOutcome = { ok: true, repaid, balance };
    this.remember(tenant, "debt.repay", command.idempotency, outcome, now);
    if (this.writes.enabled) await this.writes.flush();
    return outcome;
  }

  async recordEvent(event: RecordedEvent): Promise<void> {
    if (!this.restored) await this.ready;
    this.appendAudit({ ...event, atMs: this.clock() });
  }

  // ---------------------------------------------------------------- reads

  async getBalance(query: BalanceLookup): Promise<Balance | null> {
    if (!this.restored) await this.ready;
    const definition = this.budgetIndex.get(query.scope, query.unit);
    if (!definition) return null;
    const now = this.clock();
    const instance = windowInstanceOf(definition.window, now, query.runId);
    await this.writes.load([this.counterKey(definition, instance)]);
    this.expireDue(this.clock());
    const current = this.budgetIndex.get(query.scope, query.unit);
    if (!current) return null;
    const counters = this.peekCounters(current, instance) ?? {
      spent: 0,
      reserved: 0,
      debt: 0,
      touchedAtMs: now,
    };
    return balanceOf(current, instance, counters);
  }

  async getReservation(reservationId: string): Promise<ReservationRecord | null> {
    if (!this.restored) await this.ready;
    this.expireDue(this.clock());
    const slot = this.slots.slotOf(reservationId);
    return slot < 0 ? null : this.slots.record(slot);
  }

  async audit(query: AuditLookup): Promise<AuditEvent[]> {
    if (!this.restored) await this.ready;
    return this.audits.query(
      query.scope === undefined ? undefined : tenantScopeOf(query.scope),
      query,
      query.limit ?? auditQueryLimitDefault,
    );
  }

  async sweep(): Promise<number> {
    if (!this.restored) await this.ready;
    const now = this.clock();
    const expired = this.expireDue(now);
    this.evictRetained(now);
    if (this.writes.enabled) await this.writes.flush();
    return expired;
  }

  // ---------------------------------------------------------------- internals

  /** Expires every held reservation whose TTL + grace has passed. Synchronous: part of a critical section. */
  private expireDue(now: number): number {
    if (!this.deadlines.anyDue(now)) return 0;
    let expired = 0;
    this.deadlines.popDue(now, (_deadline, slot) => {
      // Lazy deletion: settled reservations and superseded deadlines (extend) are skipped here.
      if (this.slots.status[slot] !== slotHeld || this.deadlineOf(slot) > now) return;
      this.expire(slot, now);
      expired++;
    });
    return expired;
  }

  private expire(slot: number, now: number): void {
    const held = this.heldBudgets(slot);
    const estimate = this.slots.estimate[slot];
    for (const { definition, instance, counters } of held) {
      counters.reserved -= estimate;
      assertCounters(definition, counters);
      this.persistCounters(definition, instance, counters);
    }
    const reservationId = this.slots.ids[slot] as string;
    this.appendAudit({
      atMs: now,
      type: "expire",
      scope: this.slots.subjectScope[slot] as string,
      unit: this.slots.unit[slot] as Unit,
      reservationId,
      action: this.slots.action[slot],
      runId: this.slots.runId[slot],
      estimate,
      amount: this.slots.isShadowDenied(slot) ? 0 : estimate,
      balances: new BalanceSnapshot(held),
    });
    this.markSettled(slot, "expired", now);
  }

  /** Whether a deadline entry still stands for its slot's open hold (made once: no closure per push). */
  private readonly isLiveDeadline = (deadline: number, slot: number): boolean =>
    this.slots.status[slot] === slotHeld && this.deadlineOf(slot) === deadline;

  private deadlineOf(slot: number): number {
    return holdDeadlineMs(this.slots.expiresAtMs[slot], this.slots.graceMs[slot]);
  }

  /** The budgets a hold holds now: a definition replaced since is looked up again; a removed one is gone. */
  private heldBudgets(slot: number): HeldBudget[] {
    const refs = this.slots.holds[slot];
    let current = true;
    for (const ref of refs) if ((ref.definition as Hot<BudgetDefinition>)[retired]) current = false;
    if (current) return refs;
    const out: HeldBudget[] = [];
    for (const { definition: held, instance } of refs) {
      const definition = this.budgetIndex.get(held.scope, held.unit);
      // The budget was removed (revoked) while held: its counters went with it.
      if (!definition) continue;
      const counters = this.peekCounters(definition, instance);
      if (counters) out.push({ definition, instance, counters });
    }
    this.slots.holds[slot] = out;
    return out;
  }

  /** Settled records leave keyv at once (it holds only open holds) and stay in their slot, bounded, for precise errors. */
  private markSettled(slot: number, status: "committed" | "released" | "expired", now: number): void {
    if (!this.writes.enabled) {
      this.slots.settle(slot, status, now);
      return;
    }
    const id = this.slots.ids[slot] as string;
    this.writes.persist(`r:${id}`, null);
    this.heldIds.delete(id);
    this.writes.persistLater(indexHoldsKey, () => [...this.heldIds]);
    this.slots.settle(slot, status, now);
  }

  private persistReservation(slot: number): void {
    if (this.writes.enabled) this.writes.persist(`r:${this.slots.ids[slot]}`, this.slots.record(slot));
  }

  /** Deadlines are deleted lazily; stale entries are dropped when they outnumber the live ones. */
  private pushDeadline(slot: number, ttlMs: number): void {
    // Holds made with the same TTL and grace come due in the order they were made: one lane.
    this.deadlines.push(ttlMs + this.slots.graceMs[slot], this.deadlineOf(slot), slot);
    this.deadlines.compactIfStale(this.slots.heldCount, this.isLiveDeadline);
  }

  private evictRetained(now: number): void {
    this.slots.evict(now);
    for (const records of [this.idempotency, this.unknownIdempotency]) {
      for (const [key, record] of records) {
        if (record.atMs + this.idempotencyRetentionMs > now) break;
        records.delete(key);
        this.writes.markLoaded(key);
        this.writes.persist(key, null);
      }
    }
    // Window counters that hold nothing and went idle are dropped (scan at most once a minute).
    if (now - this.lastCounterScanMs >= 60_000) {
      this.lastCounterScanMs = now;
      for (const [key, counters] of this.counters) {
        if (key.endsWith("|life") || counters.reserved > 0) continue;
        const idleMs = now - counters.touchedAtMs;
        const isClockWindow = !key.includes("|run:");
        const windowOver = isClockWindow && idleMs > windowLengthMs.day;
        if (windowOver || idleMs > this.windowCountersRetentionMs) {
          this.counters.delete(key);
          this.counterKeysByBudget.get(budgetKeyOfCounterKey(key))?.delete(key);
          this.writes.forgetLoaded(key);
          this.writes.persist(key, null);
        }
      }
    }
  }

  private counterKey(definition: BudgetDefinition, instance: string): string {
    return `c:${budgetKey(definition.scope, definition.unit)}|${instance}`;
  }

  private indexBudget(definition: BudgetDefinition): void {
    const previous = this.budgetIndex.set(definition) as Hot<BudgetDefinition> | undefined;
    if (previous) {
      previous[retired] = true;
      // An update keeps the spend: the new definition takes over the lifetime counters.
      (definition as Hot<BudgetDefinition>)[lifetimeCounters] = previous[lifetimeCounters];
    }
  }

  private counterKeysFor(subjectScope: string, unit: Unit, now: number, runId: string | undefined): string[] {
    return this.budgetIndex
      .applicable(subjectScope, unit)
      .map((definition) => this.counterKey(definition, windowInstanceOf(definition.window, now, runId)));
  }

  /**
   * The counters of a budget's window instance, created at zero when new. Lifetime counters live on
   * their definition (a budget has exactly one), so an idle budget costs no map entry or key for them.
   */
  private countersOf(definition: BudgetDefinition, instance: string, now: number): Counters {
    const existing = this.peekCounters(definition, instance);
    if (existing) return existing;
    const counters: Counters = { spent: 0, reserved: 0, debt: 0, touchedAtMs: now };
    if (instance === lifetimeInstance) (definition as Hot<BudgetDefinition>)[lifetimeCounters] = counters;
    else this.cacheCounters(this.counterKey(definition, instance), counters);
    this.writes.markLoaded(this.counterKey(definition, instance));
    return counters;
  }

  private peekCounters(definition: BudgetDefinition, instance: string): Counters | undefined {
    if (instance !== lifetimeInstance) return this.counters.get(this.counterKey(definition, instance));
    const hot = definition as Hot<BudgetDefinition>;
    if (hot[lifetimeCounters]) return hot[lifetimeCounters];
    // Loaded from keyv before first use: move it onto the definition.
    const key = this.counterKey(definition, instance);
    const loaded = this.counters.get(key);
    if (loaded) {
      this.counters.delete(key);
      hot[lifetimeCounters] = loaded;
    }
    return loaded;
  }

  private cacheCounters(counterKey: string, counters: Counters): void {
    this.counters.set(counterKey, counters);
    // A lifetime counter's key is known from its budget; only window counters need the index.
    if (counterKey.endsWith(lifetimeCounterSuffix)) return;
    const budget = budgetKeyOfCounterKey(counterKey);
    let keys = this.counterKeysByBudget.get(budget);
    if (!keys) {
      keys = new Set();
      this.counterKeysByBudget.set(budget, keys);
    }
    keys.add(counterKey);
  }

  private appendToBudgetIndex(key: string): void {
    // The persisted index exists only in keyv; without write-through nothing reads it.
    if (!this.writes.enabled) return;
    if (this.budgetIndexChunk.keys.length >= budgetIndexChunkSize) {
      this.budgetIndexChunk = { number: this.budgetIndexChunk.number + 1, keys: [] };
    }
    this.budgetIndexChunk.keys.push(key);
    this.writes.persist(`index:budgets:${this.budgetIndexChunk.number}`, this.budgetIndexChunk.keys);
    this.writes.persist(budgetIndexChunkCountKey, this.budgetIndexChunk.number + 1);
  }

  private persistCounters(definition: BudgetDefinition, instance: string, counters: Counters): void {
    if (this.writes.enabled) this.writes.persist(this.counterKey(definition, instance), counters);
  }

  private idempotencyKeys(tenant: string, operation: string, tag: IdempotencyTag | undefined): string[] {
    return tag ? [`i:${tenant}|${operation}|${tag.key}`] : [];
  }

  private replay<T>(
    tenant: string,
    operation: string,
    tag: IdempotencyTag | undefined,
  ): T | { ok: false; error: "IDEMPOTENCY_CONFLICT" } | undefined {
    if (!tag) return undefined;
    const key = `i:${tenant}|${operation}|${tag.key}`;
    const record = this.idempotency.get(key) ?? this.unknownIdempotency.get(key);
    if (!record) return undefined;
    if (record.fingerprint !== tag.fingerprint) return { ok: false, error: "IDEMPOTENCY_CONFLICT" };
    return { ...(structuredClone(record.outcome) as object), replayed: true } as T;
  }

  private remember(
    tenant: string,
    operation: string,
    tag: IdempotencyTag | undefined,
    outcome: unknown,
    now: number,
  ): void {
    if (!tag) return;
    const key = `i:${tenant}|${operation}|${tag.key}`;
    const record: IdempotencyRecord = {
      fingerprint: tag.fingerprint,
      outcome: structuredClone(
        outcome instanceof EmbeddedReserveOutcome ? outcome.toOutcome() : WithBalances.plain(outcome),
      ),
      atMs: now,
    };
    const records = this.budgetIndex.hasTenant(tenant) ? this.idempotency : this.unknownIdempotency;
    const recordsMax = records === this.idempotency ? this.idempotencyKeysMax : unknownTenantIdempotencyKeysMax;
    records.set(key, record);
    this.writes.markLoaded(key);
    this.writes.persist(key, record, this.idempotencyRetentionMs);
    while (records.size > recordsMax) {
      const oldest = records.keys().next().value as string;
      records.delete(oldest);
      this.writes.markLoaded(oldest);
      this.writes.persist(oldest, null);
    }
  }

  /** A reserve whose answer was lost and is released: a retry with its key is decided afresh, not replayed. */
  private forgetReserve(tenant: string, idempotencyKey: string, reservationId: string): void {
    const key = `i:${tenant}|reserve|${idempotencyKey}`;
    for (const records of [this.idempotency, this.unknownIdempotency]) {
      const record = records.get(key);
      if ((record?.outcome as { reservationId?: string } | undefined)?.reservationId !== reservationId) continue;
      records.delete(key);
      this.writes.markLoaded(key);
      this.writes.persist(key, null);
    }
  }

  /**
   * The event object the hot paths fill and hand to the columns, which copy what they keep: one for
   * the store's life, every optional field reset on each use (one shape, nothing carried over).
   */
  private hotEvent(type: AuditInput["type"], atMs: number, scope: string, unit: Unit): AuditInput {
    const event = this.scratchEvent;
    event.seq = 0;
    event.atMs = atMs;
    event.type = type;
    event.scope = scope;
    event.unit = unit;
    event.reservationId = undefined;
    event.reservationSlot = undefined;
    event.action = undefined;
    event.runId = undefined;
    event.actor = undefined;
    event.estimate = undefined;
    event.amount = undefined;
    event.decision = undefined;
    event.reasonCode = undefined;
    event.deniedScope = undefined;
    event.caps = undefined;
    event.shadow = undefined;
    event.balances = undefined;
    event.detail = undefined;
    return event;
  }

  /**
   * The columns copy what they keep: `event` is never retained. Returns the event's audit seq: its
   * tenant's chain seq when the store chains, else the event's own seq.
   */
  private appendAudit(event: Omit<AuditInput, "seq">): number {
    this.auditSeq++;
    (event as AuditInput).seq = this.auditSeq;
    const tenant = tenantScopeOf(event.scope);
    const chain = this.chain;
    if (chain === undefined) {
      this.audits.append(tenant, event as AuditInput);
      return this.auditSeq;
    }
    const chainSeq = chain.assign(tenant);
    this.audits.append(tenant, event as AuditInput, chainSeq);
    this.linker?.noteWritten(tenant);
    return chainSeq;
  }
}

/**
 * A stored definition with its hot fields present from the start: every definition then shares one
 * hidden class. Added later, the symbol fields gave each definition a map of its own (about 150
 * bytes per budget, most of what an idle budget cost).
 */
function hotDefinition(fields: Omit<BudgetDefinition, "updatedAtMs">, updatedAtMs: number): Hot<BudgetDefinition> {
  return {
    scope: fields.scope,
    unit: fields.unit,
    limit: fields.limit,
    window: fields.window,
    narrowing: fields.narrowing,
    overdraftLimit: fields.overdraftLimit,
    updatedAtMs,
    [lifetimeCounters]: undefined,
    [retired]: undefined,
    [lifetimeHold]: undefined,
    [auditScopeId]: undefined,
  };
}
