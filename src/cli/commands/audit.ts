import { open } from "node:fs/promises";
import type { Decision } from "../../core/decision.js";
import { auditQueryLimitMax } from "../../core/limits.js";
import { tenantScopeOf } from "../../core/scope.js";
import type { JsonObject } from "../../evidence/canonical.js";
import { type ChainProblem, verifyChain } from "../../evidence/chain.js";
import type { ChainExport } from "../../evidence/export.js";
import { hasArtifactType } from "../../evidence/receipt.js";
import { type ReceiptSigner, receiptOfStoredRecord } from "../../evidence/stored-receipt.js";
import type { Ledger } from "../../ledger/ledger.js";
import { filterAuditEvents } from "../../store/audit-filter.js";
import type { AuditEvent, AuditLookup } from "../../store/types.js";
import { type AuditExport, parseAuditExport, readAuditExport, writeAuditExport } from "../audit-file.js";
import { chainSourceOf } from "../chain-source.js";
import type { Command, CommandContext } from "../command.js";
import { exitOk, UsageError } from "../errors.js";
import { formatEvent, percent } from "../format.js";
import { type CliIo, terminalText, writeJsonLine, writeLine } from "../io.js";
import { auditFileOption, redisOptions, userPath } from "../options.js";
import { parseAmountFlag, parseEnumFlag, parseScopeFlag, parseTimeFlag } from "../values.js";
import { receiptOptions, signerOf } from "./audit-receipt.js";

const decisions: readonly Decision[] = ["ALLOW", "ALLOW_WITH_CAPS", "DENY"];
export const auditLimitDefault = 1_000;
export const followIntervalMsDefault = 500;

