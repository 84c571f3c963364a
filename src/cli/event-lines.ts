import { tenantScopeOf } from "../core/scope.js";
import { canonicalBytes, sha256Hex } from "../evidence/canonical.js";
import type { ChainRecord } from "../evidence/chain.js";
import type { AuditEvent } from "../store/types.js";

/** An audit event line of an export, where it is in the file (1-based). */
export interface EventLine {
  line: number;
  event: AuditEvent;
}

export interface EventLineProblem {
  line: number;
  kind: "not_in_chain" | "differs_from_chain";
  detail: string;
}

export interface EventLineVerification {
  checked: number;
  /** The first `eventLineProblemsKept`; `problemCount` counts them all. */
  problems: EventLineProblem[];
  problemCount: number;
}

export const eventLineProblemsKept = 1_000;

/**
 * The event lines of an export (`tollgate audit --out`) against its chain records: `tollgate
 * report` and `audit --from` read the event lines, the chain vouches for the events its records
 * carry, so each line must be the very event a record of its tenant carries (by the event's seq),
 * canonically byte for byte. A line no record covers, or one that differs, is named by line.
 */
export function verifyEventLines(lines: readonly EventLine[], records: readonly ChainRecord[]): EventLineVerification {
  const vouched = new Map<string, string>();
  for (const record of records) {
    const seq = (record.event as { seq?: unknown }).seq;
    if (typeof seq === "number") vouched.set(keyOf(record.tenant, seq), sha256Hex(canonicalBytes(record.event)));
  }
  const problems: EventLineProblem[] = [];
  let problemCount = 0;
  const note = (problem: EventLineProblem) => {
    problemCount++;
    if (problems.length < eventLineProblemsKept) problems.push(problem);
  };
  for (const { line, event } of lines) {
    const tenant = tenantScopeOf(event.scope);
    const hash = vouched.get(keyOf(tenant, event.seq));
    if (hash === undefined) {
      note({ line, kind: "not_in_chain", detail: `no chain record of ${tenant} carries event seq ${event.seq}` });
    } else if (hash !== sha256Hex(canonicalBytes(event))) {
      note({
        line,
        kind: "differs_from_chain",
        detail: `event seq ${event.seq} is not the event its chain record carries`,
      });
    }
  }
  return { checked: lines.length, problems, problemCount };
}

function keyOf(tenant: string, seq: number): string {
  return `${tenant}\u0000${seq}`;
}
