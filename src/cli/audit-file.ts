import { readFile, rename, writeFile } from "node:fs/promises";
import type { AuditEvent, BudgetDefinition } from "../store/types.js";
import { CliFailure } from "./errors.js";

/**
 * An audit export: JSON lines. A line `{"budget": {...}}` carries a budget definition (so a report
 * can shade narrowing bands); every other line is one audit event, oldest first. Output of
 * `tollgate audit --json` (events only) is a valid export too.
 */
export interface AuditExport {
  budgets: BudgetDefinition[];
  events: AuditEvent[];
}

export const auditFileBytesMax = 512 * 1024 * 1024;

export function auditExportLines(exported: AuditExport): string[] {
  return [
    ...exported.budgets.map((budget) => JSON.stringify({ budget })),
    ...exported.events.map((event) => JSON.stringify(event)),
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
    const parsed = parseAuditLine(line, `${file}:${firstLine + index}`);
    if ("budget" in parsed) exported.budgets.push(parsed.budget);
    else exported.events.push(parsed.event);
  });
  return exported;
}

export function parseAuditLine(line: string, where: string): { budget: BudgetDefinition } | { event: AuditEvent } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new CliFailure(
      `${where}: not a JSON line. An audit export has one JSON object per line (tollgate audit --out FILE).`,
    );
  }
  if (value !== null && typeof value === "object" && "budget" in value) {
    const budget = (value as { budget: BudgetDefinition }).budget;
    if (typeof budget?.scope !== "string" || typeof budget.limit !== "number") {
      throw new CliFailure(`${where}: a budget line needs budget.scope and budget.limit`);
    }
    return { budget };
  }
  const event = value as AuditEvent;
  if (
    event === null ||
    typeof event !== "object" ||
    typeof event.seq !== "number" ||
    typeof event.atMs !== "number" ||
    typeof event.type !== "string" ||
    typeof event.scope !== "string"
  ) {
    throw new CliFailure(`${where}: not an audit event (needs seq, atMs, type and scope)`);
  }
  return { event };
}