export const audit: Command = {
  name: "audit",
  summary: "read the audit log: every decision and settlement, filtered; --follow to watch live",
  details:
    "--would-deny lists the decisions enforcement would deny (real denials, and in shadow mode the\ndenials that were only recorded) and prints the denial rate: what a policy would cost before it is enforced.",
  options: {
    scope: { type: "string", valueName: "SCOPE", description: "events at this scope or beneath it" },
    decision: {
      type: "string",
      valueName: "DECISION",
      description: `${decisions.join(" | ")} (shadow events match what they would have been too)`,
    },
    tool: { type: "string", valueName: "NAME", description: "events of this tool (action name)" },
    type: {
      type: "string",
      valueName: "TYPE",
      description: "reserve | commit | release | expire | extend | budget.set | budget.remove | debt.repay",
    },
    since: { type: "string", valueName: "TIME", description: "from this time: ISO, epoch ms, or ago (15m, 2h, 7d)" },
    until: { type: "string", valueName: "TIME", description: "up to this time (same forms)" },
    limit: { type: "string", valueName: "N", description: `the newest N events (default ${auditLimitDefault})` },
    "would-deny": { type: "boolean", description: "only what enforcement would deny, with the denial rate" },
    follow: { type: "boolean", description: "keep watching and print new events as they come (Ctrl-C to stop)" },
    "interval-ms": {
      type: "string",
      valueName: "MS",
      description: `how often --follow looks (default ${followIntervalMsDefault})`,
    },
    json: { type: "boolean", description: "one JSON event per line (a valid audit export)" },
    out: {
      type: "string",
      valueName: "FILE",
      description:
        "write an audit export (budgets + events, and the audit chain when the store keeps one) to FILE for `tollgate report --from` and `tollgate audit verify --from`",
    },
    key: {
      ...receiptOptions.key,
      description: "with --out: also a signed receipt for every reserve, commit and release in the chain (.pem)",
    },
    "server-id": receiptOptions["server-id"],
    ...redisOptions,
    ...auditFileOption,
  },
  examples: [
    "tollgate audit --scope tenant:starter-co --decision DENY --since 1h --redis redis://127.0.0.1:6379",
    "tollgate audit --follow --redis redis://127.0.0.1:6379",
    "tollgate audit --would-deny --since 1d --redis redis://127.0.0.1:6379",
    "tollgate audit --out run.jsonl --redis redis://127.0.0.1:6379",
    "tollgate audit --out run.jsonl --key keys/k1.pem --redis redis://127.0.0.1:6379",
    "tollgate audit --from run.jsonl --tool send_email --json",
  ],
  async run(context) {
    const query = auditQueryOf(context);
    const { io, options } = context;
    const wouldDeny = options["would-deny"] === true;
    const printer = new EventPrinter(io, options.json === true, wouldDeny);
    const from = typeof options.from === "string" ? userPath(io, options.from) : undefined;
    if (typeof options.out === "string" && options.follow) {
      throw new UsageError("--out writes a snapshot; it cannot be combined with --follow", context.command.name);
    }
    if ((options.key !== undefined || options["server-id"] !== undefined) && typeof options.out !== "string") {
      throw new UsageError("--key and --server-id go with --out", context.command.name);
    }
    const signer = typeof options.key === "string" ? await signerOf(options, io, context.command.name) : undefined;
    if (from !== undefined) {
      if (signer)
        throw new UsageError("--key signs what a store holds: give --redis, not --from", context.command.name);
      const exported = await readAuditExport(from);
      const events = filterAuditEvents(exported.events, query);
      if (typeof options.out === "string") return writeExport(io, options.out, { budgets: exported.budgets, events });
      printer.print(events);
      if (options.follow) await followFile(io, from, query, printer, intervalMsOf(context));
      printer.summary();
      return exitOk;
    }
    const { openLedger, closeQuietly } = await import("../source.js");
    const { ledger } = await openLedger(io, options, context.command.name, { write: false });
    try {
      if (typeof options.out === "string") {
        const events = await ledger.audit({ ...query, limit: query.limit ?? auditQueryLimitMax });
        const budgets = await ledger.listBudgets(
          query.scope ? { scope: tenantScopeOf(query.scope) } : { allTenants: true },
        );
        const chain = await chainOf(await ledger.store, query.scope);
        if (signer && chain) {
          const { receipts, withheld } = receiptsOf(chain, signer);
          chain.receipts = receipts;
          for (const problem of withheld) {
            writeLine(
              io.stderr,
              `No receipts for ${terminalText(problem.tenant)} from seq ${problem.seq}: its chain is broken there (${problem.kind}); run tollgate audit verify --from ${terminalText(options.out)}.`,
            );
          }
        }
        return writeExport(io, options.out, { budgets, events, chain });
      }
      printer.print(await ledger.audit(query));
      if (options.follow) await followLedger(io, ledger, query, printer, intervalMsOf(context));
      printer.summary();
      return exitOk;
    } finally {
      await closeQuietly(ledger);
    }
  },
};

function auditQueryOf({ options, command }: CommandContext): AuditLookup {
  const nowMs = Date.now();
  const query: AuditLookup = { limit: auditLimitDefault };
  if (typeof options.scope === "string") query.scope = parseScopeFlag("scope", options.scope, command.name);
  if (typeof options.decision === "string")
    query.decision = parseEnumFlag("decision", options.decision, decisions, command.name);
  if (typeof options.tool === "string") query.action = options.tool;
  if (typeof options.type === "string") query.type = options.type;
  if (typeof options.since === "string") query.sinceMs = parseTimeFlag("since", options.since, nowMs, command.name);
  if (typeof options.until === "string") query.untilMs = parseTimeFlag("until", options.until, nowMs, command.name);
  if (typeof options.limit === "string") {
    const limit = parseAmountFlag("limit", options.limit, command.name);
    if (limit < 1 || limit > auditQueryLimitMax)
      throw new UsageError(`--limit must be from 1 to ${auditQueryLimitMax}`, command.name);
    query.limit = limit;
  }
  return query;
}

function intervalMsOf({ options, command }: CommandContext): number {
  if (typeof options["interval-ms"] !== "string") return followIntervalMsDefault;
  const value = parseAmountFlag("interval-ms", options["interval-ms"], command.name);
  if (value < 50) throw new UsageError("--interval-ms must be at least 50", command.name);
  return value;
}

