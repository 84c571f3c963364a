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
      // The stream id "0-<seq>" is the tenant's sequence number (see appendAudit in lua/prelude.ts).
      const event = { seq: Number(id.slice(2)), ...JSON.parse(fields[1]) } as StoredEvent;
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

function byTime(a: StoredEvent, b: StoredEvent): number {
  return a.atMs - b.atMs || (a._us ?? 0) - (b._us ?? 0) || a.seq - b.seq;
}

function publicEvent(event: StoredEvent): AuditEvent {
  const { _us: _ignored, ...rest } = event;
  return rest;
}
