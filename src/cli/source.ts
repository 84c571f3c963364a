import { isAbsolute, resolve } from "node:path";
import { TollgateError } from "../core/errors.js";
import { PolicyError } from "../core/policy.js";
import { createLedger } from "../ledger/create-ledger.js";
import type { Ledger } from "../ledger/ledger.js";
import type { OptionSpec, ParsedOptions } from "./command.js";
import { CliFailure, UsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { parseAmountFlag, redactUrl } from "./values.js";

export const redisUrlEnv = "TOLLGATE_REDIS_URL";
export const storeTimeoutMsDefault = 5_000;

export const redisOptions: Record<string, OptionSpec> = {
  redis: { type: "string", valueName: "URL", description: `the live Redis store (default: $${redisUrlEnv})` },
  "redis-prefix": { type: "string", valueName: "PREFIX", description: "key prefix of the Redis store" },
  "timeout-ms": {
    type: "string",
    valueName: "MS",
    description: `give up on an unreachable store after this long (default ${storeTimeoutMsDefault})`,
  },
};

export const policySourceOption: Record<string, OptionSpec> = {
  policy: {
    type: "string",
    valueName: "FILE",
    description: "a read-only view of the budgets a policy file grants, instead of a live store",
  },
};

export const auditFileOption: Record<string, OptionSpec> = {
  from: {
    type: "string",
    valueName: "FILE",
    description: "read an audit export (JSON lines, as written by `tollgate audit --out`) instead of a store",
  },
};

export interface OpenedLedger {
  ledger: Ledger;
  /** "redis redis://host:6379" or "policy file x.yaml", for messages. */
  label: string;
  readOnly: boolean;
}

/** The Redis URL from --redis or the environment, unless another source was chosen. */
export function redisUrlOf(options: ParsedOptions, io: CliIo): string | undefined {
  if (typeof options.redis === "string") return options.redis;
  if (options.policy !== undefined || options.from !== undefined) return undefined;
  const fromEnv = io.env[redisUrlEnv];
  return fromEnv && fromEnv.length > 0 ? fromEnv : undefined;
}

/** The path to open: as the user wrote it when it resolves the same (so messages show it), else made absolute. */
export function userPath(io: CliIo, file: string): string {
  return isAbsolute(file) || resolve(io.cwd) === process.cwd() ? file : resolve(io.cwd, file);
}

/**
 * Opens the ledger a command talks to: the live Redis store, or a read-only in-memory view of a
 * policy file. Waits until the store answers, so an unreachable Redis fails here with a clear
 * message instead of hanging the command.
 */
export async function openLedger(
  io: CliIo,
  options: ParsedOptions,
  command: string,
  access: { write: boolean },
): Promise<OpenedLedger> {
  const redisUrl = redisUrlOf(options, io);
  const policyFile = typeof options.policy === "string" ? options.policy : undefined;
  if (redisUrl !== undefined && policyFile !== undefined) {
    throw new UsageError("give either --redis (a live store) or --policy (a file), not both", command);
  }
  if (policyFile !== undefined) {
    if (access.write) {
      throw new UsageError(
        `--policy gives a read-only view; to change budgets use the live store (--redis URL or $${redisUrlEnv}), or edit the policy file and run "tollgate policy apply FILE"`,
        command,
      );
    }
    return { ledger: await openPolicyView(io, policyFile), label: `policy file ${policyFile}`, readOnly: true };
  }
  if (redisUrl === undefined) {
    throw new UsageError(
      `no ledger to talk to: give --redis URL (or set $${redisUrlEnv}) for the live store${access.write ? "" : ", or --policy FILE for a read-only view of a policy file"}`,
      command,
    );
  }
  const timeoutMs = timeoutMsOf(options, command);
  const ledger = createLedger({
    redis: redisUrl,
    redisPrefix: typeof options["redis-prefix"] === "string" ? options["redis-prefix"] : undefined,
    sweepIntervalMs: 0,
    storeTimeoutMs: timeoutMs,
  });
  try {
    const store = await withTimeout(ledger.store, timeoutMs);
    await withTimeout(store.now(), timeoutMs);
  } catch (error) {
    void ledger.close().catch(() => undefined);
    throw new CliFailure(
      `Cannot reach the Redis store at ${redactUrl(redisUrl)}: ${(error as Error)?.message ?? String(error)}. Check that Redis is running and that --redis (or $${redisUrlEnv}) points at it.`,
      { cause: error },
    );
  }
  return { ledger, label: `redis ${redactUrl(redisUrl)}`, readOnly: false };
}

/** An in-memory ledger holding exactly what the policy file grants. */
export async function openPolicyView(io: CliIo, file: string): Promise<Ledger> {
  const ledger = createLedger({ policy: userPath(io, file), sweepIntervalMs: 0 });
  await ledger.store;
  return ledger;
}

export function timeoutMsOf(options: ParsedOptions, command: string): number {
  const text = options["timeout-ms"];
  if (typeof text !== "string") return storeTimeoutMsDefault;
  const value = parseAmountFlag("timeout-ms", text, command);
  if (value === 0) throw new UsageError("--timeout-ms must be at least 1", command);
  return value;
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Closes without letting a stuck connection keep the process alive. */
export async function closeQuietly(ledger: Ledger, timeoutMs = 2_000): Promise<void> {
  await withTimeout(ledger.close(), timeoutMs).catch(() => undefined);
}

/** Turns library errors into messages an operator can act on. */
export function describeError(error: unknown): string {
  if (error instanceof PolicyError)
    return `${error.message}\nFix the file, then check it with: tollgate policy check FILE`;
  if (error instanceof TollgateError && error.code === "LEDGER_UNAVAILABLE") {
    return `${error.message}. Check that the store is running and reachable, then retry.`;
  }
  return (error as Error)?.message ?? String(error);
}