async function writeExport(io: CliIo, file: string, exported: AuditExport): Promise<number> {
  await writeAuditExport(userPath(io, file), exported);
  const receipts = exported.chain?.receipts ? `, ${exported.chain.receipts.length} receipt(s)` : "";
  const chain = exported.chain
    ? ` and the audit chain (${exported.chain.records.length} record(s), ${exported.chain.checkpoints.length} checkpoint(s)${receipts}; check it with: tollgate audit verify --from ${file} --jwks JWKS)`
    : "";
  writeLine(
    io.stdout,
    `Wrote ${exported.events.length} event(s) and ${exported.budgets.length} budget(s)${chain} to ${file}. Make a report with: tollgate report --from ${file} --out report.html`,
  );
  return exitOk;
}

/**
 * The store's audit chain of the tenant (or of every tenant), when it keeps one: the events written
 * but not linked yet are linked first, so the export covers every event it holds.
 */
async function chainOf(store: unknown, scope: string | undefined): Promise<ChainExport | undefined> {
  const source = chainSourceOf(store);
  if (!source) return undefined;
  const query = scope === undefined ? {} : { tenant: tenantScopeOf(scope) };
  await source.linkChains(query);
  const chain = await source.chainExport(query);
  return chain.records.length > 0 || chain.checkpoints.length > 0 ? chain : undefined;
}

/**
 * A signed receipt for each record of the chain that has a Cycles artifact type (reserve, commit,
 * release, expiry), up to the first record where the tenant's chain breaks: nothing after a break
 * is vouched for. Returns the receipts and, per broken tenant, the seq where they stop.
 */
function receiptsOf(chain: ChainExport, signer: ReceiptSigner): { receipts: JsonObject[]; withheld: ChainProblem[] } {
  const issuedAtMs = Date.now();
  const firstBroken = new Map<string, ChainProblem>();
  for (const problem of verifyChain(chain.records, chain.checkpoints, undefined).problems) {
    if (!firstBroken.has(problem.tenant)) firstBroken.set(problem.tenant, problem);
  }
  const receipts = chain.records
    .filter((record) => hasArtifactType(record.event.type))
    .filter((record) => record.seq < (firstBroken.get(record.tenant)?.seq ?? Number.POSITIVE_INFINITY))
    .map(
      (record) =>
        receiptOfStoredRecord(
          signer,
          { tenant: record.tenant, seq: record.seq },
          record,
          issuedAtMs,
        ) as unknown as JsonObject,
    );
  return { receipts, withheld: [...firstBroken.values()] };
}

/** True when enforcement denies (or would deny) the action this event decided. */
export function wouldDeny(event: AuditEvent): boolean {
  return event.type === "reserve" && (event.decision === "DENY" || event.shadow?.decision === "DENY");
}

/** Prints events as they arrive and keeps the counts for the would-deny summary. */
class EventPrinter {
  private decided = 0;
  private denied = 0;
  private readonly deniedByTool = new Map<string, { decided: number; denied: number }>();

  constructor(
    private readonly io: CliIo,
    private readonly json: boolean,
    private readonly onlyWouldDeny: boolean,
  ) {}

  print(events: readonly AuditEvent[]): void {
    for (const event of events) {
      if (this.onlyWouldDeny) {
        if (event.type !== "reserve") continue;
        this.count(event);
        if (!wouldDeny(event)) continue;
      }
      if (this.json) writeJsonLine(this.io.stdout, event);
      else writeLine(this.io.stdout, formatEvent(event));
    }
  }

  private count(event: AuditEvent): void {
    const tool = event.action?.name ?? "(unnamed)";
    const perTool = this.deniedByTool.get(tool) ?? { decided: 0, denied: 0 };
    perTool.decided++;
    this.decided++;
    if (wouldDeny(event)) {
      perTool.denied++;
      this.denied++;
    }
    this.deniedByTool.set(tool, perTool);
  }

