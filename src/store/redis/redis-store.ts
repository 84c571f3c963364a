import type { Decision, ReasonCode } from "../../core/decision.js";
import { invariant, StoreReplyError } from "../../core/errors.js";
import {
  auditEventsMaxDefault,
  idempotencyKeysMaxDefault,
  idempotencyRetentionMsDefault,
  settledReservationRetentionMsDefault,
  settledReservationsMaxDefault,
} from "../../core/limits.js";
import type { OveragePolicy } from "../../core/schemas.js";
import { applicableScopes, tenantScopeOf } from "../../core/scope.js";
import { isTier, type Tier, tierRank } from "../../core/tiers.js";
import { assertAmount, type Unit } from "../../core/units.js";
import type { BudgetWindow } from "../../core/windows.js";
import type { ChainRecord } from "../../evidence/chain.js";
import type { ChainExport } from "../../evidence/export.js";
import { ChainLinker } from "../../evidence/linker.js";
import { copyEvidenceConfig, type EvidenceConfig, parseEvidenceOptions } from "../../evidence/options.js";
import type { CyclesEnvelope } from "../../evidence/receipt.js";
import {
  type DecisionReceiptQuery,
  type ReceiptQuery,
  receiptOfDecision,
  receiptOfStoredRecord,
} from "../../evidence/stored-receipt.js";
import { tenantOfReservation } from "../keyv-records.js";
import type {
  ActionRecord,
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
  ReserveOutcome,
  ReserveResult,
  SettleError,
  SettleOutcome,
} from "../types.js";
import { readAudit } from "./audit-reader.js";
import { BudgetShapes, type TenantShapes } from "./budget-shapes.js";
import { CallBatcher } from "./call-batcher.js";
import { RedisChainBackend } from "./chain-backend.js";
import type { RedisConnection } from "./connection.js";
import type { KeySpace } from "./keys.js";
import { withRedisLease } from "./policy-lease.js";
import { amountOf, arrayReply, checkBalance, jsonReply, okOutcome, oneOf, type Reply, textOf } from "./replies.js";
import { batchFunction, librarySource, type StoreFunction, scripts } from "./scripts.js";

export interface RedisStoreLimits {
  /** Cap of each tenant's audit stream (approximate trimming keeps it within ~100 entries of this). */
  auditEventsMax?: number;
  /** Idempotency records expire this long after they were written... */
  idempotencyRetentionMs?: number;
  /** ...and each tenant keeps at most this many (the oldest go first). */
  idempotencyKeysMax?: number;
  /** Settled reservations are kept this long, so a late second settle gets a precise error... */
  settledReservationRetentionMs?: number;
  /**
   * ...and each tenant keeps at most this many plus 1/64 of it (the oldest beyond this many are
   * dropped together once the slack is full, so a settle does not pay for one drop each time).
   */
  settledReservationsMax?: number;
  /** Counters of run windows expire after this much idleness (clock windows after two days). */
  runCountersRetentionMs?: number;
  /** Overdue holds a tenant script expires inline before doing its own work. */
  expireBatchMax?: number;
  /**
   * The keys of a tenant that never had a budget (its denials' audit stream, idempotency index) expire
   * this long after its last write, so random tenant ids cannot grow Redis for ever.
   */
  unknownTenantRetentionMs?: number;
  /** Tenants one sweep() visits at most; the rest wait for the next sweep. */
  sweepTenantsMax?: number;
}

export interface RedisStoreParts extends RedisStoreLimits {
  connection: RedisConnection;
  keys: KeySpace;
  /** Test only: added to the server's TIME in every script, so a suite can move time without sleeping. */
  timeOffsetMs?: () => number;
  /** Chains the audit events (hashed and linked off the reserve/commit path) and signs checkpoints. */
  evidence?: EvidenceConfig;
}

const runCountersRetentionMsDefault = 7 * 86_400_000;
const expireBatchMaxDefault = 100;
const sweepTenantsMaxDefault = 100;
const unknownTenantRetentionMsDefault = 3_600_000;
/** Tenants without budgets listed for audit queries across tenants: the newest this many. */
const recentTenantsMax = 10_000;
const sweepConcurrency = 8;
/** Tenants this process has registered in the tenants set; bounded, re-registering is harmless. */
const knownTenantsMax = 100_000;
/** A note that cannot lower a tenant's entry in the sweep index is skipped for this long (client clock, pacing only). */
const sweepNoteRefreshMs = 1_000;
/** close() waits this long at most for the linker's last flush (a store that is down fails each call). */
const linkerCloseWaitMs = 2_000;

/**
 * The distributed store: every mutation is one Lua function call on one tenant's keys (one cluster
 * slot), run by FCALL (calls of the same tick batched per tenant), on the server's clock. Any number
 * of processes may share it.
 */
export class RedisLedgerStore implements LedgerStore {
  readonly name = "redis";
  readonly distributed = true;

