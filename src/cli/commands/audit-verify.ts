import { readFile, stat } from "node:fs/promises";
import { ValidationError } from "../../core/errors.js";
import { type ChainVerification, verifyChain } from "../../evidence/chain.js";
import { parseChainExport } from "../../evidence/export.js";
import { type KeySet, parseJwks } from "../../evidence/keys.js";
import { type ReceiptVerification, receiptBytesMax, verifyReceipt } from "../../evidence/receipt.js";
import { auditFileBytesMax } from "../audit-file.js";
import type { Command } from "../command.js";
import { CliFailure, exitFailure, exitOk, UsageError } from "../errors.js";
import { terminalText, writeJsonLine, writeLine } from "../io.js";
import { userPath } from "../options.js";
import { jwksFileBytesMax, parseJsonFile } from "./keys.js";

export const auditVerify: Command = {
  name: "audit verify",
  summary: "check evidence: a single receipt, or a chain export with its signed checkpoints",
  details: [
    "--receipt checks one receipt on its own (tollgate's or any Cycles evidence envelope): its evidence_id,",
    "its signature and, with --jwks, that a key of the set signed it.",
    "--from checks a chain export: every hash and link, continuity from seq 1 or from a kept checkpoint, and",
    "every checkpoint's signature against --jwks. It names the first broken sequence number and what broke:",
    "edited, deleted, inserted, reordered, signature invalid, unknown key.",
    "Exit 0: whole. Exit 1: broken (or a file could not be read).",
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
    json: { type: "boolean", description: "the verification as one JSON line" },
  },
  examples: [
    "tollgate audit verify --receipt r.json --jwks keys/jwks.json",
    "tollgate audit verify --from chain.jsonl --jwks keys/jwks.json",
  ],
  async run({ options, io, command }) {
    const receipt = typeof options.receipt === "string" ? options.receipt : undefined;
    const from = typeof options.from === "string" ? options.from : undefined;
    if ((receipt === undefined) === (from === undefined)) {
      throw new UsageError("give one of --receipt FILE or --from FILE", command.name);
    }
    const keys = typeof options.jwks === "string" ? await readKeySet(userPath(io, options.jwks)) : undefined;
    if (receipt !== undefined) {
      const value = parseJsonFile(await readBounded(userPath(io, receipt), receiptBytesMax), receipt, receiptBytesMax);
      const verified = verifyReceipt(value, keys);
      if (options.json) writeJsonLine(io.stdout, verified);
      else writeLine(io.stdout, describeReceipt(verified, typeof options.jwks === "string" ? options.jwks : undefined));
      return verified.ok ? exitOk : exitFailure;
    }
    const file = from as string;
    let exported: ReturnType<typeof parseChainExport>;
    try {
      exported = parseChainExport(await readBounded(userPath(io, file), auditFileBytesMax));
    } catch (error) {
      if (error instanceof ValidationError) throw new CliFailure(`${file}: ${error.message}`, { cause: error });
      throw error;
    }
    const verified = verifyChain(exported.records, exported.checkpoints, keys);
    if (options.json) writeJsonLine(io.stdout, verified);
    else for (const line of describeChain(verified)) writeLine(io.stdout, line);
    return verified.ok ? exitOk : exitFailure;
  },
};

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

async function readKeySet(file: string): Promise<KeySet> {
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

function describeChain(verified: ChainVerification): string[] {
  const lines: string[] = [];
  if (verified.tenants.length === 0) lines.push("The export holds no chain records or checkpoints.");
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
    lines.push(
      `Tenant ${name}: whole, seq ${tenant.firstSeq}-${tenant.lastSeq} (${tenant.records} record(s), ${tenant.checkpoints} checkpoint(s)), ${signed}.`,
    );
  }
  lines.push(verified.ok ? "Chain whole." : "Chain broken.");
  return lines;
}
