import { ValidationError } from "../core/errors.js";
import { isJsonObject, type JsonObject } from "./canonical.js";
import { type ChainRecord, type Checkpoint, parseChainRecord, parseCheckpoint } from "./chain.js";
import type { KeySet } from "./keys.js";
import { chainRecordOfReceipt, type ReceiptProblemKind, verifyReceipt } from "./receipt.js";

/**
 * The chain export: JSON lines, oldest first, one of
 *
 *   {"chain": {"tenant": "acme", "seq": 1, "prevHash": "00…", "hash": "…", "event": {…}}}
 *   {"checkpoint": {"tenant": "acme", "seq": 1000, "hash": "…", "atMs": …, "keyId": "…", "signature": "…"}}
 *   {"receipt": {"schema_version": "cycles-evidence/v0.1", …}}   (a signed receipt of one record)
 *
 * Lines of the audit export (`{"budget": …}`) may be mixed in and are skipped; anything else is an
 * error naming its line, so nothing unverified passes for part of the chain.
 */

export const chainExportLinesMax = 10_000_000;

export interface ChainExport {
  records: ChainRecord[];
  checkpoints: Checkpoint[];
  /** Receipts of single records, as read: unverified until `verifyExportReceipts` checks them. */
  receipts?: JsonObject[];
}

export function chainExportLines(exported: ChainExport): string[] {
  return [
    ...exported.records.map((record) => JSON.stringify({ chain: record })),
    ...exported.checkpoints.map((checkpoint) => JSON.stringify({ checkpoint })),
    ...(exported.receipts ?? []).map((receipt) => JSON.stringify({ receipt })),
  ];
}

export interface ReceiptProblem {
  /** The receipt's place among the export's receipts (0-based). */
  index: number;
  evidenceId?: string;
  tenant?: string;
  seq?: number;
  kind: ReceiptProblemKind | "not in the chain";
  detail: string;
}

/** How many receipt problems one verification lists. */
export const receiptProblemsMax = 100;

/**
 * Checks each receipt of an export on its own (verifyReceipt, against `keys` when given) and
 * against the chain beside it: a tollgate receipt must vouch for the very record the chain holds
 * at its tenant and seq (same hash). A receipt of a record the export does not hold is only
 * checked on its own.
 */
export function verifyExportReceipts(
  exported: ChainExport,
  keys: KeySet | undefined,
): { checked: number; problems: ReceiptProblem[] } {
  const receipts = exported.receipts ?? [];
  const hashAt = new Map<string, string>();
  for (const record of exported.records) hashAt.set(`${record.tenant}#${record.seq}`, record.hash);
  const problems: ReceiptProblem[] = [];
  const report = (problem: ReceiptProblem) => {
    if (problems.length < receiptProblemsMax) problems.push(problem);
  };
  receipts.forEach((receipt, index) => {
    const verified = verifyReceipt(receipt, keys);
    let record: ChainRecord | undefined;
    try {
      record = chainRecordOfReceipt(receipt);
    } catch {
      record = undefined; // verifyReceipt reports it
    }
    const where = record ? { tenant: record.tenant, seq: record.seq } : {};
    if (!verified.ok) {
      report({
        index,
        evidenceId: verified.evidenceId,
        ...where,
        kind: verified.problem?.kind ?? "malformed",
        detail: verified.problem?.detail ?? "",
      });
      return;
    }
    const chained = record ? hashAt.get(`${record.tenant}#${record.seq}`) : undefined;
    if (record && chained !== undefined && chained !== record.hash) {
      report({
        index,
        evidenceId: verified.evidenceId,
        ...where,
        kind: "not in the chain",
        detail: "it vouches for a record other than the one the chain holds at its seq",
      });
    }
  });
  return { checked: receipts.length, problems };
}

export class ChainExportError extends ValidationError {
  /** 1-based. */
  readonly line: number;
  constructor(line: number, error: ValidationError) {
    super(error.issues.map((issue) => ({ ...issue, path: `line ${line}${issue.path ? `: ${issue.path}` : ""}` })));
    this.line = line;
  }
}

export function parseChainExport(text: string): ChainExport {
  const exported: ChainExport = { records: [], checkpoints: [] };
  const lines = text.split("\n");
  if (lines.length > chainExportLinesMax) {
    throw new ValidationError([{ code: "too_big", path: "export", message: `more than ${chainExportLinesMax} lines` }]);
  }
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    const number = index + 1;
    try {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new ValidationError([{ code: "invalid_json", path: "", message: "not a JSON line" }]);
      }
      if (isJsonObject(value) && "chain" in value && Object.keys(value).length === 1) {
        exported.records.push(parseChainRecord(value.chain));
      } else if (isJsonObject(value) && "checkpoint" in value && Object.keys(value).length === 1) {
        exported.checkpoints.push(parseCheckpoint(value.checkpoint));
      } else if (isJsonObject(value) && "receipt" in value && Object.keys(value).length === 1) {
        if (!isJsonObject(value.receipt)) {
          throw new ValidationError([{ code: "invalid_type", path: "receipt", message: "must be an object" }]);
        }
        exported.receipts ??= [];
        exported.receipts.push(value.receipt);
      } else if (isJsonObject(value) && "budget" in value) {
        // part of an audit export; not evidence
      } else {
        throw new ValidationError([
          { code: "not_evidence", path: "", message: 'not {"chain": …}, {"checkpoint": …} or {"receipt": …}' },
        ]);
      }
    } catch (error) {
      if (error instanceof ValidationError) throw new ChainExportError(number, error);
      throw error;
    }
  }
  return exported;
}
