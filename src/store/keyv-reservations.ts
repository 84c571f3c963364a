import { getRandomValues } from "node:crypto";
import type { OveragePolicy } from "../core/schemas.js";
import type { Unit } from "../core/units.js";
import type { HeldBudget } from "./keyv-records.js";
import type { ActionRecord, ReservationRecord, ReservationStatus } from "./types.js";

/** A slot's state. Free slots are on the free list; settled ones wait in the settled queue. */
export const slotFree = 0;
export const slotHeld = 1;
const statusCodes: Record<ReservationStatus, number> = { held: 1, committed: 2, released: 3, expired: 4 };
const statusNames: (ReservationStatus | undefined)[] = [undefined, "held", "committed", "released", "expired"];
const overagePolicies: OveragePolicy[] = ["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"];

/**
 * The id suffix: `ssssssss-gggg-gggg-tttt-tttttttttttt` (36 characters, a uuid's shape): the slot,
 * its generation and 64 random bits. The slot finds the record in O(1); the whole id must equal the
 * slot's current id, so a stale id (the slot was reused: another generation) or a forged one (the
 * random bits) is never taken for another reservation.
 */
export const reservationIdSuffixLength = 36;
const hexCodes = Buffer.from("0123456789abcdef", "latin1");
/** Tenant values longer than this (or not ASCII) are joined to the suffix as strings instead. */
const idPrefixLengthMax = 256;
/**
 * The whole id is written into these bytes and read out as one flat string: no concatenation (a
 * joined string is flattened again, a second copy, the first time it is read by character).
 */
const idBytes = Buffer.alloc(idPrefixLengthMax + 1 + reservationIdSuffixLength);
/** The tenant value whose bytes (and the colon after them) are in idBytes now. */
let prefixValue: string | undefined;
let prefixLength = 0;

function writeHex(value: number, at: number, digits: number): void {
  for (let index = digits - 1; index >= 0; index--) {
    idBytes[at + index] = hexCodes[value & 15];
    value >>>= 4;
  }
}

function isShortAscii(value: string): boolean {
  if (value.length > idPrefixLengthMax) return false;
  for (let index = 0; index < value.length; index++) if (value.charCodeAt(index) > 127) return false;
  return true;
}

/** The id of a slot's generation: `<tenant value>:<suffix>`. */
export function formatReservationId(tenantValue: string, slot: number, gen: number, tagHi: number, tagLo: number) {
  const plain = tenantValue === prefixValue || isShortAscii(tenantValue);
  if (plain && tenantValue !== prefixValue) {
    prefixLength = idBytes.write(tenantValue, 0, "latin1");
    idBytes[prefixLength] = 58;
    prefixValue = tenantValue;
  }
  const at = plain ? prefixLength + 1 : 0;
  writeHex(slot, at, 8);
  idBytes[at + 8] = 45;
  writeHex(gen >>> 16, at + 9, 4);
  writeHex(gen & 0xffff, at + 14, 4);
  idBytes[at + 13] = 45;
  writeHex(tagHi >>> 16, at + 19, 4);
  idBytes[at + 18] = 45;
  writeHex(tagHi & 0xffff, at + 24, 4);
  idBytes[at + 23] = 45;
  writeHex(tagLo, at + 28, 8);
  if (plain) return idBytes.toString("latin1", 0, at + reservationIdSuffixLength);
  // The prefix bytes were overwritten by this suffix: written again next time.
  prefixValue = undefined;
  return `${tenantValue}:${idBytes.toString("latin1", 0, reservationIdSuffixLength)}`;
}

