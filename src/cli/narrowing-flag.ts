import { ValidationError } from "../core/errors.js";
import type { NarrowingSetting } from "../core/narrowing.js";
import { resolveNarrowing } from "../core/narrowing.js";
import { UsageError } from "./errors.js";

export const NARROWING_PRESETS_HINT =
  'none | progressive | bands as JSON, e.g. \'[{"from":0,"disabledTiers":[]},{"from":0.9,"disabledTiers":["execution"]}]\'';

/** --narrowing: a preset name or a JSON list of bands, validated before anything is sent. */
export function parseNarrowingFlag(text: string, command: string): NarrowingSetting {
  if (text === "none" || text === "progressive") return text;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--narrowing must be ${NARROWING_PRESETS_HINT}`, command);
  }
  try {
    resolveNarrowing(value as NarrowingSetting, "--narrowing");
  } catch (error) {
    if (error instanceof ValidationError)
      throw new UsageError(error.issues.map((issue) => `${issue.path}: ${issue.message}`).join("; "), command);
    throw error;
  }
  return value as NarrowingSetting;
}
