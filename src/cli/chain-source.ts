import type { ChainExport } from "../evidence/export.js";

/** What a store that chains its audit events offers the CLI (the Redis store). */
export interface ChainSource {
  chainExport(query: { tenant?: string }): Promise<ChainExport>;
  /** Links the events written but not linked yet, in the chains that exist. */
  linkChains(query?: { tenant?: string }): Promise<void>;
}

export function chainSourceOf(store: unknown): ChainSource | undefined {
  const candidate = store as Partial<ChainSource> | null;
  return typeof candidate?.chainExport === "function" && typeof candidate.linkChains === "function"
    ? (candidate as ChainSource)
    : undefined;
}