/** Parses `count` hex digits of `text` at `from` without allocating; -1 on anything else. */
function hexAt(text: string, from: number, count: number): number {
  let value = 0;
  for (let index = from; index < from + count; index++) {
    const code = text.charCodeAt(index);
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** The slot, generation and random bits an id in this store's format names, or undefined. */
export function parseReservationId(
  id: string,
): { slot: number; gen: number; tagHi: number; tagLo: number } | undefined {
  const colon = id.length - reservationIdSuffixLength - 1;
  if (colon < 1 || id.charCodeAt(colon) !== 58) return undefined;
  const at = colon + 1;
  if (id.charCodeAt(at + 8) !== 45 || id.charCodeAt(at + 13) !== 45) return undefined;
  if (id.charCodeAt(at + 18) !== 45 || id.charCodeAt(at + 23) !== 45) return undefined;
  const slot = hexAt(id, at, 8);
  const genHi = hexAt(id, at + 9, 4);
  const genLo = hexAt(id, at + 14, 4);
  const tagHiHi = hexAt(id, at + 19, 4);
  const tagHiLo = hexAt(id, at + 24, 4);
  const tagLo = hexAt(id, at + 28, 8);
  if (Math.min(slot, genHi, genLo, tagHiHi, tagHiLo, tagLo) < 0) return undefined;
  return { slot, gen: genHi * 65_536 + genLo, tagHi: tagHiHi * 65_536 + tagHiLo, tagLo };
}

/** What reserve() writes into a slot. */
export interface SlotFields {
  tenantValue: string;
  subjectScope: string;
  unit: Unit;
  action: ActionRecord;
  estimate: number;
  runId: string | undefined;
  overagePolicy: OveragePolicy;
  shadowDenied: boolean;
  createdAtMs: number;
  expiresAtMs: number;
  graceMs: number;
  holds: HeldBudget[];
}

const noHolds: HeldBudget[] = [];

/**
 * Reservations in preallocated slots: numbers in typed arrays, references in parallel arrays, no
 * object per reservation and no map keyed by id. A settled reservation stays in its slot (for a
 * precise error on a late second settle) until `settledMax` later ones settled or it aged out; then
 * its slot is free and its next use is another generation.
 */
export class ReservationSlots {
  private capacity = 0;
  gen = new Uint32Array(0);
  tagHi = new Uint32Array(0);
  tagLo = new Uint32Array(0);
  status = new Uint8Array(0);
  private shadow = new Uint8Array(0);
  private overage = new Uint8Array(0);
  /** 1 when the slot's id is a foreign one (in foreignIds). */
  private foreign = new Uint8Array(0);
  estimate = new Float64Array(0);
  charged = new Float64Array(0);
  createdAtMs = new Float64Array(0);
  expiresAtMs = new Float64Array(0);
  graceMs = new Float64Array(0);
  private settledAt = new Float64Array(0);
  ids: (string | undefined)[] = [];
  tenantValue: (string | undefined)[] = [];
  subjectScope: (string | undefined)[] = [];
  unit: (Unit | undefined)[] = [];
  action: (ActionRecord | undefined)[] = [];
  runId: (string | undefined)[] = [];
  /** The budgets held. A definition replaced since is looked up again by scope when settling. */
  holds: HeldBudget[][] = [];
  /** Ids not in this store's format (given by a caller, or restored from an older store). */
  private readonly foreignIds = new Map<string, number>();
  private free = new Int32Array(0);
  private freeCount = 0;
  /** Settled slots, oldest first: a ring. */
  private settled = new Int32Array(0);
  private settledHead = 0;
  private settledCount = 0;
  private readonly random = new Uint32Array(1_024);
  private randomAt = this.random.length;
  heldCount = 0;

  constructor(
    private readonly settledMax: number,
    private readonly settledRetentionMs: number,
  ) {
    this.grow(1_024);
  }

  /** The slot of an id, or -1 (unknown, stale, forged, or forgotten). */
  slotOf(id: string): number {
    const colon = id.length - reservationIdSuffixLength - 1;
    if (colon >= 1 && id.charCodeAt(colon) === 58) {
      const slot = hexAt(id, colon + 1, 8);
      if (slot >= 0 && slot < this.capacity && this.ids[slot] === id) return slot;
    }
    return this.foreignIds.get(id) ?? -1;
  }

  /** Takes a free slot for a new reservation; `givenId` keeps a caller's id instead of naming one. */
  open(fields: SlotFields, givenId?: string): number {
    if (this.freeCount === 0) this.grow(this.capacity * 2);
    const slot = this.free[--this.freeCount];
    const tagHi = this.nextRandom();
    const tagLo = this.nextRandom();
    this.tagHi[slot] = tagHi;
    this.tagLo[slot] = tagLo;
    const id = givenId || formatReservationId(fields.tenantValue, slot, this.gen[slot], tagHi, tagLo);
    this.fill(slot, id, fields);
    if (givenId) this.markForeign(givenId, slot);
    return slot;
  }

  /** Puts a reservation read back from keyv into the slot its id names (or any, for a foreign id). */
  restore(record: ReservationRecord, holds: HeldBudget[], restoring: number): number {
    const parsed = parseReservationId(record.id);
    const tenantValue = record.id.slice(0, record.id.lastIndexOf(":", record.id.length - reservationIdSuffixLength));
    let slot = -1;
    // A slot number far beyond what this many records could have used is not one of ours (an older
    // store's uuid has the same shape): it takes any free slot instead of growing the table to it.
    if (parsed && parsed.slot < 4 * (restoring + this.settledMax) + 1_024) {
      while (parsed.slot >= this.capacity) this.grow(this.capacity * 2);
      if (this.status[parsed.slot] === slotFree && this.takeFree(parsed.slot)) {
        slot = parsed.slot;
        this.gen[slot] = parsed.gen;
        this.tagHi[slot] = parsed.tagHi;
        this.tagLo[slot] = parsed.tagLo;
      }
    }
    const foreign = slot < 0;
    if (foreign) {
      if (this.freeCount === 0) this.grow(this.capacity * 2);
      slot = this.free[--this.freeCount];
    }
    this.fill(slot, record.id, {
      tenantValue,
      subjectScope: record.subjectScope,
      unit: record.unit,
      action: record.action,
      estimate: record.estimate,
      runId: record.runId,
      overagePolicy: record.overagePolicy,
      shadowDenied: record.shadowDenied,
      createdAtMs: record.createdAtMs,
      expiresAtMs: record.expiresAtMs,
      graceMs: record.graceMs,
      holds,
    });
    if (foreign) this.markForeign(record.id, slot);
    return slot;
  }

  statusName(slot: number): ReservationStatus | undefined {
    return statusNames[this.status[slot]];
  }

  isShadowDenied(slot: number): boolean {
    return this.shadow[slot] === 1;
  }

  overagePolicy(slot: number): OveragePolicy {
    return overagePolicies[this.overage[slot]];
  }

  isForeign(slot: number): boolean {
    return this.foreign[slot] === 1;
  }

  private markForeign(id: string, slot: number): void {
    this.foreignIds.set(id, slot);
    this.foreign[slot] = 1;
  }

  /** Marks a held slot settled; it is remembered, then forgotten oldest first. */
  settle(slot: number, status: "committed" | "released" | "expired", now: number): void {
    this.status[slot] = statusCodes[status];
    this.heldCount--;
    this.settledAt[slot] = now;
    if (this.settledCount === this.settled.length) this.growSettled();
    this.settled[(this.settledHead + this.settledCount) % this.settled.length] = slot;
    this.settledCount++;
    while (this.settledCount > this.settledMax) this.forgetOldest();
  }

  /** Forgets settled reservations older than the retention. */
  evict(now: number): void {
    while (this.settledCount > 0) {
      const oldest = this.settled[this.settledHead];
      if (this.settledAt[oldest] + this.settledRetentionMs > now) break;
      this.forgetOldest();
    }
  }

  /** Every held slot (for removing a budget from open holds, and the persisted index). */
  *heldSlots(): IterableIterator<number> {
    for (let slot = 0; slot < this.capacity; slot++) if (this.status[slot] === slotHeld) yield slot;
  }

  record(slot: number): ReservationRecord {
    const record: ReservationRecord = {
      id: this.ids[slot] as string,
      subjectScope: this.subjectScope[slot] as string,
      unit: this.unit[slot] as Unit,
      action: { ...(this.action[slot] as ActionRecord) },
      estimate: this.estimate[slot],
      runId: this.runId[slot],
      holds: this.holds[slot].map(({ definition, instance }) => ({ scope: definition.scope, instance })),
      overagePolicy: this.overagePolicy(slot),
      status: this.statusName(slot) as ReservationStatus,
      shadowDenied: this.shadow[slot] === 1,
      createdAtMs: this.createdAtMs[slot],
      expiresAtMs: this.expiresAtMs[slot],
      graceMs: this.graceMs[slot],
      charged: this.charged[slot],
    };
    if (record.runId === undefined) delete record.runId;
    if (record.action.kind === undefined) delete record.action.kind;
    return record;
  }

  private fill(slot: number, id: string, fields: SlotFields): void {
    this.ids[slot] = id;
    this.tenantValue[slot] = fields.tenantValue;
    this.subjectScope[slot] = fields.subjectScope;
    this.unit[slot] = fields.unit;
    this.action[slot] = fields.action;
    this.runId[slot] = fields.runId;
    this.holds[slot] = fields.holds;
    this.status[slot] = slotHeld;
    this.shadow[slot] = fields.shadowDenied ? 1 : 0;
    this.overage[slot] = overagePolicies.indexOf(fields.overagePolicy);
    this.estimate[slot] = fields.estimate;
    this.charged[slot] = 0;
    this.createdAtMs[slot] = fields.createdAtMs;
    this.expiresAtMs[slot] = fields.expiresAtMs;
    this.graceMs[slot] = fields.graceMs;
    this.foreign[slot] = 0;
    this.heldCount++;
  }

  private forgetOldest(): void {
    const slot = this.settled[this.settledHead];
    this.settledHead = (this.settledHead + 1) % this.settled.length;
    this.settledCount--;
    const id = this.ids[slot] as string;
    if (this.foreign[slot] === 1) this.foreignIds.delete(id);
    this.foreign[slot] = 0;
    this.ids[slot] = undefined;
    this.tenantValue[slot] = undefined;
    this.subjectScope[slot] = undefined;
    this.unit[slot] = undefined;
    this.action[slot] = undefined;
    this.runId[slot] = undefined;
    this.holds[slot] = noHolds;
    this.status[slot] = slotFree;
    // The next reservation in this slot is another generation: its id differs from every earlier one.
    this.gen[slot] = (this.gen[slot] + 1) >>> 0;
    this.free[this.freeCount++] = slot;
  }

  /** Removes a specific free slot from the free list (restore puts a record back where its id says). */
  private takeFree(slot: number): boolean {
    for (let index = this.freeCount - 1; index >= 0; index--) {
      if (this.free[index] !== slot) continue;
      this.free[index] = this.free[--this.freeCount];
      return true;
    }
    return false;
  }

  private nextRandom(): number {
    if (this.randomAt === this.random.length) {
      getRandomValues(this.random);
      this.randomAt = 0;
    }
    return this.random[this.randomAt++];
  }

  private grow(capacity: number): void {
    const from = this.capacity;
    const widen = <A extends Uint32Array | Uint8Array | Float64Array | Int32Array>(
      array: A,
      make: (n: number) => A,
    ) => {
      const next = make(capacity);
      next.set(array);
      return next;
    };
    this.gen = widen(this.gen, (n) => new Uint32Array(n));
    this.tagHi = widen(this.tagHi, (n) => new Uint32Array(n));
    this.tagLo = widen(this.tagLo, (n) => new Uint32Array(n));
    this.status = widen(this.status, (n) => new Uint8Array(n));
    this.shadow = widen(this.shadow, (n) => new Uint8Array(n));
    this.overage = widen(this.overage, (n) => new Uint8Array(n));
    this.foreign = widen(this.foreign, (n) => new Uint8Array(n));
    this.estimate = widen(this.estimate, (n) => new Float64Array(n));
    this.charged = widen(this.charged, (n) => new Float64Array(n));
    this.createdAtMs = widen(this.createdAtMs, (n) => new Float64Array(n));
    this.expiresAtMs = widen(this.expiresAtMs, (n) => new Float64Array(n));
    this.graceMs = widen(this.graceMs, (n) => new Float64Array(n));
    this.settledAt = widen(this.settledAt, (n) => new Float64Array(n));
    const free = new Int32Array(capacity);
    free.set(this.free.subarray(0, this.freeCount));
    this.free = free;
    for (let slot = capacity - 1; slot >= from; slot--) {
      this.ids.push(undefined);
      this.free[this.freeCount++] = slot;
    }
    // Reference columns stay dense (one hidden class of array each).
    for (const column of [this.tenantValue, this.subjectScope, this.unit, this.action, this.runId]) {
      while (column.length < capacity) (column as unknown[]).push(undefined);
    }
    while (this.holds.length < capacity) this.holds.push(noHolds);
    this.capacity = capacity;
  }

  private growSettled(): void {
    const next = new Int32Array(Math.max(1_024, this.settled.length * 2));
    for (let index = 0; index < this.settledCount; index++) {
      next[index] = this.settled[(this.settledHead + index) % this.settled.length];
    }
    this.settled = next;
    this.settledHead = 0;
  }
}
