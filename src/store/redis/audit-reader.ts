import { auditEventMatches, auditQueryLimitDefault } from "../audit-filter.js";
import type { AuditEvent, AuditLookup } from "../types.js";
import type { RedisConnection } from "./connection.js";
import type { KeySpace } from "./keys.js";
import { StoreLayoutError } from "./layout.js";

const pageSize = 512;
const tenantsInParallel = 8;

/** A stored event carries the server's microseconds, to order events of different tenants. */
type StoredEvent = AuditEvent & { _us?: number };

/**
 * Reads each tenant's capped stream newest first until `limit` events match, then merges tenants.
 * Returns the newest `limit` matches, oldest first, like filterAuditEvents.
 */
export async function readAudit(
  connection: RedisConnection,
  keys: KeySpace,
  tenants: readonly string[],
  query: AuditLookup,
): Promise<AuditEvent[]> {
  const limit = query.limit ?? auditQueryLimitDefault;
  if (limit <= 0 || tenants.length === 0) return [];
  const perTenant: StoredEvent[][] = [];
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const tenant = tenants[next++];
      perTenant.push(await readTenant(connection, keys.auditStream(tenant), query, limit));
    }
  };
  await Promise.all(Array.from({ length: Math.min(tenantsInParallel, tenants.length) }, worker));
  const merged = perTenant.length === 1 ? perTenant[0] : perTenant.flat().sort(byTime);
  return merged.slice(Math.max(0, merged.length - limit)).map(publicEvent);
}

async function readTenant(
  connection: RedisConnection,
  stream: string,
  query: AuditLookup,
  limit: number,
): Promise<StoredEvent[]> {
  const newestFirst: StoredEvent[] = [];
  let end = "+";
  for (;;) {
    const entries = (await connection.send(stream, ["XREVRANGE", stream, end, "-", "COUNT", String(pageSize)])) as [
      string,
      string[],
    ][];
    for (const [id, fields] of entries) {
      const event = storedEvent(id, fields);
      // Sequence numbers only grow within a tenant: nothing older can match.
      if (query.afterSeq !== undefined && event.seq <= query.afterSeq) return newestFirst.reverse();
      if (!auditEventMatches(event, query)) continue;
      newestFirst.push(event);
      if (newestFirst.length >= limit) return newestFirst.reverse();
    }
    if (entries.length < pageSize) return newestFirst.reverse();
    end = `(${entries[entries.length - 1][0]}`;
  }
}

/**
 * An entry as appendAudit (lua/prelude.ts) writes it: id "0-<seq>" (the tenant's sequence number),
 * "H" the type and the server's TIME (seconds, microseconds), and for a reservation's events its
 * estimate, decision or amount and id (entries before "H": "t" the type, "s" / "u" the time, the
 * rest as fields of their own), "o" the test clock offset,
 * "f" JSON fields spliced as they are, then fields named by a kind character and the event's key
 * ("$" a string, "#" an integer, "=" JSON), and for events with balances "C": "<scope> <allocated>
 * <spent>:<reserved>:<debt>" per budget joined by ";" ("" for none), or "B" with remaining in place of
 * the counters in entries written before "C". Entries written before "B" carry "b" scope,
 * "a" allocated, "r" remaining per budget ("b" "" alone: none), read the same. An entry with "e"
 * (the event's whole JSON) is of the layout before this one, which this build does not read.
 */