  private readonly connection: RedisConnection;
  private readonly keys: KeySpace;
  private readonly timeOffsetMs: () => number;
  /** The limits every tenant script receives as ARGV[3]. */
  private readonly limitsArg: string;
  private readonly sweepTenantsMax: number;
  private readonly unknownTenantRetentionMs: number;
  private readonly knownTenants = new Set<string>();
  private readonly notedDeadlines = new Map<string, { deadlineMs: number; notedAtMs: number }>();
  /** Tenant calls of the same tick go as one FCALL per tenant. */
  private readonly batcher = new CallBatcher(batchFunction, (fn, key, args) => this.run(fn, key, [...args]));
  /** Per tenant, the budget shapes that exist: a reserve sends only the candidate scopes of those. */
  private readonly shapes = new BudgetShapes(async (tenant) => {
    const [generation, ...fields] = arrayReply(await this.runTenant(scripts.shapes, tenant, []), "shapes", 1).map(
      (item) => textOf(item, "shapes", "field"),
    );
    return { generation, fields };
  });

  /** Audit hash chain: the Redis half of the linker; with `evidence` only, its config (a copy) and the linker. */
  private readonly chain: RedisChainBackend;
  private readonly evidence: EvidenceConfig | undefined;
  private readonly linker: ChainLinker | undefined;

  constructor(parts: RedisStoreParts) {
    this.connection = parts.connection;
    this.keys = parts.keys;
    this.chain = new RedisChainBackend(this.connection, this.keys, (fn, key, args) => this.run(fn, key, args));
    if (parts.evidence) {
      this.evidence = copyEvidenceConfig(parts.evidence);
      this.linker = new ChainLinker(this.chain, this.evidence);
      this.linker.start();
    }
    this.timeOffsetMs = parts.timeOffsetMs ?? (() => 0);
    this.sweepTenantsMax = parts.sweepTenantsMax ?? sweepTenantsMaxDefault;
    this.unknownTenantRetentionMs = parts.unknownTenantRetentionMs ?? unknownTenantRetentionMsDefault;
    this.limitsArg = [
      parts.auditEventsMax ?? auditEventsMaxDefault,
      parts.settledReservationRetentionMs ?? settledReservationRetentionMsDefault,
      parts.idempotencyRetentionMs ?? idempotencyRetentionMsDefault,
      parts.runCountersRetentionMs ?? runCountersRetentionMsDefault,
      parts.expireBatchMax ?? expireBatchMaxDefault,
      parts.settledReservationsMax ?? settledReservationsMaxDefault,
      parts.idempotencyKeysMax ?? idempotencyKeysMaxDefault,
      this.unknownTenantRetentionMs,
    ].join(",");
  }

  async now(): Promise<number> {
    const [seconds, micros] = arrayReply(await this.connection.send(undefined, ["TIME"]), "TIME", 2);
    return (
      amountOf(seconds, "TIME", "seconds") * 1000 +
      Math.floor(amountOf(micros, "TIME", "microseconds") / 1000) +
      this.timeOffsetMs()
    );
  }

  /** One policy apply at a time across every process on this server (and prefix). */
  withPolicyLease<T>(work: (held: () => boolean) => Promise<T>, options: { waitMs: number }): Promise<T> {
    return withRedisLease(this.connection, this.keys.policyLease, work, options);
  }

  async close(): Promise<void> {
    if (this.linker) await waitAtMost(this.linker.close(), linkerCloseWaitMs);
    await this.connection.close();
  }

  // ---------------------------------------------------------------- evidence

  /**
   * The audit hash chain as kept, for `tollgate audit --out` and `audit verify --redis`: per tenant
   * (the tenant scope, or every tenant), a record for every linked event the stream keeps, the kept
   * checkpoints, and the retention anchor when the stream was trimmed. This store's own linker
   * links what it wrote first; events of other processes not linked yet are not in it (linkChains).
   */
  async chainExport(query: { tenant?: string }): Promise<ChainExport> {
    await this.linker?.flush();
    const tenants = query.tenant !== undefined ? [tenantScopeOf(query.tenant)] : await this.tenants();
    const exported: ChainExport = { records: [], checkpoints: [] };
    const nowMs = Date.now();
    const perTenant = new Map<string, ChainExport>();
    await forEachLimited(tenants, sweepConcurrency, async (tenant) => {
      perTenant.set(tenant, await this.chain.exportTenant(tenant, nowMs));
    });
    for (const tenant of [...perTenant.keys()].sort()) {
      const one = perTenant.get(tenant) as ChainExport;
      exported.records.push(...one.records);
      exported.checkpoints.push(...one.checkpoints);
    }
    return exported;
  }

  async chainRecord(query: { tenant: string; seq: number }): Promise<ChainRecord | undefined> {
    const tenant = tenantScopeOf(query.tenant);
    await this.linkChains({ tenant });
    return this.chain.recordAt(tenant, query.seq);
  }

  async receipt(query: ReceiptQuery | DecisionReceiptQuery): Promise<CyclesEnvelope> {
    const tenant = tenantScopeOf(query.tenant);
    if ("decision" in query) return receiptOfDecision(this.evidence, { ...query, tenant });
    return receiptOfStoredRecord(this.evidence, { ...query, tenant }, await this.chainRecord({ ...query, tenant }));
  }

