export type { ListBudgetsQuery } from "../core/schemas.js";
export type { KeyvStoreOptions } from "../store/keyv-store.js";
export { KeyvSingleProcessStore } from "../store/keyv-store.js";
export type {
  AuditEvent,
  AuditEventType,
  Balance,
  BudgetDefinition,
  LedgerStore,
  ReservationRecord,
  ReservationStatus,
} from "../store/types.js";
export { type CreateLedgerOptions, createLedger } from "./create-ledger.js";
export {
  type AllowResponse,
  type DenyResponse,
  type Ledger,
  type LedgerMode,
  type LedgerOptions,
  type ReserveResponse,
  type SettleResponse,
  StoreLedger,
  stableJson,
} from "./ledger.js";
export { telemetryAttributes } from "./telemetry.js";
