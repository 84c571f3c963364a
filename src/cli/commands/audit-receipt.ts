import { writeFile } from "node:fs/promises";
import { ValidationError } from "../../core/errors.js";
import { tenantScopeOf } from "../../core/scope.js";
import type { ChainRecord } from "../../evidence/chain.js";
import { verifyChain } from "../../evidence/chain.js";
import { serverIdDefault, serverIdLengthMax } from "../../evidence/options.js";
import type { CyclesEnvelope } from "../../evidence/receipt.js";
import { type ReceiptSigner, receiptOfStoredRecord } from "../../evidence/stored-receipt.js";
import type { Command } from "../command.js";
import { CliFailure, exitOk, UsageError } from "../errors.js";
import { terminalText, writeLine } from "../io.js";
import { redisOptions, userPath } from "../options.js";
import { parseAmountFlag, parseScopeFlag } from "../values.js";
import { readChainExportFile, readKeySet } from "./audit-verify.js";
import { readSigningKey } from "./keys.js";

export const receiptOptions = {
  key: {
    type: "string",
    valueName: "FILE",
    description: "the Ed25519 private key that signs (a .pem from tollgate keys generate)",
  },
  "server-id": {
    type: "string",
    valueName: "URI",
    description: `names this deployment in the receipt's server_id (default ${serverIdDefault})`,
  },
} as const;

/** --key and --server-id as a receipt signer. */
export async function signerOf(
  options: Record<string, string | boolean | undefined>,
  io: Parameters<Command["run"]>[0]["io"],
  command: string,
): Promise<ReceiptSigner> {
  if (typeof options.key !== "string") throw new UsageError("--key FILE is required to sign receipts", command);
  const serverId = typeof options["server-id"] === "string" ? options["server-id"] : serverIdDefault;
  if (serverId.length === 0 || serverId.length > serverIdLengthMax) {
    throw new UsageError(`--server-id must have 1 to ${serverIdLengthMax} characters`, command);
  }
  return { signingKey: await readSigningKey(userPath(io, options.key)), serverId };
}

export const auditReceipt: Command = {
  name: "audit receipt",
  summary: "issue a signed receipt (Cycles evidence envelope) for one chained audit event",
  details: [
    "Finds the event at --seq of the --scope's tenant chain (the auditSeq of a reserve, commit or release",
    "answer), checks it against its hash, and signs a receipt that verifies alone:",
    "tollgate audit verify --receipt FILE --jwks JWKS. From --from, the export's chain must verify first",
    "(with --jwks, its signatures too): a receipt never vouches for a broken chain.",
  ].join("\n"),
  options: {
    scope: { type: "string", valueName: "SCOPE", description: "the tenant (tenant:acme)", required: true },
    seq: { type: "string", valueName: "N", description: "the event's seq in the tenant's chain", required: true },
    ...receiptOptions,
    out: { type: "string", valueName: "FILE", description: "write the receipt here (default: stdout)" },
    from: {
      type: "string",
      valueName: "FILE",
      description: "a chain export (tollgate audit --out) instead of a store",
    },
    jwks: { type: "string", valueName: "FILE", description: "with --from: check the export's signatures first" },
    ...redisOptions,
  },
  examples: [
    "tollgate audit receipt --scope tenant:acme --seq 42 --key keys/k1.pem --out r.json --redis redis://127.0.0.1:6379",
    "tollgate audit receipt --scope tenant:acme --seq 42 --key keys/k1.pem --from chain.jsonl --jwks keys/jwks.json",
  ],
  async run({ options, io, command }) {
    const tenant = tenantScopeOf(parseScopeFlag("scope", options.scope as string, command.name));
    const seq = parseAmountFlag("seq", options.seq as string, command.name);
    if (seq < 1) throw new UsageError("--seq must be at least 1", command.name);
    if (typeof options.jwks === "string" && typeof options.from !== "string") {
      throw new UsageError("--jwks goes with --from", command.name);
    }
    const signer = await signerOf(options, io, command.name);
    const record =
      typeof options.from === "string"
        ? await recordOfExport(
            io,
            options.from,
            typeof options.jwks === "string" ? options.jwks : undefined,
            tenant,
            seq,
          )
        : await recordOfStore(io, options, command.name, tenant, seq);
    let receipt: CyclesEnvelope;
    try {
      receipt = receiptOfStoredRecord(signer, { tenant, seq }, record);
    } catch (error) {
      if (error instanceof ValidationError) throw new CliFailure(error.message, { cause: error });
      throw error;
    }
    const text = `${JSON.stringify(receipt, null, 2)}\n`;
    if (typeof options.out !== "string") {
      io.stdout.write(text);
      return exitOk;
    }
    await writeFile(userPath(io, options.out), text);
    writeLine(
      io.stdout,
      `Wrote the ${receipt.artifact_type} receipt ${receipt.evidence_id} for ${terminalText(tenant)} seq ${seq} to ${terminalText(options.out)}. Check it with: tollgate audit verify --receipt ${terminalText(options.out)} --jwks JWKS`,
    );
    return exitOk;
  },
};

async function recordOfExport(
  io: Parameters<Command["run"]>[0]["io"],
  file: string,
  jwks: string | undefined,
  tenant: string,
  seq: number,
): Promise<ChainRecord | undefined> {
  const exported = await readChainExportFile(io, file);
  const records = exported.records.filter((record) => record.tenant === tenant);
  const checkpoints = exported.checkpoints.filter((checkpoint) => checkpoint.tenant === tenant);
  const verified = verifyChain(
    records,
    checkpoints,
    jwks === undefined ? undefined : await readKeySet(userPath(io, jwks)),
  );
  const broken = verified.problems[0];
  if (broken && broken.seq <= seq) {
    throw new CliFailure(
      `${file}: the chain of ${terminalText(tenant)} is broken at seq ${broken.seq} (${broken.kind}): no receipt is issued for what follows it`,
    );
  }
  return records.find((record) => record.seq === seq);
}

async function recordOfStore(
  io: Parameters<Command["run"]>[0]["io"],
  options: Record<string, string | boolean | undefined>,
  command: string,
  tenant: string,
  seq: number,
): Promise<ChainRecord | undefined> {
  const { openLedger, closeQuietly } = await import("../source.js");
  const { ledger, label } = await openLedger(io, options, command, { write: false });
  try {
    const store = await ledger.store;
    if (typeof store.chainRecord !== "function") throw new CliFailure(`The store at ${label} keeps no audit chain.`);
    try {
      return await store.chainRecord({ tenant, seq });
    } catch (error) {
      throw new CliFailure(`Cannot read the audit chain from ${label}: ${(error as Error)?.message ?? String(error)}`, {
        cause: error,
      });
    }
  } finally {
    await closeQuietly(ledger);
  }
}