  /**
   * Links every tenant's written events up to its newest (events of a process that died before
   * linking them). A store without evidence links only the chains that exist (it never starts one)
   * and writes no checkpoint; with evidence, its linker signs the checkpoints that are due.
   */
  async linkChains(query: { tenant?: string } = {}): Promise<void> {
    const linker =
      this.linker ??
      new ChainLinker(
        {
          sealedHead: (tenant) => this.chain.sealedHead(tenant),
          eventsAfter: (tenant, afterSeq, limit) => this.chain.eventsAfter(tenant, afterSeq, limit),
          seal: (tenant, from, links) => this.chain.seal(tenant, from, links),
          putCheckpoint: async () => undefined,
          lastCheckpoint: (tenant) => this.chain.lastCheckpoint(tenant),
        },
        parseEvidenceOptions({}),
      );
    const tenants = query.tenant !== undefined ? [tenantScopeOf(query.tenant)] : await this.tenants();
    await forEachLimited(tenants, sweepConcurrency, async (tenant) => {
      if (!this.linker && (await this.chain.sealedHead(tenant)).seq === 0) return;
      // linkTenant takes a bounded number of batches per call: go on until the head stops moving.
      for (let head = -1; ; ) {
        const linked = await linker.linkTenant(tenant);
        if (linked.seq === head) break;
        head = linked.seq;
      }
    });
  }

  // ---------------------------------------------------------------- budgets

  async putBudget(command: PutBudgetCommand): Promise<PutBudgetOutcome> {
    const definition = command.definition;
    const tenant = tenantScopeOf(definition.scope);
    const { scope, unit, limit, window, narrowing, overdraftLimit } = definition;
    assertAmount(limit, "limit");
    assertAmount(overdraftLimit, "overdraftLimit");
    const detail = `window=${window} narrowing=${narrowing ? "bands" : "none"} overdraftLimit=${overdraftLimit}`;
    const [, raw] = await Promise.all([
      this.registerTenant(tenant),
      this.runTenant(scripts.budgetSet, tenant, [
        budgetField(scope, unit),
        JSON.stringify({ scope, unit, limit, window, narrowing, overdraftLimit }),
        definitionText(definition),
        jsonFields({ scope, unit, amount: limit, detail }),
        ...idempotencyArgs(command.idempotency),
      ]),
    ]);
    const outcome = jsonReply<PutBudgetOutcome>(raw, "budget.set", (value) =>
      value.ok === true && (typeof value.definition !== "object" || value.definition === null)
        ? "no definition"
        : okOutcome()(value),
    );
    if (outcome.ok) outcome.definition = publicDefinition(outcome.definition);
    return outcome;
  }

  async removeBudget(command: RemoveBudgetCommand): Promise<RemoveBudgetOutcome> {
    const raw = await this.runTenant(scripts.budgetRemove, tenantScopeOf(command.scope), [
      budgetField(command.scope, command.unit),
      jsonFields({ scope: command.scope, unit: command.unit }),
      ...idempotencyArgs(command.idempotency),
    ]);
    return jsonReply<RemoveBudgetOutcome>(raw, "budget.remove", (value) =>
      value.ok === true && typeof value.removed !== "boolean" ? "no removed flag" : okOutcome()(value),
    );
  }

