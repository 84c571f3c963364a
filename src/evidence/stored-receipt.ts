import { StoreReplyError, ValidationError } from "../core/errors.js";
import type { JsonObject } from "./canonical.js";
import { type ChainRecord, recordHashOf } from "./chain.js";
import type { EvidenceConfig } from "./options.js";
import { type CyclesEnvelope, issueReceipt, receiptOfRecord } from "./receipt.js";

/** Which event to vouch for: a tenant's chain seq, as `auditSeq` in a reserve/commit/release answer. */
export interface ReceiptQuery {
  /** The tenant scope ("tenant:acme"). */
  tenant: string;
  seq: number;
  /** W3C trace id (32 lowercase hex) to carry as the receipt's `trace_id`: the join key with traces. */
  traceId?: string;
}

/**
 * A decide() answer to vouch for. A decision that holds nothing writes no audit event, so its
 * receipt carries the question and the answer themselves (`tollgate_decision`), not a chain record.
 */
export interface DecisionReceiptQuery {
  tenant: string;
  decision: JsonObject;
  traceId?: string;
}

/** What signs a receipt: the evidence config's key and the deployment's name. */
export type ReceiptSigner = Pick<EvidenceConfig, "signingKey" | "serverId">;

/**
 * The one way a receipt is made from what a store keeps, for both stores, the ledger and the CLI.
 * The record is checked against its own hash before it is signed: a store whose event was edited
 * after it was linked gets a fault, never a signature over the edit.
 */
export function receiptOfStoredRecord(
  signer: ReceiptSigner | undefined,
  query: ReceiptQuery,
  record: ChainRecord | undefined,
  issuedAtMs = Date.now(),
): CyclesEnvelope {
  const key = signingKeyOf(signer);
  if (!record) {
    throw new ValidationError([
      {
        code: "not_found",
        path: "seq",
        message: `${query.tenant} keeps no chained event with seq ${query.seq} (not written, or dropped by retention)`,
      },
    ]);
  }
  if (record.tenant !== query.tenant || record.seq !== query.seq) {
    throw new StoreReplyError(
      "receipt",
      `asked for ${query.tenant} seq ${query.seq}, the store answered another record`,
    );
  }
  if (recordHashOf(record.tenant, record.seq, record.prevHash, record.event) !== record.hash) {
    throw new StoreReplyError("receipt", `the chain record at seq ${record.seq} does not match its hash`);
  }
  return receiptOfRecord(record, key, {
    serverId: (signer as ReceiptSigner).serverId,
    issuedAtMs,
    ...(query.traceId !== undefined ? { traceId: query.traceId } : {}),
  });
}

/** A `decide` receipt: the tenant, the question and the answer, as the ledger built them. */
export function receiptOfDecision(
  signer: ReceiptSigner | undefined,
  query: DecisionReceiptQuery,
  issuedAtMs = Date.now(),
): CyclesEnvelope {
  const key = signingKeyOf(signer);
  return issueReceipt(
    {
      artifactType: "decide",
      body: { tollgate_decision: { tenant: query.tenant, ...query.decision } },
      serverId: (signer as ReceiptSigner).serverId,
      issuedAtMs,
      ...(query.traceId !== undefined ? { traceId: query.traceId } : {}),
    },
    key,
  );
}

function signingKeyOf(signer: ReceiptSigner | undefined): NonNullable<ReceiptSigner["signingKey"]> {
  const key = signer?.signingKey;
  if (!key) {
    throw new ValidationError([
      {
        code: "unsupported",
        path: "evidence.privateKey",
        message: "a receipt is signed: give the ledger evidence options with a privateKey",
      },
    ]);
  }
  return key;
}
