import { type FallbackTarget, fallbackFor } from "../../core/policy.js";
import { tierRank } from "../../core/tiers.js";
import type { TollgateDenial } from "../shared/denial.js";

/**
 * One destination for a step's denials (never two nodes at once): the route of the most dangerous
 * denied call, the first such call on a tie; undefined when no route names it. That fallback sees
 * every pending denial in state.
 */
export function routeOfDenials(
  fallback: FallbackTarget | undefined,
  denials: readonly TollgateDenial[],
): string | undefined {
  if (fallback === undefined || denials.length === 0) return undefined;
  let worst = denials[0];
  for (const denial of denials) if (tierRank(denial.tier) > tierRank(worst.tier)) worst = denial;
  return fallbackFor(fallback, { name: worst.toolName, tier: worst.tier });
}