  async listBudgets(query: { scopePrefix?: string }): Promise<BudgetDefinition[]> {
    const prefix = query.scopePrefix;
    const tenants = prefix !== undefined ? [tenantScopeOf(prefix)] : await this.tenants();
    const out: BudgetDefinition[] = [];
    await forEachLimited(tenants, sweepConcurrency, async (tenant) => {
      const flat = arrayReply(
        await this.connection.send(this.keys.budgets(tenant), ["HGETALL", this.keys.budgets(tenant)]),
        "HGETALL",
        0,
      ) as string[];
      for (let index = 1; index < flat.length; index += 2) {
        if (flat[index - 1].startsWith("~")) continue; // the generation of the set of budgets
        const definition = publicDefinition(JSON.parse(definitionJsonOf(flat[index])) as BudgetDefinition);
        if (prefix !== undefined && definition.scope !== prefix && !definition.scope.startsWith(`${prefix}/`)) {
          continue;
        }
        out.push(definition);
      }
    });
    return out.sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : a.unit < b.unit ? -1 : 1));
  }

  // ---------------------------------------------------------------- reservations

  async reserve(command: ReserveCommand): Promise<ReserveResult> {
    const tenant = tenantScopeOf(command.subjectScope);
    invariant(
      tenantOfReservation(command.reservationId) === tenant,
      `reservation id ${command.reservationId} names another tenant than ${tenant}`,
    );
    // The ledger validated these; the scripts check them again before their first write.
    assertAmount(command.estimate, "estimate");
    if (!(Number.isSafeInteger(command.ttlMs) && command.ttlMs > 0)) {
      invariant(false, `ttlMs is a positive integer (got ${command.ttlMs})`);
    }
    const { subjectScope: scope, unit, action, runId, actor, estimate, reservationId } = command;
    const all = applicableScopes(scope);
    let shapes: TenantShapes | undefined = this.shapes.get(tenant);
    const known = shapes !== undefined;
    let scopes = all;
    let raw: unknown;
    // What every attempt's plan shares (see planOf in lua/prelude.ts): joined by newlines, which none
    // of its parts holds (names, numbers, validated scopes, JSON).
    const planHead = [
      unit,
      action.tier,
      String(command.ttlMs),
      String(command.graceMs),
      command.overagePolicy,
      `${command.dryRun ? "1" : "0"}${command.shadow ? "1" : "0"}`,
    ].join("\n");
    const planTail = `${jsonFields({ scope, unit, action, runId })}\n${actor === undefined ? "" : JSON.stringify(actor)}`;
    const perCall = [runId ?? "", ...idempotencyArgs(command.dryRun ? undefined : command.idempotency)];
    // At most three calls: filtered, filtered again after a refresh, then all candidates.
    for (let attempt = 0; ; attempt++) {
      scopes = shapes ? shapes.candidates(scope, unit, all) : all;
      const plan = `${planHead}\n${shapes?.generation ?? ""}\n${planTail}${scopes.length > 0 ? `\n${scopes.join("\n")}` : ""}`;
      raw = await this.runTenant(
        scripts.reserve,
        tenant,
        withoutTrailingEmpty([reservationId, String(estimate), plan, ...perCall]),
      );
      if (!(Array.isArray(raw) && raw[0] === "!" && raw[1] === "SHAPES_CHANGED")) break;
      // The tenant's budgets changed since the snapshot: nothing was decided; refresh and ask again.
      shapes = attempt === 0 ? await this.shapes.refresh(tenant) : undefined;
    }
    // A tenant that comes back without a snapshot: learn its shapes for the next ones, off the hot path.
    if (!known && !shapes && this.shapes.missed(tenant)) this.shapes.refresh(tenant).catch(() => undefined);
    if (Array.isArray(raw) && raw[0] === "!" && raw[1] === "IDEMPOTENCY_CONFLICT") {
      return { ok: false, error: "IDEMPOTENCY_CONFLICT" };
    }
    const reply = arrayReply(raw, "reserve", 10);
    const outcome = reserveOutcomeOf(reply, command, scopes);
    if (!command.dryRun) this.noteTenant(tenant, outcome.balances.length > 0);
    this.noteDeadline(tenant, amountOf(reply[6], "reserve", "deadline"));
    return outcome;
  }

  commit(command: CommitCommand): Promise<SettleOutcome> {
    if (command.actual !== undefined) assertAmount(command.actual, "actual");
    return this.settle(scripts.commit, command.reservationId, command.idempotency, [
      command.actual === undefined ? "" : String(command.actual),
      command.actor === undefined ? "" : JSON.stringify(command.actor),
    ]);
  }

  release(command: ReleaseCommand): Promise<SettleOutcome> {
    return this.settle(scripts.release, command.reservationId, command.idempotency, [
      "",
      command.actor === undefined ? "" : JSON.stringify(command.actor),
      command.reason === undefined ? "" : JSON.stringify(command.reason),
      command.lostReserve ? "1" : "",
      command.lostReserve?.idempotencyKey ?? "",
    ]);
  }

  /** See lua/settle.ts for the arguments: the fingerprint and key first, as every settle has a fingerprint. */
  private async settle(
    script: StoreFunction,
    reservationId: string,
    idempotency: IdempotencyTag | undefined,
    args: string[],
  ): Promise<SettleOutcome> {
    const [key, fingerprint] = idempotencyArgs(idempotency);
    const raw = await this.runTenant(
      script,
      tenantOfReservation(reservationId),
      withoutTrailingEmpty([reservationId, fingerprint, key, ...args]),
    );
    return settleOutcomeOf(arrayReply(raw, script.name, 2), reservationId, script.name);
  }

  async extend(command: ExtendCommand): Promise<ExtendOutcome> {
    const tenant = tenantOfReservation(command.reservationId);
    const [raw, deadline] = arrayReply(
      await this.runTenant(scripts.extend, tenant, [
        command.reservationId,
        String(command.ttlMs),
        ...idempotencyArgs(command.idempotency),
      ]),
      "extend",
      2,
    );
    const outcome = jsonReply<ExtendOutcome>(raw, "extend", okOutcome("expiresAtMs"));
    this.noteDeadline(tenant, amountOf(deadline, "extend", "deadline"));
    return outcome;
  }

  async repayDebt(command: RepayDebtCommand): Promise<RepayDebtOutcome> {
    const { scope, unit, runId } = command;
    assertAmount(command.amount, "amount");
    const raw = await this.runTenant(scripts.repayDebt, tenantScopeOf(scope), [
      budgetField(scope, unit),
      runId ?? "",
      String(command.amount),
      jsonFields({ scope, unit, runId }),
      ...idempotencyArgs(command.idempotency),
    ]);
    return jsonReply<RepayDebtOutcome>(raw, "debt.repay", (value) =>
      value.ok === true && value.balance !== null
        ? (checkBalance(value.balance) ?? okOutcome("repaid")(value))
        : okOutcome("repaid")(value),
    );
  }

  async recordEvent(event: RecordedEvent): Promise<void> {
    const { type, ...fields } = event;
    const reply = await this.runTenant(scripts.recordEvent, tenantScopeOf(event.scope), [type, jsonFields(fields)]);
    amountOf(reply, "event.record", "reply");
  }

  // ---------------------------------------------------------------- reads

  async getBalance(query: BalanceLookup): Promise<Balance | null> {
    const raw = await this.runTenant(scripts.balance, tenantScopeOf(query.scope), [
      budgetField(query.scope, query.unit),
      query.runId ?? "",
    ]);
    if (raw === "null") return null;
    return jsonReply<Balance>(raw, "balance", checkBalance);
  }

  async getReservation(reservationId: string): Promise<ReservationRecord | null> {
    const tenant = tenantOfReservation(reservationId);
    const [
      event,
      holds,
      status,
      shadowDenied,
      createdAtMs,
      expiresAtMs,
      charged,
      estimate,
      overagePolicy,
      graceMs,
      runId,
    ] = reservationReplyOf(await this.runTenant(scripts.reservation, tenant, [reservationId]));
    if (event === null) return null;
    // The record's fixed part is the JSON its events repeat: scope, unit, reservationId, action, runId.
    const fixed = JSON.parse(`{${event}}`) as { scope: string; unit: Unit; action: ActionRecord; runId?: string };
    const record: ReservationRecord = {
      id: reservationId,
      subjectScope: fixed.scope,
      unit: fixed.unit,
      action: fixed.action,
      estimate: Number(estimate),
      holds: holdsOf(holds as string, runId ?? ""),
      overagePolicy: overagePolicy as OveragePolicy,
      status: status as ReservationRecord["status"],
      shadowDenied: shadowDenied === "1",
      createdAtMs: Number(createdAtMs),
      expiresAtMs: Number(expiresAtMs),
      graceMs: Number(graceMs),
      charged: Number(charged),
    };
    if (fixed.runId !== undefined) record.runId = fixed.runId;
    return record;
  }

  async audit(query: AuditLookup): Promise<AuditEvent[]> {
    const tenants = query.scope ? [tenantScopeOf(query.scope)] : await this.tenants();
    return readAudit(this.connection, this.keys, tenants, query);
  }

  // ---------------------------------------------------------------- expiry

  async sweep(): Promise<number> {
    const due = arrayReply(
      await this.run(scripts.sweepDue, this.keys.sweepIndex, [
        String(this.timeOffsetMs()),
        String(this.sweepTenantsMax),
      ]),
      "sweep.due",
      0,
    ).map((tenant) => textOf(tenant, "sweep.due", "tenant"));
    let expired = 0;
    await forEachLimited(due, sweepConcurrency, async (tenant) => {
      const [count, next] = arrayReply(await this.runTenant(scripts.expire, tenant, []), "expire", 2);
      expired += amountOf(count, "expire", "count");
      await this.run(scripts.sweepNote, this.keys.sweepIndex, [
        String(this.timeOffsetMs()),
        tenant,
        String(amountOf(next, "expire", "deadline")),
      ]);
    });
    return expired;
  }

  // ---------------------------------------------------------------- internals

  private runTenant(script: StoreFunction, tenant: string, args: string[]): Promise<unknown> {
    const keys = this.keys;
    const sent = this.batcher.send(
      script,
      keys.tenantRoutingKey(tenant),
      [keys.tenantBase(tenant), String(this.timeOffsetMs()), this.limitsArg],
      args,
    );
    const linker = this.linker;
    if (!linker || script === scripts.shapes) return sent;
    // Every other tenant function may append audit events (reads expire overdue holds); a call that
    // failed may have written too. The linker hashes them off this path.
    return sent.then(
      (reply) => {
        linker.noteWritten(tenant);
        return reply;
      },
      (error) => {
        linker.noteWritten(tenant);
        throw error;
      },
    );
  }

  /**
   * FCALL; a server without the library (a restart without persistence, FUNCTION FLUSH, a new cluster
   * primary) answers "Function not found": the library is loaded on the node the key routes to, once
   * for all the calls that found it missing at the same time, and the call is made again.
   */
  private async run(script: StoreFunction, key: string, args: string[]): Promise<unknown> {
    const command = ["FCALL", script.fn, "1", key, ...args];
    try {
      return await this.connection.send(key, command);
    } catch (error) {
      if (!isFunctionMissing(error)) throw error;
      await this.loadLibrary(key);
      return this.connection.send(key, command);
    }
  }

  private libraryLoads = new Map<string | undefined, Promise<unknown>>();

  private loadLibrary(key: string | undefined): Promise<unknown> {
    // Standalone: one load serves every key. Cluster: per routing key (the load goes to its node).
    const slot = this.connection.kind === "client" ? undefined : key;
    let loading = this.libraryLoads.get(slot);
    if (!loading) {
      loading = this.connection
        .send(key, ["FUNCTION", "LOAD", "REPLACE", librarySource])
        .finally(() => this.libraryLoads.delete(slot));
      this.libraryLoads.set(slot, loading);
    }
    return loading;
  }

  /** Loads the library ahead of the first call (standalone servers). */
  async preload(): Promise<void> {
    if (this.connection.kind !== "client") return;
    await this.loadLibrary(undefined);
  }

  /** Registers a tenant so audit queries and listings across tenants find it. Awaited for budgets. */
  private async registerTenant(tenant: string): Promise<void> {
    await this.connection.send(this.keys.tenants, ["SADD", this.keys.tenants, tenant]);
    this.rememberTenant(tenant);
  }

  /**
   * Same after a reserve, at most once per tenant per process, without waiting. A tenant without a
   * budget on the path goes to a capped, time-trimmed list instead of the tenants set: random tenant
   * ids must not grow Redis for ever (an audit query across tenants may miss such a denial).
   */
  private noteTenant(tenant: string, hasBudget: boolean): void {
    if (this.knownTenants.has(tenant)) return;
    this.rememberTenant(tenant);
    const forget = () => {
      this.knownTenants.delete(tenant);
    };
    if (hasBudget) {
      this.connection.send(this.keys.tenants, ["SADD", this.keys.tenants, tenant]).catch(forget);
      return;
    }
    const key = this.keys.recentTenants;
    const nowMs = Date.now();
    Promise.all([
      this.connection.send(key, ["ZADD", key, String(nowMs), tenant]),
      this.connection.send(key, ["ZREMRANGEBYRANK", key, "0", String(-recentTenantsMax - 1)]),
      this.connection.send(key, ["ZREMRANGEBYSCORE", key, "-inf", String(nowMs - this.unknownTenantRetentionMs)]),
    ]).catch(forget);
  }

  private rememberTenant(tenant: string): void {
    if (this.knownTenants.size >= knownTenantsMax) this.knownTenants.clear();
    this.knownTenants.add(tenant);
  }

  /**
   * Tells the sweep index when this tenant next has a hold to expire. A lost or skipped note only
   * delays the expire audit event: every tenant script returns overdue holds before its own work.
   */
  private noteDeadline(tenant: string, deadline: number): void {
    if (!deadline) return;
    const nowMs = Date.now();
    const last = this.notedDeadlines.get(tenant);
    if (last && last.deadlineMs <= deadline && nowMs - last.notedAtMs < sweepNoteRefreshMs) return;
    if (this.notedDeadlines.size >= knownTenantsMax) this.notedDeadlines.clear();
    this.notedDeadlines.set(tenant, { deadlineMs: deadline, notedAtMs: nowMs });
    this.run(scripts.sweepNote, this.keys.sweepIndex, [String(this.timeOffsetMs()), tenant, String(deadline)]).catch(
      () => undefined,
    );
  }

  /** Tenants with budgets, and tenants without seen within unknownTenantRetentionMs. */
  private async tenants(): Promise<string[]> {
    const recent = this.keys.recentTenants;
    const [members, seen] = await Promise.all([
      this.connection.send(this.keys.tenants, ["SMEMBERS", this.keys.tenants]),
      this.connection.send(recent, [
        "ZRANGEBYSCORE",
        recent,
        String(Date.now() - this.unknownTenantRetentionMs),
        "+inf",
      ]),
    ]);
    const tenants = new Set<string>();
    for (const reply of [arrayReply(members, "SMEMBERS", 0), arrayReply(seen, "ZRANGEBYSCORE", 0)]) {
      for (const tenant of reply) tenants.add(textOf(tenant, "tenants", "tenant"));
    }
    return [...tenants];
  }
}

