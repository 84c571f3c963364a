import { type Caps, DECISIONS, REASON_CODES } from "../core/decision.js";
import { isWithinScope } from "../core/scope.js";
import { TIERS, type Tier } from "../core/tiers.js";
import { UNITS } from "../core/units.js";
import { auditEventMatches } from "./audit-filter.js";
import { BalanceSnapshot } from "./balance-snapshot.js";
import { auditScopeId, type Hot } from "./keyv-records.js";
import { formatReservationId, type ReservationSlots } from "./keyv-reservations.js";
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditLookup, type BudgetDefinition } from "./types.js";

/** An event as the store appends it: balances as read (any object with these three numbers), or the answer's snapshot. */
export type AuditInput = Omit<AuditEvent, "balances"> & {
  balances?: readonly { scope: string; allocated: number; remaining: number }[] | BalanceSnapshot;
  /** The reservation's slot when the writer knows it (checked against the slot's id, never trusted). */
  reservationSlot?: number;
};

/** Code 0 is "absent" in every code column; a value is its index + 1. */
const codeOf = <T>(list: readonly T[], value: T | undefined): number =>
  value === undefined ? 0 : list.indexOf(value) + 1;

const numFields = 4; // seq, atMs, estimate, amount (NaN: absent)
const codeFields = 8; // type, unit, tier, decision, reasonCode, shadow decision, shadow reason, caps tiers
const strFields = 8; // scope, action name, action kind, runId, actor, detail, deniedScope, shadow deniedScope
const inlineBalances = 4;
const balancesAbsent = 255;
const balancesInExtra = 254;
const capsPresent = 128;
const absent = -1;
/** Strings added since the last sweep of the table, besides as many as were used then, before the next. */
const unusedStringsMargin = 4_096;

/** One tenant's events: a chain through the pool, linked into the list of tenants in order of last write. */
interface TenantChain {
  tenant: string;
  tenantValue: string;
  oldest: number;
  newest: number;
  count: number;
  newer: TenantChain | undefined;
  older: TenantChain | undefined;
}

/**
 * The embedded store's audit trail, retained as numbers and interned strings: one pool of event
 * slots in typed arrays (codes for every enumerated field, ids into a string table for the rest,
 * a reservation id as its slot, generation and random bits), turned into AuditEvent objects only
 * when read. Nothing per event is an object the collector has to trace. Retention as before: each
 * tenant keeps its newest `perTenantMax`; all together keep `totalMax`, the oldest events of the
 * tenant written to longest ago going first (a linked list, so a write is O(1) however many tenants).
 * What does not fit the columns (a foreign reservation id, caps beyond disabled tiers, more than four
 * balances) goes on a per-event overflow record, merged on read. The string table is swept from
 * time to time (sweepStrings), so it holds little beyond what the retained events name.
 */
