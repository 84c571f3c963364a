/** Blast-radius tiers, lowest first. The rank is the position + 1. */
export const TIERS = ["read", "write-local", "write-external", "mutation", "execution"] as const;
export type Tier = (typeof TIERS)[number];

export function isTier(value: unknown): value is Tier {
  return typeof value === "string" && (TIERS as readonly string[]).includes(value);
}

export function tierRank(tier: Tier): number {
  return TIERS.indexOf(tier) + 1;
}

/**
 * Default risk points per action class: relative weights by reversibility, team-overridable per
 * tool. The absolute values matter less than the ratios and the hard cap they are spent against.
 */
export const riskPointsDefault = {
  modelCall: 1,
  internalTool: 2,
  externalRead: 5,
  fileWrite: 10,
  message: 20,
  databaseMutation: 25,
  deploy: 50,
} as const;
export type ActionClass = keyof typeof riskPointsDefault;

/** The tier an action class sits in, used when a tool declares only its class. */
export const tierOfActionClass: Record<ActionClass, Tier> = {
  modelCall: "read",
  internalTool: "read",
  externalRead: "read",
  fileWrite: "write-local",
  message: "write-external",
  databaseMutation: "mutation",
  deploy: "execution",
};

/** A sensible default estimate for a tier when a tool gives none. */
export const riskPointsByTierDefault: Record<Tier, number> = {
  read: riskPointsDefault.internalTool,
  "write-local": riskPointsDefault.fileWrite,
  "write-external": riskPointsDefault.message,
  mutation: riskPointsDefault.databaseMutation,
  execution: riskPointsDefault.deploy,
};