function isFunctionMissing(error: unknown): boolean {
  return /Function not found/i.test((error as Error)?.message ?? "");
}

function budgetField(scope: string, unit: string): string {
  return `${scope}|${unit}`;
}

/**
 * Values per budget in a reply remembered by an earlier build (an idempotent replay within
 * idempotencyRetentionMs of it): lead (candidate index or scope), window, instance, allocated,
 * spent, reserved, debt. Replies now carry one packed string per budget (see packedBalanceOf).
 */
const balanceWidth = 7;

/**
 * A packed balance, as lua/prelude.ts pushBalances makes it:
 * "<lead> <window> <allocated> <spent>:<reserved>:<debt> <instance>".
 */
const packedBalance = /^(\S+) (\S+) (\S+) ([^\s:]+):([^\s:]+):([^\s:]+) (.+)$/s;

/** Whether a reply item is a packed balance: the older layout's items never hold a space. */
function isPackedBalance(item: unknown): boolean {
  return typeof item === "string" && item.includes(" ");
}

const windows: readonly BudgetWindow[] = ["lifetime", "run", "minute", "hour", "day"];
const decisions: readonly Decision[] = ["ALLOW", "ALLOW_WITH_CAPS", "DENY"];

function balancesOf(
  reply: Reply,
  from: number,
  unit: Unit,
  scopeOf: (lead: string | number) => string | undefined,
  operation: string,
): Balance[] {
  const packed = from < reply.length && isPackedBalance(reply[from]);
  const width = packed ? 1 : balanceWidth;
  if ((reply.length - from) % width !== 0) {
    throw new StoreReplyError(operation, `balances of ${reply.length - from} items, not a multiple of ${width}`);
  }
  const balances: Balance[] = [];
  for (let at = from; at < reply.length; at += width) {
    const item = packed ? packedBalanceOf(reply[at], operation) : reply.slice(at, at + balanceWidth);
    const allocated = amountOf(item[3], operation, "allocated");
    const spent = amountOf(item[4], operation, "spent");
    const reserved = amountOf(item[5], operation, "reserved");
    const debt = amountOf(item[6], operation, "debt");
    const scope = scopeOf(item[0]);
    if (scope === undefined) throw new StoreReplyError(operation, `no scope for ${String(item[0])}`);
    balances.push({
      scope,
      unit,
      window: oneOf(item[1], windows, operation, "window"),
      instance: textOf(item[2], operation, "instance"),
      allocated,
      spent,
      reserved,
      debt,
      remaining: allocated - spent - reserved - debt,
    });
  }
  return balances;
}

