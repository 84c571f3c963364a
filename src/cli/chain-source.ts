import type { LedgerStore } from "../store/types.js";

/** What a store that chains its audit events offers the CLI: LedgerStore's optional chain methods. */
export type ChainSource = Required<Pick<LedgerStore, "chainExport" | "linkChains">>;

export function chainSourceOf(store: unknown): ChainSource | undefined {
  const candidate = store as Partial<ChainSource> | null;
  return typeof candidate?.chainExport === "function" && typeof candidate.linkChains === "function"
    ? (candidate as ChainSource)
    : undefined;
}