  summary(): void {
    if (!this.onlyWouldDeny) return;
    // With --json the events own stdout; the summary goes to stderr so the output stays JSON lines.
    const stream = this.json ? this.io.stderr : this.io.stdout;
    writeLine(
      stream,
      `Would deny ${this.denied} of ${this.decided} decision(s) (${percent(this.denied, this.decided)}).`,
    );
    const tools = [...this.deniedByTool.entries()].sort(
      (a, b) => b[1].denied - a[1].denied || a[0].localeCompare(b[0]),
    );
    for (const [tool, counts] of tools) {
      writeLine(
        stream,
        `  ${terminalText(tool)}: ${counts.denied} of ${counts.decided} (${percent(counts.denied, counts.decided)})`,
      );
    }
  }
}

function sleepOrStop(io: CliIo, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const slept = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([slept, io.stopSignal.then(() => true)]).finally(() => clearTimeout(timer));
}

/**
 * Polls the store for events newer than the last seen. Sequence numbers are per tenant on a
 * distributed store, so events are told apart by tenant and seq, and looked up by time.
 */
async function followLedger(io: CliIo, ledger: Ledger, query: AuditLookup, printer: EventPrinter, intervalMs: number) {
  let watermarkMs = query.sinceMs ?? Date.now();
  const seen = new Set<string>();
  const keyOf = (event: AuditEvent) => `${tenantScopeOf(event.scope)}#${event.seq}`;
  for (const event of await ledger.audit({ ...query, sinceMs: watermarkMs, limit: auditQueryLimitMax })) {
    seen.add(keyOf(event));
  }
  announceFollowing(io, intervalMs);
  while (!(await sleepOrStop(io, intervalMs))) {
    const events = await ledger.audit({ ...query, sinceMs: watermarkMs, limit: auditQueryLimitMax });
    const fresh = events.filter((event) => !seen.has(keyOf(event)));
    printer.print(fresh);
    for (const event of fresh) seen.add(keyOf(event));
    const newest = events.reduce((max, event) => Math.max(max, event.atMs), watermarkMs);
    if (newest > watermarkMs) {
      watermarkMs = newest;
      // Only events at the watermark can come back; forget the rest so the set stays small.
      for (const event of events) if (event.atMs < watermarkMs) seen.delete(keyOf(event));
    }
  }
}

/** On stderr, so stdout stays pure events: says the watch has begun and how to end it. */
function announceFollowing(io: CliIo, intervalMs: number): void {
  writeLine(io.stderr, `Watching for new events every ${intervalMs} ms; press Ctrl-C to stop.`);
}

/** Tails an audit export that another process appends to (the demo, a log shipper). */
async function followFile(io: CliIo, file: string, query: AuditLookup, printer: EventPrinter, intervalMs: number) {
  const handle = await open(file, "r");
  try {
    // Start where the first read ended, and keep line numbers true to the file for messages.
    const initial = await handle.readFile();
    let offset = initial.length;
    let pending = "";
    let lineNumber = initial.toString("utf8").split("\n").length - 1;
    announceFollowing(io, intervalMs);
    while (!(await sleepOrStop(io, intervalMs))) {
      const size = (await handle.stat()).size;
      if (size < offset) {
        offset = 0; // truncated or replaced: start over
        pending = "";
      }
      if (size === offset) continue;
      const buffer = Buffer.alloc(size - offset);
      await handle.read(buffer, 0, buffer.length, offset);
      offset = size;
      const text = pending + buffer.toString("utf8");
      const end = text.lastIndexOf("\n");
      pending = text.slice(end + 1);
      const exported = parseAuditExport(text.slice(0, end + 1), file, lineNumber + 1);
      lineNumber += text.slice(0, end + 1).split("\n").length - 1;
      const { limit: _all, ...withoutLimit } = query;
      printer.print(filterAuditEvents(exported.events, { ...withoutLimit, limit: auditQueryLimitMax }));
    }
  } finally {
    await handle.close();
  }
}
