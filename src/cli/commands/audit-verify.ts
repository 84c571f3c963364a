import { readFile, stat } from "node:fs/promises";
import { ValidationError } from "../../core/errors.js";
import { tenantScopeOf } from "../../core/scope.js";
import { type ChainVerification, verifyChain } from "../../evidence/chain.js";
import {
  type ChainExport,
  parseChainExport,
  type ReceiptProblem,
  verifyExportReceipts,
} from "../../evidence/export.js";
import { type KeySet, parseJwks } from "../../evidence/keys.js";
import { type ReceiptVerification, receiptBytesMax, verifyReceipt } from "../../evidence/receipt.js";
import { auditEventOfLine, auditFileBytesMax } from "../audit-file.js";
import { chainSourceOf } from "../chain-source.js";
import type { Command } from "../command.js";
import { CliFailure, exitFailure, exitOk, UsageError } from "../errors.js";
import { type EventLine, type EventLineVerification, verifyEventLines } from "../event-lines.js";
import { terminalText, writeJsonLine, writeLine } from "../io.js";
import { redisOptions, redisUrlOf, userPath } from "../options.js";
import { parseScopeFlag } from "../values.js";
import { jwksFileBytesMax, parseJsonFile } from "./keys.js";

export const auditVerify: Command = {
  name: "audit verify",
  summary:
    "check evidence: a single receipt, or the audit chain with its signed checkpoints (an export or the live store)",
  details: [
    "--receipt checks one receipt on its own (tollgate's or any Cycles evidence envelope): its evidence_id,",
    "its signature and, with --jwks, that a key of the set signed it.",
    "--from checks a chain export: every hash and link, continuity from seq 1 or from a kept checkpoint, and",
    "every checkpoint's signature against --jwks. It names the first broken sequence number and what broke:",
    "edited, deleted, inserted, reordered, signature invalid, unknown key. The export's event lines (what a",
    "report reads) must each be the event its chain record carries; one that differs or that no record",
    "covers is named by its line.",
    "--redis reads the chain straight from the live store (every tenant, or the one --scope names) and checks",
    "it the same way; it writes nothing. Events not linked yet (the last moments, a process that died) are",
    "not part of it until a linker links them.",
    "Exit 0: whole. Exit 1: broken (or a file or the store could not be read). Exit 2: usage.",
  ].join("\n"),
  options: {
    receipt: { type: "string", valueName: "FILE", description: "one receipt (a JSON envelope)" },
    from: {
      type: "string",
      valueName: "FILE",
      description: "a chain export (JSON lines of chain records and checkpoints)",
    },
    jwks: {
      type: "string",
      valueName: "FILE",
      description: "the JWK Set of the signing keys (tollgate keys generate)",
    },
    scope: { type: "string", valueName: "SCOPE", description: "with --redis: only this tenant (tenant:acme)" },
    json: { type: "boolean", description: "the verification as one JSON line" },
    ...redisOptions,
  },
  examples: [
    "tollgate audit verify --receipt r.json --jwks keys/jwks.json",
    "tollgate audit verify --from chain.jsonl --jwks keys/jwks.json",
    "tollgate audit verify --redis redis://127.0.0.1:6379 --scope tenant:acme --jwks keys/jwks.json",
  ],
  async run({ options, io, command }) {
    const receipt = typeof options.receipt === "string" ? options.receipt : undefined;
    const from = typeof options.from === "string" ? options.from : undefined;
    const sources = [receipt, from, options.redis].filter((source) => typeof source === "string").length;
    const redisUrl = sources === 0 ? redisUrlOf(options, io) : undefined;
    if (sources > 1 || (sources === 0 && redisUrl === undefined)) {
      throw new UsageError("give one of --receipt FILE, --from FILE or --redis URL", command.name);
    }
    if (typeof options.scope === "string" && (receipt !== undefined || from !== undefined)) {
      throw new UsageError("--scope goes with --redis", command.name);
    }
    const keys = typeof options.jwks === "string" ? await readKeySet(userPath(io, options.jwks)) : undefined;
    if (receipt !== undefined) {
      const value = parseJsonFile(await readBounded(userPath(io, receipt), receiptBytesMax), receipt, receiptBytesMax);
      const verified = verifyReceipt(value, keys);
      if (options.json) writeJsonLine(io.stdout, verified);
      else writeLine(io.stdout, describeReceipt(verified, typeof options.jwks === "string" ? options.jwks : undefined));
      return verified.ok ? exitOk : exitFailure;
    }
    let exported: ChainExport;
    let eventLines: EventLine[] = [];
    if (from !== undefined) {
      ({ chain: exported, eventLines } = await readExportFile(io, from));
    } else {
      const scope =
        typeof options.scope === "string" ? parseScopeFlag("scope", options.scope, command.name) : undefined;
      exported = await readStoreChain(io, options, command.name, scope);
    }
    const chain = verifyChain(exported.records, exported.checkpoints, keys);
    const receipts = verifyExportReceipts(exported, keys);
    // What a report reads of the file must be what the chain vouches for.
    const events = verifyEventLines(eventLines, exported.records);
    // An export with no chain in it vouches for nothing: not a pass (the store path refuses it too).
    const ok = chain.ok && chain.tenants.length > 0 && receipts.problems.length === 0 && events.problemCount === 0;
    if (options.json) writeJsonLine(io.stdout, { ...chain, ok, receipts, events });
    else {
      for (const line of [...describeChain(chain), ...describeReceipts(receipts), ...describeEventLines(events)]) {
        writeLine(io.stdout, line);
      }
    }
    return ok ? exitOk : exitFailure;
  },
};

