import { TollgateError, ValidationError } from "../core/errors.js";
import { type Command, commandHelp, parseCommandArgs } from "./command.js";
import { audit } from "./commands/audit.js";
import { auditReceipt } from "./commands/audit-receipt.js";
import { auditVerify } from "./commands/audit-verify.js";
import { balance } from "./commands/balance.js";
import { budgetLs, budgetRm, budgetSet } from "./commands/budget.js";
import { init } from "./commands/init.js";
import { keysGenerate } from "./commands/keys.js";
import { policyApply, policyCheck, policyDiff } from "./commands/policy.js";
import { report } from "./commands/report.js";
import { toolsCheck } from "./commands/tools.js";
import { exitFailure, exitOk, exitUsage, UsageError } from "./errors.js";
import { type CliIo, writeLine } from "./io.js";
import { auditFileOption, policySourceOption, redisOptions } from "./options.js";

export const commands: readonly Command[] = [
  init,
  budgetSet,
  budgetRm,
  budgetLs,
  balance,
  policyCheck,
  policyDiff,
  policyApply,
  toolsCheck,
  audit,
  auditVerify,
  auditReceipt,
  keysGenerate,
  report,
];

const sharedOptions = { ...redisOptions, ...policySourceOption, ...auditFileOption };
const groups = ["budget", "policy", "tools", "keys"];

export function mainHelp(): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    "tollgate - runtime permissions for agents: budgets, decisions and the audit log, from the command line",
    "",
    "Usage: tollgate <command> [options]",
    "",
    "Commands:",
    ...commands.map((command) => `  ${command.name.padEnd(width + 2)}${command.summary}`),
    "",
    "Where the data comes from:",
    "  --redis URL (or $TOLLGATE_REDIS_URL)  the live Redis store",
    "  --policy FILE                         a read-only view of what a policy file grants (ls, balance, diff)",
    "  --from FILE                           an audit export, for audit and report",
    "",
    'Run "tollgate <command> --help" for the options of a command.',
    "Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.",
    "",
  ].join("\n");
}

function groupHelp(group: string): string {
  const members = commands.filter((command) => command.name.startsWith(`${group} `));
  return [
    `tollgate ${group} - ${members.map((command) => command.name.split(" ")[1]).join(" | ")}`,
    "",
    ...members.map((command) => `  tollgate ${command.name.padEnd(14)}${command.summary}`),
    "",
    `Run "tollgate ${group} <command> --help" for its options.`,
    "",
  ].join("\n");
}

/** Runs one command line; returns the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const args = [...argv];
  let command: Command | undefined;
  try {
    if (args.length === 0 || args[0] === "--help" || args[0] === "-h" || args[0] === "help") {
      io.stdout.write(mainHelp());
      return args.length === 0 ? exitUsage : exitOk;
    }
    if (args[0] === "--version") {
      writeLine(io.stdout, "tollgate 0.1.0");
      return exitOk;
    }
    const first = args.shift() as string;
    if (groups.includes(first)) {
      const sub = args[0];
      if (sub === undefined || sub === "--help" || sub === "-h") {
        io.stdout.write(groupHelp(first));
        return sub === undefined ? exitUsage : exitOk;
      }
      command = commands.find((candidate) => candidate.name === `${first} ${sub}`);
      if (!command) throw new UsageError(`unknown command "${first} ${sub}"`, first);
      args.shift();
    } else {
      // A command that also has subcommands: `tollgate audit` and `tollgate audit verify`.
      const nested = args[0] === undefined ? undefined : commands.find((c) => c.name === `${first} ${args[0]}`);
      if (nested) args.shift();
      command = nested ?? commands.find((candidate) => candidate.name === first);
      if (!command) throw new UsageError(`unknown command "${first}"${suggestion(first)}`);
    }
    const { options, positionals } = parseCommandArgs(command, args);
    if (options.help) {
      io.stdout.write(commandHelp(command, sharedOptions));
      return exitOk;
    }
    return await command.run({ io, options, positionals, command });
  } catch (error) {
    return reportError(io, error, command);
  }
}

function suggestion(word: string): string {
  const close = commands.find((command) => command.name.split(" ")[0].startsWith(word.slice(0, 3)));
  return close ? ` (did you mean "${close.name.split(" ")[0]}"?)` : "";
}

function reportError(io: CliIo, error: unknown, command: Command | undefined): number {
  if (error instanceof UsageError) {
    const where = error.command || command?.name;
    writeLine(io.stderr, `tollgate: ${error.message}`);
    writeLine(
      io.stderr,
      where ? `Run "tollgate ${where} --help" for usage.` : 'Run "tollgate --help" for the commands.',
    );
    return exitUsage;
  }
  if (error instanceof ValidationError) {
    // A value given on the command line was refused by the ledger before anything changed.
    for (const issue of error.issues) writeLine(io.stderr, `tollgate: --${issue.path || "input"}: ${issue.message}`);
    if (command) writeLine(io.stderr, `Nothing was changed. Run "tollgate ${command.name} --help" for usage.`);
    return exitUsage;
  }
  writeLine(io.stderr, `tollgate: ${describeError(error)}`);
  if (io.env.TOLLGATE_DEBUG && error instanceof Error && error.stack) writeLine(io.stderr, error.stack);
  return exitFailure;
}

/** Library errors as messages an operator can act on. */
function describeError(error: unknown): string {
  if (error instanceof TollgateError && error.code === "POLICY_INVALID") {
    return `${error.message}\nFix the file, then check it with: tollgate policy check FILE`;
  }
  if (error instanceof TollgateError && error.code === "LEDGER_UNAVAILABLE") {
    return `${error.message}. Check that the store is running and reachable, then retry.`;
  }
  return (error as Error)?.message ?? String(error);
}
