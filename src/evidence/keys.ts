import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { ValidationError, type ValidationIssue } from "../core/errors.js";
import { canonicalBytes, isJsonObject, sha256Hex } from "./canonical.js";

/**
 * Ed25519 keys (node:crypto only), named by a key id, and their public halves as an RFC 7517 JWK
 * Set (`kty: "OKP"`, `crv: "Ed25519"`, `kid`). A verifier holds a KeySet built from the published
 * JWK Set; rotating keys means publishing a set with the old and the new key, so everything signed
 * before the rotation still verifies against the kid it names.
 */

export const keyIdLengthMax = 128;
export const jwksKeysMax = 1_000;
const keyIdPattern = /^[A-Za-z0-9_.:-]+$/;

export interface PublicJwk {
  kty: "OKP";
  crv: "Ed25519";
  /** The 32-byte raw public key, base64url. */
  x: string;
  kid: string;
  use: "sig";
  alg: "EdDSA";
}

export interface JwkSet {
  keys: PublicJwk[];
}

/** A key that signs: private half, public half, its id and its raw public key in hex. */
export interface SigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** 64 lowercase hex characters: the form Cycles envelopes name their signer by. */
  publicKeyHex: string;
}

/** A key that verifies. */
export interface VerifyingKey {
  keyId: string;
  publicKey: KeyObject;
  publicKeyHex: string;
}

export function generateSigningKey(keyId?: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return signingKeyOf(privateKey, publicKey, keyId);
}

/** A signing key from a PKCS#8 PEM (as `tollgate keys generate` writes it). Default key id: the RFC 7638 thumbprint. */
export function signingKeyFromPem(pem: string, keyId?: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch (error) {
    throw new ValidationError([{ code: "invalid_key", path: "privateKey", message: "is not a PEM private key" }], {
      cause: error,
    });
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new ValidationError([{ code: "invalid_key", path: "privateKey", message: "must be an Ed25519 key" }]);
  }
  return signingKeyOf(privateKey, createPublicKey(privateKey), keyId);
}

/** A signing key from a node:crypto private KeyObject (it must be Ed25519). */
export function signingKeyOfPrivate(privateKey: KeyObject, keyId?: string): SigningKey {
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new ValidationError([{ code: "invalid_key", path: "privateKey", message: "must be an Ed25519 private key" }]);
  }
  return signingKeyOf(privateKey, createPublicKey(privateKey), keyId);
}

