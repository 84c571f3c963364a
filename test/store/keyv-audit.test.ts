import { describe, expect, it } from "vitest";
import { tenantScopeOf } from "../../src/core/scope.js";
import { auditQueryLimitDefault, filterAuditEvents } from "../../src/store/audit-filter.js";
import { AuditColumns } from "../../src/store/keyv-audit.js";
import { ReservationSlots } from "../../src/store/keyv-reservations.js";
import type { AuditEvent, AuditLookup } from "../../src/store/types.js";

/** A small deterministic generator (mulberry32), so a failure names a case that comes back. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const tenants = ["tenant:a", "tenant:b", "tenant:c", "tenant:d"];
const types = ["reserve", "commit", "release", "expire"] as const;
const decisions = ["ALLOW", "ALLOW_WITH_CAPS", "DENY"] as const;

function filled(next: () => number, events: number, perTenantMax: number, totalMax: number): AuditColumns {
  const columns = new AuditColumns(perTenantMax, totalMax, new ReservationSlots(10, 60_000));
  for (let seq = 1; seq <= events; seq++) {
    const tenant = tenants[Math.floor(next() * tenants.length)];
    const type = types[Math.floor(next() * types.length)];
    const event: Omit<AuditEvent, "balances"> = {
      seq,
      atMs: 1_000 + Math.floor(seq / 3),
      type,
      scope: next() < 0.5 ? tenant : `${tenant}/toolset:t${Math.floor(next() * 3)}`,
      unit: "RISK_POINTS",
      action: { name: `tool-${Math.floor(next() * 3)}`, tier: "read" },
    };
    if (type === "reserve") event.decision = decisions[Math.floor(next() * decisions.length)];
    // What the columns cannot hold goes to an overflow record: a shadow answer, an id of another
    // store, a type this build does not know.
    const odd = next();
    if (odd < 0.05) event.shadow = { decision: decisions[Math.floor(next() * decisions.length)] };
    else if (odd < 0.08) event.reservationId = `foreign-${seq}`;
    else if (odd < 0.1) event.type = "custom-type" as never;
    columns.append(tenant, event);
  }
  return columns;
}

function someQuery(next: () => number): AuditLookup {
  const query: AuditLookup = {};
  const pick = () => next() < 0.4;
  if (pick()) query.scope = tenants[Math.floor(next() * tenants.length)];
  if (query.scope && pick()) query.scope += `/toolset:t${Math.floor(next() * 3)}`;
  if (pick()) {
    const which = next();
    query.type = which < 0.8 ? types[Math.floor(next() * types.length)] : which < 0.9 ? "custom-type" : "no-such-type";
  }
  if (pick()) query.decision = decisions[Math.floor(next() * decisions.length)];
  if (pick()) query.action = `tool-${Math.floor(next() * 3)}`;
  if (pick()) query.afterSeq = Math.floor(next() * 1_200);
  if (pick()) query.sinceMs = 1_000 + Math.floor(next() * 400);
  if (pick()) query.untilMs = 1_000 + Math.floor(next() * 400);
  if (next() < 0.05) Object.assign(query, { type: "", action: "", decision: "" });
  if (pick()) query.decision = next() < 0.9 ? decisions[Math.floor(next() * decisions.length)] : ("MAYBE" as never);
  if (next() < 0.8) query.limit = 1 + Math.floor(next() * 60);
  return query;
}

describe("embedded audit queries", () => {
  it("answer what filtering every retained event answers, for every kind of query", () => {
    for (const [seed, perTenantMax, totalMax] of [
      [1, 10_000, 100_000],
      [2, 200, 600],
      [3, 50, 10_000],
    ] as const) {
      const next = random(seed);
      const columns = filled(next, 1_200, perTenantMax, totalMax);
      for (let round = 0; round < 400; round++) {
        const query = someQuery(next);
        const tenant = query.scope === undefined ? undefined : tenantScopeOf(query.scope);
        const expected = filterAuditEvents(columns.events(tenant), query);
        const answered = columns.query(tenant, query, query.limit ?? auditQueryLimitDefault);
        expect(answered, JSON.stringify({ seed, query })).toEqual(expected);
      }
    }
  });

  it("keeps the newest matches across tenants in seq order, with a limit far below the events", () => {
    const next = random(7);
    const columns = filled(next, 1_200, 10_000, 100_000);
    const answered = columns.query(undefined, { limit: 5 }, 5);
    expect(answered.map((event) => event.seq)).toEqual([1_196, 1_197, 1_198, 1_199, 1_200]);
    expect(columns.query(undefined, { afterSeq: 1_198 }, auditQueryLimitDefault).map((event) => event.seq)).toEqual([
      1_199, 1_200,
    ]);
    expect(columns.query("tenant:nobody", {}, 10)).toEqual([]);
    // The overflow records are among what the first test compared.
    for (const query of [{ type: "custom-type" }, { decision: "DENY" as const }]) {
      const answered = columns.query(undefined, query, auditQueryLimitDefault);
      expect(answered.length).toBeGreaterThan(0);
      expect(answered).toEqual(filterAuditEvents(columns.events(), query));
    }
    expect(
      columns
        .query(undefined, { type: "custom-type" }, 1_000)
        .every((event) => (event.type as string) === "custom-type"),
    ).toBe(true);
  });
});
