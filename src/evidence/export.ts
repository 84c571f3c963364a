import { ValidationError } from "../core/errors.js";
import { isJsonObject } from "./canonical.js";
import { type ChainRecord, type Checkpoint, parseChainRecord, parseCheckpoint } from "./chain.js";

/**
 * The chain export: JSON lines, oldest first, one of
 *
 *   {"chain": {"tenant": "acme", "seq": 1, "prevHash": "00…", "hash": "…", "event": {…}}}
 *   {"checkpoint": {"tenant": "acme", "seq": 1000, "hash": "…", "atMs": …, "keyId": "…", "signature": "…"}}
 *
 * Lines of the audit export (`{"budget": …}`) may be mixed in and are skipped; anything else is an
 * error naming its line, so nothing unverified passes for part of the chain.
 */

export const chainExportLinesMax = 10_000_000;

export interface ChainExport {
  records: ChainRecord[];
  checkpoints: Checkpoint[];
}

export function chainExportLines(exported: ChainExport): string[] {
  return [
    ...exported.records.map((record) => JSON.stringify({ chain: record })),
    ...exported.checkpoints.map((checkpoint) => JSON.stringify({ checkpoint })),
  ];
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
      } else if (isJsonObject(value) && "budget" in value) {
        // part of an audit export; not evidence
      } else {
        throw new ValidationError([
          { code: "not_evidence", path: "", message: 'neither {"chain": …} nor {"checkpoint": …}' },
        ]);
      }
    } catch (error) {
      if (error instanceof ValidationError) throw new ChainExportError(number, error);
      throw error;
    }
  }
  return exported;
}
