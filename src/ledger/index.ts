export { type CreateLedgerOptions, createLedger } from "./create-ledger.js";
export {
  type Ledger,
  type LedgerMode,
  type LedgerOptions,
  type ReserveResponse,
  type SettleResponse,
  StoreLedger,
  stableJson,
} from "./ledger.js";
