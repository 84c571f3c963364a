import { isAbsolute, resolve } from "node:path";
import type { OptionSpec, ParsedOptions } from "./command.js";
import { UsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { parseAmountFlag } from "./values.js";

/**
 * The options that say where data comes from, and their light helpers. Kept apart from source.ts
 * so --help and usage errors answer without loading the ledger.
 */

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

export function timeoutMsOf(options: ParsedOptions, command: string): number {
  const text = options["timeout-ms"];
  if (typeof text !== "string") return storeTimeoutMsDefault;
  const value = parseAmountFlag("timeout-ms", text, command);
  if (value === 0) throw new UsageError("--timeout-ms must be at least 1", command);
  return value;
}
