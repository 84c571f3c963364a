import { createLedger } from "../ledger/create-ledger.js";
import type { Ledger } from "../ledger/ledger.js";
import type { ParsedOptions } from "./command.js";
import { CliFailure, UsageError } from "./errors.js";
import type { CliIo } from "./io.js";
import { redisUrlEnv, redisUrlOf, timeoutMsOf, userPath } from "./options.js";
import { redactUrl } from "./values.js";

export interface OpenedLedger {
  ledger: Ledger;
  /** "redis redis://host:6379" or "policy file x.yaml", for messages. */
  label: string;
  readOnly: boolean;
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