function storedEvent(id: string, fields: readonly string[]): StoredEvent {
  let type = "";
  let seconds = 0;
  let micros = 0;
  let offsetMs = 0;
  let fragment = "";
  let balances: { scope: string; allocated: number; remaining: number }[] | undefined;
  const rest: [string, unknown][] = [];
  for (let at = 0; at + 1 < fields.length; at += 2) {
    const name = fields[at];
    const value = fields[at + 1];
    switch (name) {
      case "H": {
        // "<type> <seconds> <micros>", then for a reservation's events "<estimate> <decision or
        // amount> <reservationId>" (the id last: everything after the fifth space).
        const cuts = spacesIn(value, 5);
        type = value.slice(0, cuts[0] ?? value.length);
        seconds = Number(value.slice(cuts[0] + 1, cuts[1]));
        micros = Number(value.slice(cuts[1] + 1, cuts[2] ?? value.length));
        if (cuts.length === 5) {
          const estimate = Number(value.slice(cuts[2] + 1, cuts[3]));
          const second = value.slice(cuts[3] + 1, cuts[4]);
          const reservationId = value.slice(cuts[4] + 1);
          if (type === "reserve") {
            rest.push(["estimate", estimate]);
            if (reservationId !== "") rest.push(["reservationId", reservationId]);
            rest.push(["decision", second]);
          } else {
            rest.push(["reservationId", reservationId], ["estimate", estimate], ["amount", Number(second)]);
          }
        }
        break;
      }
      case "t":
        type = value;
        break;
      case "s":
        seconds = Number(value);
        break;
      case "u":
        micros = Number(value);
        break;
      case "o":
        offsetMs = Number(value);
        break;
      case "f":
        fragment = value;
        break;
      case "C":
        balances = packedBalances(value, true);
        break;
      case "B":
        balances = packedBalances(value, false);
        break;
      case "b":
        balances ??= [];
        if (value !== "") balances.push({ scope: value, allocated: Number.NaN, remaining: Number.NaN });
        break;
      case "a":
        if (balances?.length) balances[balances.length - 1].allocated = Number(value);
        break;
      case "r":
        if (balances?.length) balances[balances.length - 1].remaining = Number(value);
        break;
      case "e":
        throw new StoreLayoutError(`audit entry ${id} is of an earlier layout (an "e" field)`);
      default: {
        const key = name.slice(1);
        if (name[0] === "$") rest.push([key, value]);
        else if (name[0] === "#") rest.push([key, Number(value)]);
        else if (name[0] === "=") rest.push([key, JSON.parse(value)]);
      }
    }
  }
  const event = {
    seq: Number(id.slice(id.indexOf("-") + 1)),
    atMs: seconds * 1000 + Math.floor(micros / 1000) + offsetMs,
    _us: seconds * 1_000_000 + micros,
    type,
    ...(fragment === "" ? {} : JSON.parse(`{${fragment}}`)),
  } as StoredEvent;
  const record = event as unknown as Record<string, unknown>;
  for (const [key, value] of rest) record[key] = value;
  if (balances) event.balances = balances;
  return event;
}

/** Where the first `count` spaces of `text` are (fewer when it has fewer). */
function spacesIn(text: string, count: number): number[] {
  const cuts: number[] = [];
  let at = text.indexOf(" ");
  while (at >= 0 && cuts.length < count) {
    cuts.push(at);
    at = text.indexOf(" ", at + 1);
  }
  return cuts;
}

/** A stream entry as the chain hashes and exports it: the event exactly as `audit()` returns it. */
export function chainEventOf(id: string, fields: readonly string[]): AuditEvent {
  const event = storedEvent(id, fields);
  delete event._us; // one object fewer per event than publicEvent's copy: the linker reads every event
  return event;
}

/**
 * The "C" field: budgets as "<scope> <allocated> <spent>:<reserved>:<debt>" joined by ";", remaining
 * worked out here as the script works it out (allocated - spent - reserved - debt, left to right, in
 * doubles: the same number). The "B" field of entries before it: "<scope> <allocated> <remaining>".
 */
function packedBalances(value: string, counters: boolean): { scope: string; allocated: number; remaining: number }[] {
  const balances: { scope: string; allocated: number; remaining: number }[] = [];
  if (value === "") return balances;
  for (const item of value.split(";")) {
    const first = item.indexOf(" ");
    const second = first < 0 ? -1 : item.indexOf(" ", first + 1);
    // A malformed item (a store edited by hand) reads as NaN amounts, which the chain's hash shows.
    if (second < 0) {
      balances.push({ scope: item, allocated: Number.NaN, remaining: Number.NaN });
      continue;
    }
    const allocated = Number(item.slice(first + 1, second));
    balances.push({
      scope: item.slice(0, first),
      allocated,
      remaining: counters ? remainingOf(allocated, item.slice(second + 1)) : Number(item.slice(second + 1)),
    });
  }
  return balances;
}

/** allocated - spent - reserved - debt from "<spent>:<reserved>:<debt>"; NaN when it is not three numbers. */
function remainingOf(allocated: number, counters: string): number {
  const parts = countersText.exec(counters);
  if (!parts) return Number.NaN;
  return allocated - Number(parts[1]) - Number(parts[2]) - Number(parts[3]);
}

const countersText = /^(\d{1,16}):(\d{1,16}):(\d{1,16})$/;

function byTime(a: StoredEvent, b: StoredEvent): number {
  return a.atMs - b.atMs || (a._us ?? 0) - (b._us ?? 0) || a.seq - b.seq;
}

function publicEvent(event: StoredEvent): AuditEvent {
  const { _us: _ignored, ...rest } = event;
  return rest;
}