export function privateKeyPem(key: SigningKey): string {
  return key.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

function signingKeyOf(privateKey: KeyObject, publicKey: KeyObject, keyId: string | undefined): SigningKey {
  const x = (publicKey.export({ format: "jwk" }) as { x: string }).x;
  const id = keyId ?? thumbprintOf(x);
  const issue = keyIdIssue(id, "keyId");
  if (issue) throw new ValidationError([issue]);
  return { keyId: id, privateKey, publicKey, publicKeyHex: Buffer.from(x, "base64url").toString("hex") };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key: a key id nobody has to choose. */
export function thumbprintOf(x: string): string {
  const digest = sha256Hex(canonicalBytes({ crv: "Ed25519", kty: "OKP", x }));
  return Buffer.from(digest, "hex").toString("base64url");
}

function keyIdIssue(keyId: unknown, path: string): ValidationIssue | undefined {
  if (typeof keyId !== "string" || keyId.length < 1 || keyId.length > keyIdLengthMax || !keyIdPattern.test(keyId)) {
    return { code: "invalid_key_id", path, message: `must be 1-${keyIdLengthMax} characters of A-Z a-z 0-9 _ . : -` };
  }
  return undefined;
}

export function publicJwkOf(key: SigningKey | VerifyingKey): PublicJwk {
  const x = Buffer.from(key.publicKeyHex, "hex").toString("base64url");
  return { kty: "OKP", crv: "Ed25519", x, kid: key.keyId, use: "sig", alg: "EdDSA" };
}

export function jwksOf(keys: readonly (SigningKey | VerifyingKey)[]): JwkSet {
  return { keys: keys.map(publicJwkOf) };
}

export function signBytes(key: SigningKey, bytes: Buffer): string {
  return sign(null, bytes, key.privateKey).toString("hex");
}

/** False for a malformed signature too: a verifier answers, it does not throw on hostile input. */
export function verifyBytes(publicKey: KeyObject, bytes: Buffer, signatureHex: string): boolean {
  if (!/^[0-9a-f]{128}$/.test(signatureHex)) return false;
  return verify(null, bytes, publicKey, Buffer.from(signatureHex, "hex"));
}

/** The public keys a verifier trusts, looked up by key id or by raw public key. */
export class KeySet {
  private readonly byId = new Map<string, VerifyingKey>();
  private readonly byHex = new Map<string, VerifyingKey>();

  constructor(keys: readonly VerifyingKey[]) {
    for (const key of keys) {
      this.byId.set(key.keyId, key);
      this.byHex.set(key.publicKeyHex, key);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  keyOf(keyId: string): VerifyingKey | undefined {
    return this.byId.get(keyId);
  }

  keyOfPublicHex(publicKeyHex: string): VerifyingKey | undefined {
    return this.byHex.get(publicKeyHex);
  }

  static of(keys: readonly (SigningKey | VerifyingKey)[]): KeySet {
    return new KeySet(keys.map(({ keyId, publicKey, publicKeyHex }) => ({ keyId, publicKey, publicKeyHex })));
  }
}

/** A verifying key from 64 hex characters (a Cycles `signer_did`), or undefined when it is not one. */
export function verifyingKeyOfHex(publicKeyHex: string, keyId = publicKeyHex): VerifyingKey | undefined {
  if (!/^[0-9a-f]{64}$/.test(publicKeyHex)) return undefined;
  const x = Buffer.from(publicKeyHex, "hex").toString("base64url");
  try {
    return {
      keyId,
      publicKey: createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x }, format: "jwk" }),
      publicKeyHex,
    };
  } catch {
    return undefined;
  }
}

/**
 * Parses a JWK Set from outside: only Ed25519 signing keys with a kid, each kid once. Anything else
 * is a ValidationError naming the key (`keys.2.x`) and nothing is kept.
 */
export function parseJwks(value: unknown): KeySet {
  const issues: ValidationIssue[] = [];
  if (!isJsonObject(value) || !Array.isArray(value.keys)) {
    throw new ValidationError([
      { code: "invalid_jwks", path: "keys", message: "a JWK Set is an object with a keys array" },
    ]);
  }
  if (value.keys.length > jwksKeysMax) {
    throw new ValidationError([{ code: "too_big", path: "keys", message: `at most ${jwksKeysMax} keys` }]);
  }
  const keys: VerifyingKey[] = [];
  const seen = new Set<string>();
  for (const [index, jwk] of (value.keys as unknown[]).entries()) {
    const parsed = verifyingKeyOfJwk(jwk, `keys.${index}`, seen);
    if ("issue" in parsed) issues.push(parsed.issue);
    else keys.push(parsed.key);
  }
  if (issues.length > 0) throw new ValidationError(issues);
  return new KeySet(keys);
}

function verifyingKeyOfJwk(
  jwk: unknown,
  path: string,
  seen: Set<string>,
): { key: VerifyingKey } | { issue: ValidationIssue } {
  if (!isJsonObject(jwk)) return { issue: { code: "invalid_jwk", path, message: "must be an object" } };
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") {
    return { issue: { code: "invalid_jwk", path, message: 'must be an Ed25519 key (kty "OKP", crv "Ed25519")' } };
  }
  if ("d" in jwk) {
    return { issue: { code: "private_key", path: `${path}.d`, message: "a JWK Set must not carry a private key" } };
  }
  const kidIssue = keyIdIssue(jwk.kid, `${path}.kid`);
  if (kidIssue) return { issue: kidIssue };
  const kid = jwk.kid as string;
  if (seen.has(kid)) {
    return { issue: { code: "duplicate_kid", path: `${path}.kid`, message: `kid "${kid}" appears twice` } };
  }
  seen.add(kid);
  const raw =
    typeof jwk.x === "string" && /^[A-Za-z0-9_-]{43}$/.test(jwk.x) ? Buffer.from(jwk.x, "base64url") : undefined;
  const key = raw?.length === 32 ? verifyingKeyOfHex(raw.toString("hex"), kid) : undefined;
  if (!key)
    return { issue: { code: "invalid_jwk", path: `${path}.x`, message: "must be a 32-byte public key, base64url" } };
  return { key };
}
