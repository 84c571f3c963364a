import { isWithinScope } from "../core/scope.js";
import type { AuditEvent, AuditLookup } from "./types.js";

export const auditQueryLimitDefault = 1_000;

/** Applies an audit query to events in log order; returns the newest `limit` matches, oldest first. */
export function filterAuditEvents(events: readonly AuditEvent[], query: AuditLookup): AuditEvent[] {
  const matches = events.filter((event) => auditEventMatches(event, query));
  const limit = query.limit ?? auditQueryLimitDefault;
  return matches.slice(Math.max(0, matches.length - limit));
}

export function auditEventMatches(event: AuditEvent, query: AuditLookup): boolean {
  if (query.scope && !isWithinScope(event.scope, query.scope)) return false;
  // A shadow event matches both what happened and what enforcement would have answered.
  if (query.decision && event.decision !== query.decision && event.shadow?.decision !== query.decision) return false;
  if (query.type && event.type !== query.type) return false;
  if (query.action && event.action?.name !== query.action) return false;
  if (query.sinceMs !== undefined && event.atMs < query.sinceMs) return false;
  if (query.untilMs !== undefined && event.atMs > query.untilMs) return false;
  if (query.afterSeq !== undefined && event.seq <= query.afterSeq) return false;
  return true;
}
