import { chmod, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ValidationError } from "../../core/errors.js";
import {
  generateSigningKey,
  type JwkSet,
  parseJwks,
  privateKeyPem,
  publicJwkOf,
  type SigningKey,
  signingKeyFromPem,
} from "../../evidence/keys.js";
import type { Command } from "../command.js";
import { CliFailure, exitOk, UsageError } from "../errors.js";
import { terminalText, writeJsonLine, writeLine } from "../io.js";
import { userPath } from "../options.js";

export const jwksFileName = "jwks.json";
export const jwksFileBytesMax = 1024 * 1024;

export const keysGenerate: Command = {
  name: "keys generate",
  summary: "make an Ed25519 signing key for evidence, and the JWK Set verifiers check it with",
  details:
    "Writes DIR/<kid>.pem (the private key, PKCS#8, readable by its owner only) and adds the public key to\nDIR/jwks.json (created if absent). Rotating keys: generate a new one into the same directory; the set\nkeeps the old public keys, so everything signed before still verifies. Never hand out the .pem file.",
  options: {
    "out-dir": {
      type: "string",
      valueName: "DIR",
      description: "where to write the key and the JWK Set",
      required: true,
    },
    kid: { type: "string", valueName: "ID", description: "the key id (default: the key's RFC 7638 thumbprint)" },
    json: { type: "boolean", description: "print what was written as one JSON line" },
  },
  examples: ["tollgate keys generate --out-dir ./keys --kid tollgate-2026-12"],
  async run({ options, io, command }) {
    const dir = userPath(io, options["out-dir"] as string);
    let key: ReturnType<typeof generateSigningKey>;
    try {
      key = generateSigningKey(typeof options.kid === "string" ? options.kid : undefined);
    } catch (error) {
      if (error instanceof ValidationError) throw new UsageError(`--kid ${error.issues[0]?.message}`, command.name);
      throw error;
    }
    await mkdir(dir, { recursive: true });
    const privateFile = join(dir, `${key.keyId}.pem`);
    const jwksFile = join(dir, jwksFileName);
    const existing = await readJwksIfAny(jwksFile);
    if (existing?.keys.some((jwk) => jwk.kid === key.keyId)) {
      throw new CliFailure(`${jwksFile} already has a key "${key.keyId}"; choose another --kid`);
    }
    try {
      // "wx": never overwrite a private key; 0600 from creation, then again in case of an odd umask.
      await writeFile(privateFile, privateKeyPem(key), { mode: 0o600, flag: "wx" });
      await chmod(privateFile, 0o600);
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === "EEXIST" ? "it exists already" : (error as Error).message;
      throw new CliFailure(`Cannot write ${privateFile}: ${why}`, { cause: error });
    }
    const jwks: JwkSet = { keys: [...(existing?.keys ?? []), publicJwkOf(key)] };
    const temporary = `${jwksFile}.${process.pid}.tmp`;
    await writeFile(temporary, `${JSON.stringify(jwks, null, 2)}\n`);
    await rename(temporary, jwksFile);
    if (options.json) {
      writeJsonLine(io.stdout, { keyId: key.keyId, privateKey: privateFile, jwks: jwksFile, keys: jwks.keys.length });
      return exitOk;
    }
    writeLine(io.stdout, `Wrote the private key ${terminalText(privateFile)} (mode 0600): keep it secret.`);
    writeLine(
      io.stdout,
      `Added key "${terminalText(key.keyId)}" to ${terminalText(jwksFile)} (${jwks.keys.length} key(s)): publish it to verifiers.`,
    );
    return exitOk;
  },
};

/** The JWK Set already in the directory, validated; undefined when there is none. */
async function readJwksIfAny(file: string): Promise<JwkSet | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CliFailure(`Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const value = parseJsonFile(text, file, jwksFileBytesMax);
  try {
    parseJwks(value);
  } catch (error) {
    if (error instanceof ValidationError) throw new CliFailure(`${file} is not a usable JWK Set: ${error.message}`);
    throw error;
  }
  return { keys: (value as JwkSet).keys.map((jwk) => ({ ...jwk })) };
}

/** Bytes a private key file may have (a PKCS#8 Ed25519 PEM is about 120). */
export const privateKeyFileBytesMax = 16 * 1024;

/** The signing key in a PEM file (as `keys generate` writes it); a file that is not one is a CliFailure naming it. */
export async function readSigningKey(file: string): Promise<SigningKey> {
  let pem: string;
  try {
    const { size } = await stat(file);
    if (size > privateKeyFileBytesMax) throw new Error(`it is ${size} bytes, more than a key file has`);
    pem = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new CliFailure(`Cannot read ${file}: ${reason}`, { cause: error });
  }
  try {
    return signingKeyFromPem(pem);
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new CliFailure(`${file} is not an Ed25519 private key (PKCS#8 PEM): ${error.message}`, { cause: error });
    }
    throw error;
  }
}

export function parseJsonFile(text: string, file: string, bytesMax: number): unknown {
  if (Buffer.byteLength(text) > bytesMax) throw new CliFailure(`${file} is larger than ${bytesMax} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new CliFailure(`${file} is not JSON`);
  }
}
