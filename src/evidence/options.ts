import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "../core/errors.js";
import { parseInput } from "../core/schemas.js";
import { type SigningKey, signingKeyFromPem, signingKeyOfPrivate } from "./keys.js";

/**
 * `createLedger({ evidence })`: how the audit chain is linked and signed. Without a private key the
 * chain is still linked (every hash, every link), and nothing is signed.
 */
export const checkpointEveryEventsDefault = 1_000;
export const checkpointIntervalMsDefault = 60_000;
export const linkIntervalMsDefault = 100;
/** Events hashed per round trip to the store: bounds one link call's memory and its time on the store. */
export const linkBatchMaxDefault = 512;
export const serverIdDefault = "urn:tollgate";
export const serverIdLengthMax = 512;

const wholeNumber = (min: number, max: number) =>
  z.number().int("must be a whole number").min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const evidenceOptionsSchema = z.strictObject({
  /** A PKCS#8 PEM (as `tollgate keys generate` writes it) or a node:crypto Ed25519 private KeyObject. */
  privateKey: z.union([z.string().min(1).max(16_384), z.custom<KeyObject>(isPrivateKeyObject)]).optional(),
  /** Names the key in every checkpoint and receipt; default: the key's RFC 7638 thumbprint. */
  keyId: z.string().min(1).max(128).optional(),
  /** Sign a checkpoint after this many new events of a tenant... */
  checkpointEveryEvents: wholeNumber(1, 10_000_000).optional(),
  /** ...or once this long has passed since its last checkpoint with anything new, whichever comes first. */
  checkpointIntervalMs: wholeNumber(10, 86_400_000).optional(),
  /** How often written events are hashed into the chain (off the reserve/commit path). */
  linkIntervalMs: wholeNumber(1, 60_000).optional(),
  linkBatchMax: wholeNumber(1, 10_000).optional(),
  /** The URI naming this deployment in every receipt's `server_id` (Cycles envelope). */
  serverId: z.string().min(1).max(serverIdLengthMax).optional(),
});

export type EvidenceOptions = z.input<typeof evidenceOptionsSchema>;

export interface EvidenceConfig {
  signingKey?: SigningKey;
  checkpointEveryEvents: number;
  checkpointIntervalMs: number;
  linkIntervalMs: number;
  linkBatchMax: number;
  serverId: string;
}

/** Validates `evidence` options (a ValidationError names the field) and returns a fresh config. */
export function parseEvidenceOptions(value: unknown, root = "evidence"): EvidenceConfig {
  const options = parseInput(evidenceOptionsSchema, value, root);
  if (options.keyId !== undefined && options.privateKey === undefined) {
    throw new ValidationError([
      { code: "invalid_value", path: `${root}.keyId`, message: "names a key: give privateKey too" },
    ]);
  }
  let signingKey: SigningKey | undefined;
  try {
    if (typeof options.privateKey === "string") signingKey = signingKeyFromPem(options.privateKey, options.keyId);
    else if (options.privateKey) signingKey = signingKeyOfPrivate(options.privateKey, options.keyId);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    throw new ValidationError(
      error.issues.map((issue) => ({ ...issue, path: `${root}.${issue.path}` })),
      { cause: error },
    );
  }
  return {
    signingKey,
    checkpointEveryEvents: options.checkpointEveryEvents ?? checkpointEveryEventsDefault,
    checkpointIntervalMs: options.checkpointIntervalMs ?? checkpointIntervalMsDefault,
    linkIntervalMs: options.linkIntervalMs ?? linkIntervalMsDefault,
    linkBatchMax: options.linkBatchMax ?? linkBatchMaxDefault,
    serverId: options.serverId ?? serverIdDefault,
  };
}

/** A store's own copy of a config it was given (it never reads the caller's object again). */
export function copyEvidenceConfig(config: EvidenceConfig): EvidenceConfig {
  const { signingKey, checkpointEveryEvents, checkpointIntervalMs, linkIntervalMs, linkBatchMax, serverId } = config;
  return { signingKey, checkpointEveryEvents, checkpointIntervalMs, linkIntervalMs, linkBatchMax, serverId };
}

function isPrivateKeyObject(value: unknown): value is KeyObject {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as KeyObject).type === "private" &&
    typeof (value as KeyObject).export === "function"
  );
}