/** A packed balance's values in the order of the older layout's seven items. */
function packedBalanceOf(item: string | number, operation: string): readonly string[] {
  const parts = typeof item === "string" ? packedBalance.exec(item) : null;
  if (!parts)
    throw new StoreReplyError(operation, `a balance that is not packed as expected: ${String(item).slice(0, 80)}`);
  const [, lead, window, allocated, spent, reserved, debt, instance] = parts;
  return [lead, window, instance, allocated, spent, reserved, debt];
}

/** See lua/reserve.ts for the reply's layout. */
function reserveOutcomeOf(reply: Reply, command: ReserveCommand, scopes: readonly string[]): ReserveOutcome {
  const outcome: ReserveOutcome = {
    decision: oneOf(reply[0], decisions, "reserve", "decision"),
    balances: balancesOf(
      reply,
      reserveBalancesAt(reply),
      command.unit,
      (index) => scopes[Number(index) - 1],
      "reserve",
    ),
  };
  for (let at = 1; at <= 9; at++) textOrInteger(reply[at], "reserve");
  const auditSeq = reserveBalancesAt(reply) === 11 ? auditSeqOf(reply[10], "reserve") : undefined;
  if (auditSeq !== undefined) outcome.auditSeq = auditSeq;
  if (!command.dryRun && auditSeq === undefined && reply[9] === "") {
    throw new StoreReplyError("reserve", "an answer without its audit event's seq");
  }
  if (reply[1] !== "") outcome.reasonCode = reply[1] as ReasonCode;
  if (reply[2] !== "") outcome.deniedScope = reply[2] as string;
  if (reply[3] !== "") {
    const disabledTiers = (reply[3] as string).split(",");
    if (!disabledTiers.every(isTier)) throw new StoreReplyError("reserve", "unknown tiers in caps");
    outcome.caps = { disabledTiers: disabledTiers as Tier[] };
  }
  if (reply[4] !== "") {
    // A replay answers with the first call's reservation; a fresh answer holds the id it was given.
    if (reply[9] === "" && reply[4] !== command.reservationId) {
      throw new StoreReplyError("reserve", "another reservation id");
    }
    outcome.reservationId = reply[4] as string;
    outcome.expiresAtMs = amountOf(reply[5], "reserve", "expiresAtMs");
  }
  if (outcome.decision === "DENY" && outcome.reasonCode === undefined) {
    throw new StoreReplyError("reserve", "a DENY without a reason");
  }
  if (outcome.decision !== "DENY" && !command.dryRun && outcome.reservationId === undefined) {
    throw new StoreReplyError("reserve", "an ALLOW without a hold");
  }
  if (reply[7] !== "") {
    outcome.shadow = { decision: "DENY", reasonCode: reply[7] as ReasonCode };
    if (reply[8] !== "") outcome.shadow.deniedScope = reply[8] as string;
  }
  if (reply[9] !== "") outcome.replayed = true;
  return outcome;
}

