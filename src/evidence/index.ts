export type { JsonObject } from "./canonical.js";
export { canonicalBytes, sha256Hex } from "./canonical.js";
export type {
  ChainHead,
  ChainProblem,
  ChainProblemKind,
  ChainRecord,
  ChainVerification,
  Checkpoint,
  TenantChainSummary,
} from "./chain.js";
export {
  checkCheckpointSignature,
  emptyChainHead,
  genesisHash,
  headOf,
  linkEvent,
  recordHashOf,
  signCheckpoint,
  trimChain,
  unsignedCheckpoint,
  verifyChain,
} from "./chain.js";
export type { ChainExport, ReceiptProblem } from "./export.js";
export { chainExportLines, parseChainExport, verifyExportReceipts } from "./export.js";
export type { JwkSet, PublicJwk, SigningKey, VerifyingKey } from "./keys.js";
export {
  generateSigningKey,
  jwksOf,
  KeySet,
  parseJwks,
  privateKeyPem,
  publicJwkOf,
  signingKeyFromPem,
} from "./keys.js";
export type { ArtifactType, CyclesEnvelope, ReceiptRequest, ReceiptVerification } from "./receipt.js";
export {
  artifactTypes,
  chainRecordOfReceipt,
  cyclesSchemaVersion,
  evidenceIdOf,
  hasArtifactType,
  issueReceipt,
  receiptOfRecord,
  verifyReceipt,
} from "./receipt.js";
export type { ReceiptQuery, ReceiptSigner } from "./stored-receipt.js";
export { receiptOfStoredRecord } from "./stored-receipt.js";
