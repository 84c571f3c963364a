import type { LedgerStore } from "../../src/store/types.js";

/** What the conformance suite needs from a store under test. */
export interface StoreHarness {
  store: LedgerStore;
  /** Moves the store's clock forward (a fake clock, or a test offset added to the server's TIME). */
  advanceTimeMs(ms: number): Promise<void> | void;
  close(): Promise<void>;
}

export type CreateStoreHarness = () => Promise<StoreHarness>;
