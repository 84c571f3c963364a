import { ValidationError } from "../core/errors.js";
import { parseScopeId } from "../core/scope.js";
import { UsageError } from "./errors.js";

/** A non-negative safe integer from a flag; anything else is a usage error naming the flag. */
export function parseAmountFlag(flag: string, text: string, command: string): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`--${flag} must be a whole number (got "${text}")`, command);
  const value = Number(text);
  if (value < 0) throw new UsageError(`--${flag} must not be negative (got ${text})`, command);
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${flag} is too large (got ${text})`, command);
  return value;
}

export function parseEnumFlag<T extends string>(flag: string, text: string, allowed: readonly T[], command: string): T {
  if ((allowed as readonly string[]).includes(text)) return text as T;
  throw new UsageError(`--${flag} must be one of ${allowed.join(", ")} (got "${text}")`, command);
}

const relativeUnitsMs: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A point in time from a flag: an ISO date (`2026-11-24T20:00:00Z`), epoch milliseconds, or a
 * duration ago (`90s`, `15m`, `2h`, `7d`).
 */
export function parseTimeFlag(flag: string, text: string, nowMs: number, command: string): number {
  const relative = /^(\d+)([smhd])$/.exec(text);
  if (relative) return nowMs - Number(relative[1]) * relativeUnitsMs[relative[2]];
  if (/^\d{10,}$/.test(text)) return Number(text);
  const parsed = Date.parse(text);
  if (Number.isNaN(parsed)) {
    throw new UsageError(
      `--${flag} must be an ISO time (2026-11-24T20:00:00Z), epoch ms, or a duration ago (15m, 2h, 7d); got "${text}"`,
      command,
    );
  }
  return parsed;
}

/** A URL with its password hidden, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^@/]*)@/, "//***@");
  }
}

/** A scope id from a flag, checked before any store is contacted. */
export function parseScopeFlag(flag: string, text: string, command: string): string {
  try {
    parseScopeId(text, `--${flag}`);
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new UsageError(`--${flag}: ${error.issues.map((issue) => issue.message).join("; ")}`, command);
    }
    throw error;
  }
  return text;
}