/** The chain as the live store keeps it, read without writing anything. */
async function readStoreChain(
  io: Parameters<Command["run"]>[0]["io"],
  options: Parameters<Command["run"]>[0]["options"],
  command: string,
  scope: string | undefined,
): Promise<ChainExport> {
  const { openLedger, closeQuietly } = await import("../source.js");
  const { ledger, label } = await openLedger(io, options, command, { write: false });
  try {
    const source = chainSourceOf(await ledger.store);
    if (!source) throw new CliFailure(`The store at ${label} keeps no audit chain.`);
    let exported: ChainExport;
    try {
      exported = await source.chainExport(scope === undefined ? {} : { tenant: tenantScopeOf(scope) });
    } catch (error) {
      throw new CliFailure(`Cannot read the audit chain from ${label}: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      });
    }
    if (exported.records.length === 0 && exported.checkpoints.length === 0) {
      // Nothing to check is not evidence of anything: a store without evidence on, or the wrong scope.
      throw new CliFailure(
        `The store at ${label} holds no audit chain${scope === undefined ? "" : ` for ${terminalText(scope)}`}: is evidence on for the processes that write it?`,
      );
    }
    return exported;
  } finally {
    await closeQuietly(ledger);
  }
}

/**
 * An audit export (`tollgate audit --out`) has its events as lines of their own before the chain:
 * they are taken out with their line numbers (checked against the chain records, which carry each
 * event) and blanked, so line numbers stay true; every other line must be evidence.
 */
function splitAuditEvents(text: string): { chainText: string; eventLines: EventLine[] } {
  const eventLines: EventLine[] = [];
  const chainText = text
    .split("\n")
    .map((line, index) => {
      const event = auditEventOfLine(line);
      if (event === undefined) return line;
      eventLines.push({ line: index + 1, event });
      return "";
    })
    .join("\n");
  return { chainText, eventLines };
}

/** An export file (`audit --out`): its chain, and its audit event lines; a bad line is a CliFailure naming it. */
async function readExportFile(
  io: Parameters<Command["run"]>[0]["io"],
  file: string,
): Promise<{ chain: ChainExport; eventLines: EventLine[] }> {
  try {
    const { chainText, eventLines } = splitAuditEvents(await readBounded(userPath(io, file), auditFileBytesMax));
    return { chain: parseChainExport(chainText), eventLines };
  } catch (error) {
    if (error instanceof ValidationError) throw new CliFailure(`${file}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** A chain export file (`audit --out`), its audit event lines left out. */
export async function readChainExportFile(io: Parameters<Command["run"]>[0]["io"], file: string): Promise<ChainExport> {
  return (await readExportFile(io, file)).chain;
}

/** Shown in full up to this many; --json lists up to eventLineProblemsKept. */
const eventLineProblemsShown = 20;

function describeEventLines(verified: EventLineVerification): string[] {
  if (verified.checked === 0) return [];
  if (verified.problemCount === 0) {
    return [`Event lines whole: ${verified.checked} checked, each the event its chain record carries.`];
  }
  const lines = verified.problems
    .slice(0, eventLineProblemsShown)
    .map((problem) => `Event line ${problem.line} BROKEN: ${problem.kind}: ${terminalText(problem.detail)}.`);
  if (verified.problemCount > lines.length) lines.push(`  and ${verified.problemCount - lines.length} more.`);
  lines.push(`Event lines broken: ${verified.problemCount} of ${verified.checked} are not what the chain vouches for.`);
  return lines;
}

async function readBounded(file: string, bytesMax: number): Promise<string> {
  try {
    const { size } = await stat(file);
    if (size > bytesMax) throw new Error(`it is ${size} bytes, more than the ${bytesMax} allowed`);
    return await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new CliFailure(`Cannot read ${file}: ${reason}`, { cause: error });
  }
}

export async function readKeySet(file: string): Promise<KeySet> {
  const value = parseJsonFile(await readBounded(file, jwksFileBytesMax), file, jwksFileBytesMax);
  try {
    return parseJwks(value);
  } catch (error) {
    if (error instanceof ValidationError) throw new CliFailure(`${file} is not a usable JWK Set: ${error.message}`);
    throw error;
  }
}

function describeReceipt(verified: ReceiptVerification, jwksFile: string | undefined): string {
  const what =
    `${terminalText(verified.artifactType ?? "?")} receipt ${terminalText(verified.evidenceId ?? "")}`.trim();
  if (!verified.ok) {
    return `Receipt broken: ${verified.problem?.kind}: ${terminalText(verified.problem?.detail ?? "")} (${what}).`;
  }
  if (verified.disposition === "key_set") {
    return `Receipt whole: ${what}, signed by key "${terminalText(verified.keyId ?? "")}" of ${terminalText(jwksFile ?? "")}.`;
  }
  return `Receipt whole: ${what}, signed by the key it names (${verified.signerPublicKeyHex}); no --jwks, so not checked against a key set.`;
}

function describeReceipts(receipts: { checked: number; problems: ReceiptProblem[] }): string[] {
  if (receipts.checked === 0) return [];
  if (receipts.problems.length === 0) return [`Receipts whole: ${receipts.checked} checked.`];
  return receipts.problems.map((problem) => {
    const where = problem.tenant === undefined ? "" : ` (${terminalText(problem.tenant)} seq ${problem.seq})`;
    return `Receipt ${problem.index + 1} of ${receipts.checked} BROKEN${where}: ${problem.kind}: ${terminalText(problem.detail)}.`;
  });
}

function describeChain(verified: ChainVerification): string[] {
  const lines: string[] = [];
  if (verified.tenants.length === 0) {
    return ["The export holds no chain records or checkpoints: nothing in it is vouched for."];
  }
  for (const tenant of verified.tenants) {
    const first = verified.problems.find((problem) => problem.tenant === tenant.tenant);
    const name = terminalText(tenant.tenant);
    if (first) {
      lines.push(`Tenant ${name}: BROKEN at seq ${first.seq}: ${first.kind}: ${terminalText(first.detail)}.`);
      for (const problem of verified.problems.filter((p) => p.tenant === tenant.tenant && p !== first)) {
        lines.push(`  also at seq ${problem.seq}: ${problem.kind}: ${terminalText(problem.detail)}`);
      }
      continue;
    }
    const signed = verified.signaturesChecked
      ? `signed through seq ${tenant.signedThroughSeq}, ${tenant.unsignedTail} record(s) after the last checkpoint`
      : "signatures not checked (no --jwks)";
    const trimmed = tenant.trimmedThroughSeq > 0 ? `, starts after seq ${tenant.trimmedThroughSeq} (retention)` : "";
    lines.push(
      `Tenant ${name}: whole, seq ${tenant.firstSeq}-${tenant.lastSeq} (${tenant.records} record(s), ${tenant.checkpoints} checkpoint(s))${trimmed}, ${signed}.`,
    );
  }
  lines.push(verified.ok ? "Chain whole." : "Chain broken.");
  return lines;
}