/** See lua/settle.ts for the reply's layout. */
function settleOutcomeOf(reply: Reply, reservationId: string, operation: string): SettleOutcome {
  if (reply[0] === "!") {
    const failure: SettleOutcome = { ok: false, error: oneOf(reply[1], settleErrors, operation, "error") };
    if (reply[2] !== "" && reply[2] !== undefined) failure.detail = textOf(reply[2], operation, "detail");
    return failure;
  }
  if (reply[0] !== "ok" || reply.length < 8) throw new StoreReplyError(operation, "neither ok nor an error");
  const outcome: SettleOutcome = {
    ok: true,
    reservationId,
    status: oneOf(reply[1], ["committed", "released"] as const, operation, "status"),
    charged: amountOf(reply[2], operation, "charged"),
    debtAdded: amountOf(reply[3], operation, "debtAdded"),
    uncharged: amountOf(reply[4], operation, "uncharged"),
    released: amountOf(reply[5], operation, "released"),
    balances: balancesOf(
      reply,
      settleBalancesAt(reply),
      textOf(reply[7], operation, "unit") as Unit,
      String,
      operation,
    ),
  };
  if (reply[6] !== "") outcome.replayed = true;
  const auditSeq = settleBalancesAt(reply) === 9 ? auditSeqOf(reply[8], operation) : undefined;
  if (auditSeq !== undefined) outcome.auditSeq = auditSeq;
  if (auditSeq === undefined && !outcome.replayed) {
    throw new StoreReplyError(operation, "an answer without its audit event's seq");
  }
  return outcome;
}

