import { ValidationError, type ValidationIssue } from "./errors.js";
import { isTier, TIERS, type Tier } from "./tiers.js";

/**
 * A narrowing band: from utilization `from` (inclusive, 0..1) up to the next band's `from`, the
 * listed tiers are disabled. Utilization is (spent + reserved + debt) / allocated.
 */
export interface Band {
  from: number;
  disabledTiers: Tier[];
}

export type NarrowingSetting = "none" | "progressive" | Band[];

/** The default progressive preset: external effects go first, then everything but reads, then all. */
export const progressiveBands: readonly Band[] = Object.freeze([
  { from: 0, disabledTiers: [] },
  { from: 0.5, disabledTiers: ["write-external", "mutation", "execution"] },
  { from: 0.8, disabledTiers: ["write-local", "write-external", "mutation", "execution"] },
  { from: 1, disabledTiers: [...TIERS] },
]) as readonly Band[];

export const bandsMax = 16;

/** Resolves a narrowing setting to a validated, sorted band list, or null for no narrowing. */
export function resolveNarrowing(setting: NarrowingSetting | undefined, path = "narrowing"): Band[] | null {
  if (setting === undefined || setting === "none") return null;
  if (setting === "progressive")
    return progressiveBands.map((band) => ({ ...band, disabledTiers: [...band.disabledTiers] }));
  const issues: ValidationIssue[] = [];
  if (!Array.isArray(setting)) {
    throw new ValidationError([
      { code: "invalid_value", path, message: 'must be "none", "progressive" or an array of bands' },
    ]);
  }
  if (setting.length === 0 || setting.length > bandsMax) {
    issues.push({ code: "invalid_value", path, message: `must have 1 to ${bandsMax} bands` });
  }
  let previous = -1;
  setting.forEach((band, index) => {
    const at = `${path}.${index}`;
    if (band === null || typeof band !== "object") {
      issues.push({ code: "invalid_type", path: at, message: "must be { from, disabledTiers }" });
      return;
    }
    if (typeof band.from !== "number" || !Number.isFinite(band.from) || band.from < 0 || band.from > 1) {
      issues.push({ code: "invalid_value", path: `${at}.from`, message: "must be a number from 0 to 1" });
    } else if (band.from <= previous) {
      issues.push({
        code: "invalid_value",
        path: `${at}.from`,
        message: "bands must be in strictly increasing order of from",
      });
    } else {
      previous = band.from;
    }
    if (!Array.isArray(band.disabledTiers)) {
      issues.push({ code: "invalid_type", path: `${at}.disabledTiers`, message: "must be an array of tiers" });
    } else {
      band.disabledTiers.forEach((tier, tierIndex) => {
        if (!isTier(tier)) {
          issues.push({
            code: "invalid_value",
            path: `${at}.disabledTiers.${tierIndex}`,
            message: `unknown tier "${String(tier)}" (expected one of ${TIERS.join(", ")})`,
          });
        }
      });
    }
  });
  if (issues.length > 0) throw new ValidationError(issues);
  return setting.map((band) => ({ from: band.from, disabledTiers: sortTiers(band.disabledTiers) }));
}

/** The tiers disabled at a given usage of an allocation. With no allocation every tier is disabled. */
export function disabledTiersAt(bands: readonly Band[] | null, used: number, allocated: number): Tier[] {
  if (bands === null) return [];
  if (allocated <= 0) return [...TIERS];
  const utilization = used / allocated;
  let disabled: Tier[] = [];
  for (const band of bands) {
    if (utilization >= band.from) disabled = band.disabledTiers;
    else break;
  }
  return disabled;
}

export function sortTiers(tiers: Iterable<Tier>): Tier[] {
  const set = new Set(tiers);
  return TIERS.filter((tier) => set.has(tier));
}
