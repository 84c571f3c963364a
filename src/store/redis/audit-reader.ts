import { auditEventMatches, auditQueryLimitDefault } from "../audit-filter.js";
import type { AuditEvent, AuditLookup } from "../types.js";
import type { RedisConnection } from "./connection.js";
import type { KeySpace } from "./keys.js";

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
 * "e" the event's JSON without seq and balances, and for events with balances "b" their scopes
 * (space-separated) followed by "a" allocated and "r" remaining per budget, in order.
 */
function storedEvent(id: string, fields: readonly string[]): StoredEvent {
  let json = "{}";
  let scopes: string[] | undefined;
  const allocated: number[] = [];
  const remaining: number[] = [];
  for (let at = 0; at + 1 < fields.length; at += 2) {
    const value = fields[at + 1];
    switch (fields[at]) {
      case "e":
        json = value;
        break;
      case "b":
        scopes = value === "" ? [] : value.split(" ");
        break;
      case "a":
        allocated.push(Number(value));
        break;
      case "r":
        remaining.push(Number(value));
        break;
    }
  }
  const event = { seq: Number(id.slice(id.indexOf("-") + 1)), ...JSON.parse(json) } as StoredEvent;
  if (scopes) {
    event.balances = scopes.map((scope, index) => ({
      scope,
      allocated: allocated[index],
      remaining: remaining[index],
    }));
  }
  return event;
}

/** A stream entry as the chain hashes and exports it: the event exactly as `audit()` returns it. */
export function chainEventOf(id: string, fields: readonly string[]): AuditEvent {
  const event = storedEvent(id, fields);
  delete event._us; // one object fewer per event than publicEvent's copy: the linker reads every event
  return event;
}

function byTime(a: StoredEvent, b: StoredEvent): number {
  return a.atMs - b.atMs || (a._us ?? 0) - (b._us ?? 0) || a.seq - b.seq;
}

function publicEvent(event: StoredEvent): AuditEvent {
  const { _us: _ignored, ...rest } = event;
  return rest;
}