/**
 * Where a reserve reply's balances start: after the audit seq (11), or at 10 in a replay of an
 * answer remembered before replies carried it. Packed balances came after the seq; balances of the
 * older layout come in groups of `balanceWidth`, so its two lengths never agree modulo it.
 */
function reserveBalancesAt(reply: Reply): number {
  if (reply.length > 11 && isPackedBalance(reply[11])) return 11;
  return (reply.length - 11) % balanceWidth === 0 ? 11 : 10;
}

/** As reserveBalancesAt, for a settle reply: 9 with the audit seq, 8 without. */
function settleBalancesAt(reply: Reply): number {
  if (reply.length > 9 && isPackedBalance(reply[9])) return 9;
  return (reply.length - 9) % balanceWidth === 0 ? 9 : 8;
}

/** An audit event's seq: a positive integer (as text in a remembered answer), or "" (none). */
function auditSeqOf(value: unknown, operation: string): number | undefined {
  if (value === "") return undefined;
  const seq = amountOf(value, operation, "auditSeq");
  if (seq === 0) throw new StoreReplyError(operation, "an audit seq of 0");
  return seq;
}

const settleErrors: readonly SettleError[] = [
  "RESERVATION_NOT_FOUND",
  "RESERVATION_FINALIZED",
  "RESERVATION_EXPIRED",
  "IDEMPOTENCY_CONFLICT",
  "OVERAGE_REJECTED",
  "OVERDRAFT_LIMIT_EXCEEDED",
];

function textOrInteger(value: unknown, operation: string): void {
  if (typeof value !== "string" && !Number.isSafeInteger(value)) {
    throw new StoreReplyError(operation, `an item that is neither text nor an integer: ${String(value)}`);
  }
}

/** Positions of ev, h, st, sd, c, x, ch, e, p, g, ri that a record may leave out. */
const optionalRecordFields = new Set([3, 6, 10]);

/** The reservation script's reply: 11 fields (all nil when the reservation is unknown). */
function reservationReplyOf(raw: unknown): (string | null)[] {
  if (!Array.isArray(raw) || raw.length !== 11) throw new StoreReplyError("reservation", "expected 11 fields");
  if (raw[0] === null) return raw.map(() => null);
  for (const [index, item] of raw.entries()) {
    // Fields at their default are left out of the record: sd (not shadow-denied), ch (nothing charged), ri (no run).
    if (typeof item !== "string" && !(item === null && optionalRecordFields.has(index))) {
      throw new StoreReplyError("reservation", `field ${index + 1} is not text`);
    }
  }
  return raw as (string | null)[];
}

/** The text form of a definition the scripts read (see lua/budgets.ts), without the generation. */
function definitionText(definition: BudgetDefinition | PutBudgetCommand["definition"]): string {
  const bands = (definition.narrowing ?? [])
    .map((band) => `${band.from}:${band.disabledTiers.map(tierRank).join("")}`)
    .join(",");
  return `${definition.limit};${definition.overdraftLimit};${definition.window};${bands}`;
}

/** A stored definition is "<text>\n<json>". */
function definitionJsonOf(stored: string): string {
  return stored.slice(stored.indexOf("\n") + 1);
}

/** A reservation's holds: "<gen> <L | R | instance> <scope>" joined by ";". */
function holdsOf(stored: string, runId: string): { scope: string; instance: string }[] {
  if (stored === "") return [];
  return stored.split(";").map((hold) => {
    const [, code, scope] = hold.split(" ");
    const instance = code === "L" ? "life" : code === "R" ? `run:${runId}` : code;
    return { scope, instance };
  });
}

/** An object's JSON without its braces: fields a script splices into the events it writes. */
function jsonFields(fields: Record<string, unknown>): string {
  return JSON.stringify(fields).slice(1, -1);
}

/** Arguments without the empty ones at the end: a script reads a missing one as "" (each costs Redis ~1.5k instructions). */
function withoutTrailingEmpty(args: string[]): string[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === "") end--;
  return end === args.length ? args : args.slice(0, end);
}

function idempotencyArgs(tag: IdempotencyTag | undefined): [string, string] {
  return tag ? [tag.key, tag.fingerprint] : ["", ""];
}

function publicDefinition(stored: BudgetDefinition & { gen?: number }): BudgetDefinition {
  const { gen: _gen, ...definition } = stored;
  return definition;
}

async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const waited = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  await Promise.race([promise.catch(() => undefined), waited]).finally(() => clearTimeout(timer));
}

async function forEachLimited<T>(items: readonly T[], concurrency: number, run: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