export class AuditColumns {
  private capacity = 0;
  private num = new Float64Array(0);
  private code = new Uint8Array(0);
  private str = new Int32Array(0);
  private rid = new Float64Array(0);
  private balanceNumbers = new Float64Array(0);
  private balanceScopes = new Int32Array(0);
  private balanceCount = new Uint8Array(0);
  private next = new Int32Array(0);
  /** Per event, its seq in its tenant's evidence chain: only when the store chains (see chainWith). */
  private chainSeqs: Float64Array | undefined;
  /** Called before an event of a chaining store is dropped: the chain seals up to it first. */
  private onDrop: ((tenant: string, chainSeq: number) => void) | undefined;
  private extra: (Partial<AuditEvent> | undefined)[] = [];
  private free = new Int32Array(0);
  private freeCount = 0;
  /**
   * Interned strings, counted by the events that use them. One no event uses any more is let go
   * lazily, once such strings outnumber the used ones (plus a margin): a tenant that comes back
   * soon finds its strings still there instead of a delete and an insert.
   */
  private readonly strings: (string | undefined)[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly freeStringIds: number[] = [];
  /** Strings the retained events used at the last sweep, and strings added since (see sweepStrings). */
  private stringsUsedAtSweep = 0;
  private stringsAddedSinceSweep = 0;
  /** Per string column, the id it interned last (see internIn); -1: none. */
  private readonly lastInternedIds = new Int32Array(strFields).fill(absent);
  private readonly chains = new Map<string, TenantChain>();
  private newest: TenantChain | undefined;
  private oldest: TenantChain | undefined;
  private total = 0;

  /** `reservations`: whose ids are this store's, kept as the numbers they are made of. */
  constructor(
    readonly perTenantMax: number,
    readonly totalMax: number,
    private readonly reservations: ReservationSlots,
  ) {
    if (!Number.isSafeInteger(totalMax) || totalMax < 1) throw new RangeError("totalMax must be a positive integer");
    if (!Number.isSafeInteger(perTenantMax) || perTenantMax < 1) {
      throw new RangeError("perTenantMax must be a positive integer");
    }
    this.grow(Math.min(1_024, totalMax + 1));
  }

  get size(): number {
    return this.total;
  }

  /** Keeps a chain seq per event from now on, and says which are dropped before they go. */
  chainWith(onDrop: (tenant: string, chainSeq: number) => void): void {
    this.chainSeqs = new Float64Array(this.capacity);
    this.onDrop = onDrop;
  }

  /** `chainSeq`: the event's seq in its tenant's chain (0 when the store does not chain). */
  append(tenant: string, event: AuditInput, chainSeq = 0): void {
    let chain = this.newest?.tenant === tenant ? this.newest : this.chains.get(tenant);
    if (!chain) {
      chain = {
        tenant,
        tenantValue: tenant.slice("tenant:".length),
        oldest: absent,
        newest: absent,
        count: 0,
        newer: undefined,
        older: undefined,
      };
      this.chains.set(tenant, chain);
      this.linkNewest(chain);
    } else if (chain !== this.newest) {
      this.unlink(chain);
      this.linkNewest(chain);
    }
    if (chain.count >= this.perTenantMax) this.dropOldest(chain);
    if (this.freeCount === 0) this.grow(Math.min(this.capacity * 2, this.totalMax + 1));
    const at = this.free[--this.freeCount];
    this.write(at, event);
    if (this.chainSeqs) this.chainSeqs[at] = chainSeq;
    this.next[at] = absent;
    if (chain.newest === absent) chain.oldest = at;
    else this.next[chain.newest] = at;
    chain.newest = at;
    chain.count++;
    this.total++;
    while (this.total > this.totalMax && this.oldest) this.dropOldest(this.oldest);
    if (this.stringsAddedSinceSweep > this.stringsUsedAtSweep + unusedStringsMargin) this.sweepStrings();
  }

  /**
   * One tenant's events, or every tenant's merged, oldest first (by seq): every retained event built,
   * the plain reading `query` is checked against.
   */
  events(tenant?: string): AuditEvent[] {
    const out: AuditEvent[] = [];
    if (tenant !== undefined) {
      const chain = this.chains.get(tenant);
      if (chain) this.readChain(chain, out);
      return out;
    }
    for (const chain of this.chains.values()) this.readChain(chain, out);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /**
   * The newest `limit` events of one tenant (or of every tenant, by seq) that match `query`, oldest
   * first, as filterAuditEvents answers over events(). The query is tested on the columns, and only
   * the events kept are built: polling 100,000 retained events for the few after a seq took 140 ms
   * when every one of them was built and filtered.
   */
  query(tenant: string | undefined, query: AuditLookup, limit: number): AuditEvent[] {
    if (limit <= 0) return [];
    const tested = new ColumnQuery(query);
    if (tenant !== undefined) {
      const chain = this.chains.get(tenant);
      if (!chain) return [];
      return this.matchingSlots(chain, tested, limit).map((at) => this.read(at, chain.tenantValue));
    }
    // Every tenant's newest matches, as slots: trimmed to the newest `limit` by seq as they pile up,
    // so what is kept stays within a few times `limit` however many tenants; only those are built.
    let kept: { at: number; chain: TenantChain }[] = [];
    for (const chain of this.chains.values()) {
      for (const at of this.matchingSlots(chain, tested, limit)) kept.push({ at, chain });
      if (kept.length > 2 * limit) kept = this.newestBySeq(kept, limit);
    }
    return this.newestBySeq(kept, limit).map(({ at, chain }) => this.read(at, chain.tenantValue));
  }

  /** One chain's newest `limit` matching slots, oldest first (a ring while reading). */
  private matchingSlots(chain: TenantChain, query: ColumnQuery, limit: number): number[] {
    const ring: number[] = [];
    let oldest = 0;
    for (let at = chain.oldest; at !== absent; at = this.next[at]) {
      if (!this.matches(at, chain, query)) continue;
      if (ring.length < limit) ring.push(at);
      else {
        ring[oldest] = at;
        oldest = (oldest + 1) % limit;
      }
    }
    return oldest === 0 ? ring : ring.slice(oldest).concat(ring.slice(0, oldest));
  }

  /** The newest `limit` of slots from several tenants, oldest first by seq. */
  private newestBySeq<T extends { at: number }>(slots: T[], limit: number): T[] {
    slots.sort((a, b) => this.num[a.at * numFields] - this.num[b.at * numFields]);
    return slots.length > limit ? slots.slice(slots.length - limit) : slots;
  }

  /** auditEventMatches on the columns; an event with an overflow record is built and tested whole. */
  private matches(at: number, chain: TenantChain, query: ColumnQuery): boolean {
    const n = at * numFields;
    const seq = this.num[n];
    const atMs = this.num[n + 1];
    if (seq <= query.afterSeq || atMs < query.sinceMs || atMs > query.untilMs) return false;
    if (this.extra[at] !== undefined) return auditEventMatches(this.read(at, chain.tenantValue), query.lookup);
    const c = at * codeFields;
    const s = at * strFields;
    if (query.typeCode !== undefined && this.code[c] !== query.typeCode) return false;
    if (query.decisionCode !== undefined) {
      if (this.code[c + 3] !== query.decisionCode && this.code[c + 5] !== query.decisionCode) return false;
    }
    if (query.action !== undefined && (this.code[c + 2] === 0 || this.text(s + 1) !== query.action)) return false;
    if (query.scope !== undefined && !isWithinScope(this.text(s) as string, query.scope)) return false;
    return true;
  }

  /**
   * A chaining store's events of one tenant with chain seq > `afterSeq` (at most `limit`), oldest
   * first, each as the audit reader returns it: what the chain hashes and exports.
   */
  chainEvents(tenant: string, afterSeq: number, limit: number): { seq: number; event: AuditEvent }[] {
    const out: { seq: number; event: AuditEvent }[] = [];
    const chain = this.chains.get(tenant);
    const seqs = this.chainSeqs;
    if (!chain || !seqs) return out;
    for (let at = chain.oldest; at !== absent && out.length < limit; at = this.next[at]) {
      if (seqs[at] > afterSeq) out.push({ seq: seqs[at], event: this.read(at, chain.tenantValue) });
    }
    return out;
  }

  private readChain(chain: TenantChain, out: AuditEvent[]): void {
    for (let at = chain.oldest; at !== absent; at = this.next[at]) out.push(this.read(at, chain.tenantValue));
  }

  private write(at: number, event: AuditInput): void {
    const n = at * numFields;
    const num = this.num;
    num[n] = event.seq;
    num[n + 1] = event.atMs;
    num[n + 2] = event.estimate ?? Number.NaN;
    num[n + 3] = event.amount ?? Number.NaN;
    const action = event.action;
    const shadow = event.shadow;
    const caps = event.caps;
    const decision = event.decision;
    const reasonCode = event.reasonCode;
    const c = at * codeFields;
    const code = this.code;
    const typeCode = codeOf(AUDIT_EVENT_TYPES, event.type);
    const unitCode = codeOf(UNITS, event.unit);
    const tierCode = action === undefined ? 0 : codeOf(TIERS, action.tier);
    const decisionCode = codeOf(DECISIONS, decision);
    const reasonCodeCode = codeOf(REASON_CODES, reasonCode);
    const capsCode = caps === undefined ? 0 : this.capsCode(caps);
    code[c] = typeCode;
    code[c + 1] = unitCode;
    code[c + 2] = tierCode;
    code[c + 3] = decisionCode;
    code[c + 4] = reasonCodeCode;
    code[c + 7] = capsCode;
    // Whether every field is in the columns (else what is not goes to the overflow record).
    let fits =
      typeCode !== 0 &&
      unitCode !== 0 &&
      (action === undefined || tierCode !== 0) &&
      (decision === undefined || decisionCode !== 0) &&
      (reasonCode === undefined || reasonCodeCode !== 0) &&
      (caps === undefined || capsCode !== 0);
    const s = at * strFields;
    const str = this.str;
    if (shadow === undefined) {
      code[c + 5] = 0;
      code[c + 6] = 0;
      str[s + 7] = absent;
    } else {
      const shadowDecision = codeOf(DECISIONS, shadow.decision);
      const shadowReason = codeOf(REASON_CODES, shadow.reasonCode);
      code[c + 5] = shadowDecision;
      code[c + 6] = shadowReason;
      if (shadowDecision === 0 || (shadow.reasonCode !== undefined && shadowReason === 0)) fits = false;
      str[s + 7] = this.internIn(7, shadow.deniedScope);
    }
    str[s] = this.internIn(0, event.scope);
    if (action === undefined) {
      str[s + 1] = absent;
      str[s + 2] = absent;
    } else {
      str[s + 1] = this.internIn(1, action.name);
      str[s + 2] = this.internIn(2, action.kind);
    }
    str[s + 3] = this.internIn(3, event.runId);
    str[s + 4] = this.internIn(4, event.actor);
    str[s + 5] = this.internIn(5, event.detail);
    str[s + 6] = this.internIn(6, event.deniedScope);
    const r = at * 4;
    const id = event.reservationId;
    const reservations = this.reservations;
    if (id === undefined) {
      this.rid[r] = absent;
    } else {
      const hint = event.reservationSlot;
      const slot = hint !== undefined && reservations.ids[hint] === id ? hint : reservations.slotOf(id);
      // This store's own ids are kept as the numbers they are made of; a foreign id goes to the overflow.
      if (slot >= 0 && !reservations.isForeign(slot)) {
        this.rid[r] = slot;
        this.rid[r + 1] = reservations.gen[slot];
        this.rid[r + 2] = reservations.tagHi[slot];
        this.rid[r + 3] = reservations.tagLo[slot];
      } else {
        this.rid[r] = absent;
        fits = false;
      }
    }
    const balances = event.balances;
    if (balances === undefined) {
      this.balanceCount[at] = balancesAbsent;
    } else if (balances.length > inlineBalances) {
      this.balanceCount[at] = balancesInExtra;
      fits = false;
    } else {
      const scopes = this.balanceScopes;
      const numbers = this.balanceNumbers;
      const count = balances.length;
      if (balances instanceof BalanceSnapshot) {
        for (let index = 0; index < count; index++) {
          const b = at * inlineBalances + index;
          scopes[b] = this.internScopeOf(balances.definitionAt(index));
          numbers[2 * b] = balances.allocatedAt(index);
          numbers[2 * b + 1] = balances.remainingAt(index);
        }
      } else {
        for (let index = 0; index < count; index++) {
          const b = at * inlineBalances + index;
          scopes[b] = this.intern(balances[index].scope);
          numbers[2 * b] = balances[index].allocated;
          numbers[2 * b + 1] = balances[index].remaining;
        }
      }
      this.balanceCount[at] = count;
    }
    this.extra[at] = fits ? undefined : this.overflow(at, event, this.rid[r] !== absent);
  }

  /** What the columns could not hold, copied whole; read() lays it over the decoded fields. */
  private overflow(at: number, event: AuditInput, ownId: boolean): Partial<AuditEvent> {
    const c = at * codeFields;
    const extra: Partial<AuditEvent> = {};
    if (this.code[c] === 0) extra.type = event.type;
    if (this.code[c + 1] === 0) extra.unit = event.unit;
    if (event.action && this.code[c + 2] === 0) extra.action = { ...event.action };
    if (event.decision !== undefined && this.code[c + 3] === 0) extra.decision = event.decision;
    if (event.reasonCode !== undefined && this.code[c + 4] === 0) extra.reasonCode = event.reasonCode;
    if (event.shadow) extra.shadow = { ...event.shadow };
    if (event.caps && this.code[c + 7] === 0) extra.caps = structuredClone(event.caps);
    if (event.reservationId !== undefined && !ownId) extra.reservationId = event.reservationId;
    if (event.balances && this.balanceCount[at] === balancesInExtra) {
      const balances = event.balances instanceof BalanceSnapshot ? event.balances.toBalances() : event.balances;
      extra.balances = balances.map(({ scope, allocated, remaining }) => ({ scope, allocated, remaining }));
    }
    return extra;
  }

  private read(at: number, tenantValue: string): AuditEvent {
    const n = at * numFields;
    const c = at * codeFields;
    const s = at * strFields;
    const event = {
      seq: this.num[n],
      atMs: this.num[n + 1],
      type: AUDIT_EVENT_TYPES[this.code[c] - 1],
      scope: this.text(s),
      unit: UNITS[this.code[c + 1] - 1],
    } as AuditEvent;
    const r = at * 4;
    if (this.rid[r] !== absent) {
      event.reservationId = formatReservationId(
        tenantValue,
        this.rid[r],
        this.rid[r + 1],
        this.rid[r + 2],
        this.rid[r + 3],
      );
    }
    if (this.code[c + 2] !== 0) {
      event.action = { name: this.text(s + 1) as string, tier: TIERS[this.code[c + 2] - 1] as Tier };
      const kind = this.text(s + 2);
      if (kind !== undefined) event.action.kind = kind;
    }
    const runId = this.text(s + 3);
    if (runId !== undefined) event.runId = runId;
    const actor = this.text(s + 4);
    if (actor !== undefined) event.actor = actor;
    if (!Number.isNaN(this.num[n + 2])) event.estimate = this.num[n + 2];
    if (!Number.isNaN(this.num[n + 3])) event.amount = this.num[n + 3];
    if (this.code[c + 3] !== 0) event.decision = DECISIONS[this.code[c + 3] - 1];
    if (this.code[c + 4] !== 0) event.reasonCode = REASON_CODES[this.code[c + 4] - 1];
    const deniedScope = this.text(s + 6);
    if (deniedScope !== undefined) event.deniedScope = deniedScope;
    const caps = this.code[c + 7];
    if (caps !== 0) event.caps = { disabledTiers: TIERS.filter((_tier, index) => (caps & (1 << index)) !== 0) };
    if (this.code[c + 5] !== 0) {
      event.shadow = { decision: DECISIONS[this.code[c + 5] - 1] };
      if (this.code[c + 6] !== 0) event.shadow.reasonCode = REASON_CODES[this.code[c + 6] - 1];
      const shadowDenied = this.text(s + 7);
      if (shadowDenied !== undefined) event.shadow.deniedScope = shadowDenied;
    }
    const count = this.balanceCount[at];
    if (count <= inlineBalances) {
      event.balances = [];
      for (let index = 0; index < count; index++) {
        const b = at * inlineBalances + index;
        event.balances.push({
          scope: this.strings[this.balanceScopes[b]] as string,
          allocated: this.balanceNumbers[2 * b],
          remaining: this.balanceNumbers[2 * b + 1],
        });
      }
    }
    const detail = this.text(s + 5);
    if (detail !== undefined) event.detail = detail;
    const extra = this.extra[at];
    if (extra) Object.assign(event, structuredClone(extra));
    return event;
  }

  private text(at: number): string | undefined {
    const id = this.str[at];
    return id >= 0 ? this.strings[id] : undefined;
  }

  /** Caps that say only which tiers are disabled are a bit mask; anything more is kept whole. */
  private capsCode(caps: Caps | undefined): number {
    if (!caps) return 0;
    for (const key in caps) if (key !== "disabledTiers" && caps[key as keyof Caps] !== undefined) return 0;
    let mask = capsPresent;
    for (const tier of caps.disabledTiers) {
      const index = TIERS.indexOf(tier);
      if (index < 0) return 0;
      mask |= 1 << index;
    }
    return mask;
  }

  /** intern(definition.scope), by the id the definition remembers when the table still holds it there. */
  private internScopeOf(definition: Hot<BudgetDefinition>): number {
    const remembered = definition[auditScopeId];
    if (remembered !== undefined && this.strings[remembered] === definition.scope) return remembered;
    const id = this.intern(definition.scope);
    definition[auditScopeId] = id;
    return id;
  }

  /**
   * intern(value) for string column `field`, by the id the column interned last when it is the same
   * string and the table still holds it there (consecutive events mostly repeat their scope, action
   * name and the rest): a comparison instead of a hash-table probe.
   */
  private internIn(field: number, value: string | undefined): number {
    if (value === undefined) return absent;
    const last = this.lastInternedIds[field];
    if (last >= 0 && this.strings[last] === value) return last;
    const id = this.intern(value);
    this.lastInternedIds[field] = id;
    return id;
  }

  /** The string's id in the table, added when new. */
  private intern(value: string | undefined): number {
    if (value === undefined) return absent;
    let id = this.stringIds.get(value);
    if (id === undefined) {
      id = this.freeStringIds.pop() ?? this.strings.length;
      if (id === this.strings.length) this.strings.push(value);
      else this.strings[id] = value;
      this.stringIds.set(value, id);
      this.stringsAddedSinceSweep++;
    }
    return id;
  }

  /**
   * Lets go of the strings no retained event uses, once more were added since the last sweep than
   * were used then (plus a margin): the table then holds at most twice the strings the retained
   * events use, plus the margin, and the write path counts no uses (a sweep reads every retained
   * event once, amortized over at least as many added strings). Called between events, never while
   * one is being written (its ids are not linked yet).
   */
  private sweepStrings(): void {
    const used = new Uint8Array(this.strings.length);
    for (let chain = this.newest; chain; chain = chain.older) {
      for (let at = chain.oldest; at !== absent; at = this.next[at]) {
        const s = at * strFields;
        for (let field = 0; field < strFields; field++) {
          const id = this.str[s + field];
          if (id >= 0) used[id] = 1;
        }
        const count = this.balanceCount[at];
        if (count > inlineBalances) continue;
        for (let index = 0; index < count; index++) used[this.balanceScopes[at * inlineBalances + index]] = 1;
      }
    }
    let kept = 0;
    for (let id = 0; id < this.strings.length; id++) {
      const value = this.strings[id];
      if (value === undefined) continue;
      if (used[id] === 1) {
        kept++;
        continue;
      }
      this.stringIds.delete(value);
      this.strings[id] = undefined;
      this.freeStringIds.push(id);
    }
    this.stringsUsedAtSweep = kept;
    this.stringsAddedSinceSweep = 0;
  }

  private dropOldest(chain: TenantChain): void {
    const at = chain.oldest;
    if (this.chainSeqs) this.onDrop?.(chain.tenant, this.chainSeqs[at]);
    chain.oldest = this.next[at];
    if (chain.oldest === absent) chain.newest = absent;
    chain.count--;
    this.total--;
    this.extra[at] = undefined;
    // Its strings stay in the table until a sweep finds no retained event using them.
    this.free[this.freeCount++] = at;
    if (chain.count === 0) {
      this.unlink(chain);
      this.chains.delete(chain.tenant);
    }
  }

  private grow(capacity: number): void {
    const from = this.capacity;
    const widen = <A extends Float64Array | Uint8Array | Int32Array>(array: A, next: A): A => {
      next.set(array);
      return next;
    };
    this.num = widen(this.num, new Float64Array(capacity * numFields));
    this.code = widen(this.code, new Uint8Array(capacity * codeFields));
    this.str = widen(this.str, new Int32Array(capacity * strFields));
    this.rid = widen(this.rid, new Float64Array(capacity * 4));
    this.balanceNumbers = widen(this.balanceNumbers, new Float64Array(capacity * inlineBalances * 2));
    this.balanceScopes = widen(this.balanceScopes, new Int32Array(capacity * inlineBalances));
    this.balanceCount = widen(this.balanceCount, new Uint8Array(capacity));
    this.next = widen(this.next, new Int32Array(capacity));
    if (this.chainSeqs) this.chainSeqs = widen(this.chainSeqs, new Float64Array(capacity));
    const free = new Int32Array(capacity);
    free.set(this.free.subarray(0, this.freeCount));
    this.free = free;
    for (let at = capacity - 1; at >= from; at--) {
      this.extra.push(undefined);
      this.free[this.freeCount++] = at;
    }
    this.capacity = capacity;
  }

  private linkNewest(chain: TenantChain): void {
    chain.older = this.newest;
    chain.newer = undefined;
    if (this.newest) this.newest.newer = chain;
    this.newest = chain;
    if (!this.oldest) this.oldest = chain;
  }

  private unlink(chain: TenantChain): void {
    if (chain.newer) chain.newer.older = chain.older;
    else this.newest = chain.older;
    if (chain.older) chain.older.newer = chain.newer;
    else this.oldest = chain.newer;
    chain.newer = undefined;
    chain.older = undefined;
  }
}

/**
 * A query as the columns test it: codes for its enumerated fields (a value no column can hold gets
 * -1, which no stored code equals, as no event of the columns can have it), bounds for the rest.
 */
class ColumnQuery {
  readonly afterSeq: number;
  readonly sinceMs: number;
  readonly untilMs: number;
  readonly typeCode: number | undefined;
  readonly decisionCode: number | undefined;
  readonly action: string | undefined;
  readonly scope: string | undefined;

  constructor(readonly lookup: AuditLookup) {
    this.afterSeq = lookup.afterSeq ?? Number.NEGATIVE_INFINITY;
    this.sinceMs = lookup.sinceMs ?? Number.NEGATIVE_INFINITY;
    this.untilMs = lookup.untilMs ?? Number.POSITIVE_INFINITY;
    // As auditEventMatches: an empty string asks for nothing.
    this.typeCode = lookup.type ? codeOrNone(AUDIT_EVENT_TYPES, lookup.type) : undefined;
    this.decisionCode = lookup.decision ? codeOrNone(DECISIONS, lookup.decision) : undefined;
    this.action = lookup.action || undefined;
    this.scope = lookup.scope || undefined;
  }
}

function codeOrNone<T>(list: readonly T[], value: T): number {
  const index = list.indexOf(value);
  return index < 0 ? -1 : index + 1;
}
