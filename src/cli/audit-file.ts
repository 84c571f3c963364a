import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { z } from "zod";
import type { ValidationIssue } from "../core/errors.js";
import { type ChainExport, chainExportLines } from "../evidence/export.js";
import type { AuditEvent, BudgetDefinition } from "../store/types.js";
import { auditEventSchema, budgetDefinitionSchema } from "./audit-event-schema.js";
import { CliFailure } from "./errors.js";

/**
 * An audit export: JSON lines. A line `{"budget": {...}}` carries a budget definition (so a report
 * can shade narrowing bands); every other line is one audit event, oldest first. Output of
 * `tollgate audit --json` (events only) is a valid export too. When the store chains its events, the
 * export ends with the chain's `{"chain": …}` and `{"checkpoint": …}` lines (src/evidence/export.ts),
 * which `tollgate audit verify --from` checks and the other readers skip.
 */
export interface AuditExport {
  budgets: BudgetDefinition[];
  events: AuditEvent[];
  /** Written after the events; not read back by parseAuditExport (audit verify --from reads it). */
  chain?: ChainExport;
}

export const auditFileBytesMax = 512 * 1024 * 1024;
/** Per line, the first few bad fields are enough to fix it; a hostile line could have thousands. */
export const auditLineIssuesMax = 10;

export function auditExportLines(exported: AuditExport): string[] {
  return [
    ...exported.budgets.map((budget) => JSON.stringify({ budget })),
    ...exported.events.map((event) => JSON.stringify(event)),
    ...(exported.chain ? chainExportLines(exported.chain) : []),
  ];
}

/** Writes the export next to its final name first, so a reader never sees half a file. */
export async function writeAuditExport(file: string, exported: AuditExport): Promise<void> {
  const lines = auditExportLines(exported);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, lines.length > 0 ? `${lines.join("\n")}\n` : "");
  await rename(temporary, file);
}

export async function readAuditExport(file: string): Promise<AuditExport> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > auditFileBytesMax) {
      throw new Error(`it is ${size} bytes, more than the ${auditFileBytesMax} an export may have`);
    }
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new CliFailure(`Cannot read the audit export ${file}: ${reason}`, { cause: error });
  }
  return parseAuditExport(text, file);
}

export function parseAuditExport(text: string, file: string, firstLine = 1): AuditExport {
  const exported: AuditExport = { budgets: [], events: [] };
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (line.trim() === "") return;
    const parsed = parseAuditLine(line, file, firstLine + index);
    if ("evidence" in parsed) return;
    if ("budget" in parsed) exported.budgets.push(parsed.budget);
    else exported.events.push(parsed.event);
  });
  return exported;
}

/** A line of an audit export that is not an event or a budget: nothing of the file is used. */
export class AuditExportError extends CliFailure {
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** Each bad field with its path in the line's object (`balances.0.allocated`). */
  readonly issues: ValidationIssue[];
  constructor(file: string, line: number, issues: ValidationIssue[]) {
    super(issues.map((issue) => `${file}:${line}: ${issue.path ? `${issue.path}: ` : ""}${issue.message}`).join("\n"));
    this.name = "AuditExportError";
    this.file = file;
    this.line = line;
    this.issues = issues;
  }
}

/** Parses one line, checking every field against the audit event (or budget) schema. */
export function parseAuditLine(
  line: string,
  file: string,
  lineNumber: number,
): { budget: BudgetDefinition } | { event: AuditEvent } | { evidence: true } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new AuditExportError(file, lineNumber, [
      {
        code: "invalid_json",
        path: "",
        message: "not a JSON line. An audit export has one JSON object per line (tollgate audit --out FILE).",
      },
    ]);
  }
  if (isEvidenceLine(value)) return { evidence: true };
  if (value !== null && typeof value === "object" && !Array.isArray(value) && "budget" in value) {
    const parsed = z.strictObject({ budget: budgetDefinitionSchema }).safeParse(value);
    if (!parsed.success) throw new AuditExportError(file, lineNumber, issuesOf(parsed.error));
    return { budget: parsed.data.budget };
  }
  const parsed = auditEventSchema.safeParse(value);
  if (!parsed.success) throw new AuditExportError(file, lineNumber, issuesOf(parsed.error));
  return { event: parsed.data };
}

/**
 * The audit event a line holds, as the readers of an export take it (`tollgate audit --out` writes
 * them before the chain); undefined for any other line. `audit verify --from` checks each against
 * the chain record that carries it.
 */
export function auditEventOfLine(line: string): AuditEvent | undefined {
  if (!line.includes('"type"')) return undefined;
  try {
    const parsed = parseAuditLine(line, "", 0);
    return "event" in parsed ? parsed.event : undefined;
  } catch {
    return undefined;
  }
}

/** A chain record, checkpoint or receipt line: evidence, checked by `audit verify --from`, not an event. */
function isEvidenceLine(value: unknown): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === "chain" || keys[0] === "checkpoint" || keys[0] === "receipt");
}

function issuesOf(error: z.ZodError): ValidationIssue[] {
  return error.issues.slice(0, auditLineIssuesMax).map((issue) => {
    const path = issue.path.map(String).join(".");
    let message = issue.message;
    if (issue.code === "unrecognized_keys") message = `unknown field(s): ${issue.keys.join(", ")}`;
    return { code: issue.code, path, message };
  });
}
