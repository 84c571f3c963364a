import { ValidationError } from "../../core/errors.js";
import { isTier, type Tier, tierRank } from "../../core/tiers.js";
import type { TollgateDenial } from "../shared/denial.js";

/** Where denied calls go: one node, or a node per tool name or per tier with a default. */
export type FallbackTarget =
  | string
  | {
      tools?: Record<string, string>;
      tiers?: Partial<Record<Tier, string>>;
      default: string;
    };

export function validateFallback(fallback: FallbackTarget, path = "fallback"): void {
  const bad = (message: string, at = path) => new ValidationError([{ code: "invalid_value", path: at, message }]);
  if (typeof fallback === "string") {
    if (fallback.length === 0) throw bad("must name a node");
    return;
  }
  if (fallback === null || typeof fallback !== "object")
    throw bad("must be a node name or { tools?, tiers?, default }");
  if (typeof fallback.default !== "string" || fallback.default.length === 0)
    throw bad("must name a node", `${path}.default`);
  for (const tier of Object.keys(fallback.tiers ?? {})) {
    if (!isTier(tier)) throw bad(`"${tier}" is not a tier`, `${path}.tiers.${tier}`);
  }
}

/** Every node a fallback can route to, for `addNode(..., { ends })`. */
export function fallbackNodes(fallback: FallbackTarget): string[] {
  if (typeof fallback === "string") return [fallback];
  return [
    ...new Set([fallback.default, ...Object.values(fallback.tools ?? {}), ...Object.values(fallback.tiers ?? {})]),
  ];
}

/**
 * One destination for a step's denials (never two nodes at once): the route of the most dangerous
 * denied call, the first such call on a tie. That fallback sees every pending denial in state.
 */
export function fallbackFor(fallback: FallbackTarget, denials: readonly TollgateDenial[]): string {
  if (typeof fallback === "string") return fallback;
  let worst = denials[0];
  for (const denial of denials) if (tierRank(denial.tier) > tierRank(worst.tier)) worst = denial;
  return fallback.tools?.[worst.toolName] ?? fallback.tiers?.[worst.tier] ?? fallback.default;
}
