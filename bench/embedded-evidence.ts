/**
 * What chaining costs the embedded store: reserve + commit (six levels, three budgets, one tenant)
 * with evidence off and on (a signing key, checkpoints every 1,000 events), rounds interleaved in one
 * process. With evidence on, each timed round ends with `linkChains()`, so the hashing and signing of
 * that round's events are inside the figure (the linker hashes off the call's path, but the CPU is the
 * same process's). Beside them, minimal prototypes of the same per-event work, in the same run: the
 * audit read + JCS + SHA-256 of two events per pair, then JCS alone and SHA-256 alone.
 *
 *   node --expose-gc --import tsx bench/embedded-evidence.ts [--baseline /path/to/other/checkout]
 *
 * `--baseline DIR`: also times DIR's embedded store (its src/ledger/create-ledger.ts) in the same
 * rounds, for "evidence off costs nothing" against the code before the change.
 */
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import canonicalize from "canonicalize";
import { recordHashOf } from "../src/evidence/chain.js";
import { generateSigningKey, privateKeyPem } from "../src/evidence/keys.js";
import { createLedger } from "../src/ledger/create-ledger.js";
import type { Ledger } from "../src/ledger/ledger.js";
import type { KeyvSingleProcessStore } from "../src/store/keyv-store.js";
import { interleave, type Variant } from "./measure.js";
import { target } from "./targets.js";

const pairs = 10_000;
const rounds = 9;
const action = { name: "send_email", tier: "write-external" as const };
const subject = { tenant: "t0", workspace: "production", app: "support-bot", agent: "resolver", toolset: "send-email" };

type CreateLedger = (options: object) => Ledger;

async function provisioned(create: CreateLedger, options: object): Promise<Ledger> {
  const ledger = create({ sweepIntervalMs: 0, ...options });
  await ledger.setBudget({ scope: "tenant:t0", limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({ scope: "tenant:t0/workspace:production/app:support-bot", limit: Number.MAX_SAFE_INTEGER });
  await ledger.setBudget({ scope: "tenant:t0/toolset:send-email", limit: Number.MAX_SAFE_INTEGER });
  return ledger;
}

function pairLoop(ledger: Ledger, after?: () => Promise<void>): () => Promise<void> {
  return async () => {
    for (let i = 0; i < pairs; i++) {
      const response = await ledger.reserve({ subject, action, estimate: 1 });
      await ledger.commit(response.reservationId as string);
    }
    await after?.();
  };
}

const sha256Of = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * JCS for what the audit holds (strings, safe integers, arrays, plain objects): JSON.stringify's
 * strings and numbers are JCS's, so sorting the keys is all that is left. A prototype of what a
 * canonicalizer specialized to the audit event could cost; main() checks it gives canonicalize's bytes.
 */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object)
    .filter((key) => object[key] !== undefined)
    .sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${sortedJson(object[key])}`).join(",")}}`;
}

/**
 * The same bytes by one native JSON.stringify: a copy whose keys are inserted in sorted order (the
 * audit's keys are names, never integer-like, so V8 keeps insertion order, which is then JCS order).
 */
function sortedCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedCopy);
  if (value === null || typeof value !== "object") return value;
  const object = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(object).sort()) if (object[key] !== undefined) copy[key] = sortedCopy(object[key]);
  return copy;
}

/** Sorted key lists by the object's own key order: the audit has a handful of shapes, so the sort runs once each. */
const sortedKeysByShape = new Map<string, string[]>();

/** JCS by concatenation, each shape's key order sorted once: near the floor of any in-process JCS. */
function shapedJson(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + shapedJson(value[i]);
    return `${out}]`;
  }
  const object = value as Record<string, unknown>;
  const own = Object.keys(object);
  const shape = own.join(",");
  let keys = sortedKeysByShape.get(shape);
  if (!keys) {
    keys = [...own].sort();
    sortedKeysByShape.set(shape, keys);
  }
  let out = "{";
  for (const key of keys) {
    const field = object[key];
    if (field === undefined) continue;
    out += `${out.length === 1 ? "" : ","}${JSON.stringify(key)}:${shapedJson(field)}`;
  }
  return `${out}}`;
}

/**
 * The comparison as a section of `npm run bench` (bench/evidence.ts): returns the printed lines and
 * records the targets. `baseline`: another checkout's store timed in the same rounds.
 */
export async function benchEmbeddedEvidence(baselineDir?: string): Promise<string[]> {
  const lines: string[] = [];
  const key = generateSigningKey("bench");
  const off = await provisioned(createLedger as CreateLedger, {});
  const on = await provisioned(createLedger as CreateLedger, {
    evidence: { privateKey: privateKeyPem(key), keyId: key.keyId, checkpointEveryEvents: 1_000 },
  });
  const unsigned = await provisioned(createLedger as CreateLedger, { evidence: { checkpointEveryEvents: 1_000 } });
  const onStore = (await on.store) as KeyvSingleProcessStore;
  const unsignedStore = (await unsigned.store) as KeyvSingleProcessStore;
  await pairLoop(off)();
  // The two events a pair audits, as the store's reader returns them: what the chain hashes.
  const sample = (await off.audit({ scope: "tenant:t0", limit: 2 })) as unknown as Record<string, unknown>[];
  let prevHash = "0".repeat(64);
  for (const event of sample) {
    const record = { tenant: "tenant:t0", seq: 1, prevHash, event };
    if (sortedJson(record) !== canonicalize(record)) throw new Error("the sorted-key prototype is not JCS here");
    if (JSON.stringify(sortedCopy(record)) !== canonicalize(record)) throw new Error("the sorted copy is not JCS here");
    if (shapedJson(record) !== canonicalize(record)) throw new Error("the shaped serializer is not JCS here");
  }
  const hasher = new Worker(new URL("./chain-hash-worker.mjs", import.meta.url));
  let workerSeq = 0;
  let waiting: (() => void) | undefined;
  let waitingFor = 0;
  let workerBase = 0;
  hasher.on("message", ({ lastSeq }: { lastSeq: number }) => {
    workerSeq = lastSeq;
    if (waiting && workerSeq >= waitingFor) waiting();
  });
  /** Resolves once the worker has hashed `count` events of this round. */
  const hashedThrough = (count: number) =>
    new Promise<void>((resolve) => {
      const target = workerBase + count;
      workerBase = target;
      if (workerSeq >= target) return resolve();
      waitingFor = target;
      waiting = () => {
        waiting = undefined;
        resolve();
      };
    });
  const variants: Variant[] = [
    { name: "evidence off", run: pairLoop(off) },
    { name: "evidence on (linked + signed inside the round)", run: pairLoop(on, () => onStore.linkChains()) },
    {
      name: "evidence on, no key (linked, nothing signed)",
      run: pairLoop(unsigned, () => unsignedStore.linkChains()),
    },
    {
      name: "prototype: off + JCS + SHA-256 of its 2 events, inline",
      run: async () => {
        for (let i = 0; i < pairs; i++) {
          const response = await off.reserve({ subject, action, estimate: 1 });
          prevHash = recordHashOf("tenant:t0", 2 * i + 1, prevHash, sample[0]);
          await off.commit(response.reservationId as string);
          prevHash = recordHashOf("tenant:t0", 2 * i + 2, prevHash, sample[1]);
        }
      },
    },
    {
      // The same work off the calling thread: each pair's two events go to a worker in batches of
      // 512; the round waits until the worker has hashed them all. What the caller pays is the
      // hand-over; the wall time shows whether the other core keeps up.
      name: "prototype: off + the same hashing on a worker thread",
      run: async () => {
        let batch: unknown[] = [];
        let sent = 0;
        for (let i = 0; i < pairs; i++) {
          const response = await off.reserve({ subject, action, estimate: 1 });
          await off.commit(response.reservationId as string);
          batch.push(sample[0], sample[1]);
          if (batch.length >= 512) {
            hasher.postMessage({ tenant: "tenant:t0", firstSeq: workerBase + sent + 1, events: batch });
            sent += batch.length;
            batch = [];
          }
        }
        if (batch.length > 0) {
          hasher.postMessage({ tenant: "tenant:t0", firstSeq: workerBase + sent + 1, events: batch });
          sent += batch.length;
        }
        await hashedThrough(sent);
      },
    },
    {
      name: "JCS + SHA-256 of 2 events alone (per pair)",
      run: () => {
        for (let i = 0; i < pairs; i++) {
          prevHash = recordHashOf("tenant:t0", 2 * i + 1, prevHash, sample[0]);
          prevHash = recordHashOf("tenant:t0", 2 * i + 2, prevHash, sample[1]);
        }
      },
    },
    {
      name: "sorted-key JSON.stringify + SHA-256 of 2 records (per pair)",
      run: () => {
        for (let i = 0; i < pairs; i++) {
          prevHash = sha256Of(sortedJson({ tenant: "tenant:t0", seq: 2 * i + 1, prevHash, event: sample[0] }));
          prevHash = sha256Of(sortedJson({ tenant: "tenant:t0", seq: 2 * i + 2, prevHash, event: sample[1] }));
        }
      },
    },
    {
      name: "sorted-key copy, one JSON.stringify + SHA-256 of 2 records",
      run: () => {
        for (let i = 0; i < pairs; i++) {
          prevHash = sha256Of(
            JSON.stringify(sortedCopy({ tenant: "tenant:t0", seq: 2 * i + 1, prevHash, event: sample[0] })),
          );
          prevHash = sha256Of(
            JSON.stringify(sortedCopy({ tenant: "tenant:t0", seq: 2 * i + 2, prevHash, event: sample[1] })),
          );
        }
      },
    },
    {
      name: "shape-cached serializer + SHA-256 of 2 records",
      run: () => {
        for (let i = 0; i < pairs; i++) {
          prevHash = sha256Of(shapedJson({ tenant: "tenant:t0", seq: 2 * i + 1, prevHash, event: sample[0] }));
          prevHash = sha256Of(shapedJson({ tenant: "tenant:t0", seq: 2 * i + 2, prevHash, event: sample[1] }));
        }
      },
    },
    {
      name: "the canonicalize package alone of 2 records (per pair)",
      run: () => {
        for (let i = 0; i < pairs; i++) {
          canonicalize({ tenant: "tenant:t0", seq: i, prevHash, event: sample[0] });
          canonicalize({ tenant: "tenant:t0", seq: i, prevHash, event: sample[1] });
        }
      },
    },
    {
      name: "SHA-256 alone of 2 records' bytes (per pair)",
      run: () => {
        const a = JSON.stringify({ tenant: "tenant:t0", seq: 1, prevHash, event: sample[0] });
        const b = JSON.stringify({ tenant: "tenant:t0", seq: 2, prevHash, event: sample[1] });
        for (let i = 0; i < pairs; i++) {
          createHash("sha256").update(a).digest("hex");
          createHash("sha256").update(b).digest("hex");
        }
      },
    },
  ];
  if (baselineDir !== undefined) {
    const dir = baselineDir;
    const baseline = (await import(`${dir}/src/ledger/create-ledger.ts`)) as { createLedger: CreateLedger };
    variants.push({
      name: `baseline ${dir}: evidence off`,
      run: pairLoop(await provisioned(baseline.createLedger, {})),
    });
  }
  const results = await interleave(variants, { opsPerRound: pairs, rounds });
  const offUs = results[0].perOpUs.median;
  const offCpuUs = results[0].cpuPerOpUs.median;
  lines.push(`embedded reserve + commit per pair, ${rounds} rounds of ${pairs.toLocaleString("en-US")}, interleaved`);
  lines.push(`${"variant".padEnd(60)} ${"wall µs".padStart(9)} ${"IQR".padStart(7)} ${"cpu µs".padStart(8)}  ×off`);
  for (const result of results) {
    const { median, q1, q3 } = result.perOpUs;
    lines.push(
      `${result.name.padEnd(60)} ${median.toFixed(2).padStart(9)} ${(q3 - q1).toFixed(2).padStart(7)} ${result.cpuPerOpUs.median.toFixed(2).padStart(8)}  ${(median / offUs).toFixed(3)} (cpu ${(result.cpuPerOpUs.median / offCpuUs).toFixed(3)})`,
    );
  }
  const [, onResult, unsignedResult, inlinePrototype, workerPrototype, , , , , , shaAlone] = results;
  lines.push(
    target({
      name: "embedded reserve + commit, evidence on / off",
      value: onResult.perOpUs.median / offUs,
      unit: "×",
      comparison: "<=",
      limit: 1.15,
      method: "interleaved rounds, medians; the round's linking and signing inside it",
    }),
    target({
      name: "embedded: minimal prototype (JCS + SHA-256 of the 2 events inline) / off",
      value: inlinePrototype.perOpUs.median / offUs,
      unit: "×",
      comparison: "report",
    }),
    target({
      name: "embedded: prototype with the hashing on a worker thread / off",
      value: workerPrototype.perOpUs.median / offUs,
      unit: "×",
      comparison: "report",
      method: "wall time until the worker has hashed the round; CPU of both threads beside it",
    }),
    target({
      name: "embedded: SHA-256 alone of a pair's 2 records / a pair without evidence",
      value: shaAlone.perOpUs.median / offUs,
      unit: "×",
      comparison: "report",
      method: "the hash function alone over the bytes, no canonical JSON, no event read",
    }),
    target({
      name: "embedded reserve + commit, signing on / chain unsigned",
      value: onResult.perOpUs.median / unsignedResult.perOpUs.median,
      unit: "×",
      comparison: "<=",
      limit: 1.2,
      method: "checkpoints every 1,000 events, signed inside the round",
    }),
  );
  const seqs = (await onStore.chainExport({ tenant: "tenant:t0" })).records.length;
  lines.push(`chained records kept at the end: ${seqs.toLocaleString("en-US")}`);
  await Promise.all([off.close(), on.close(), unsigned.close(), hasher.terminate()]);
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const baselineAt = process.argv.indexOf("--baseline");
  for (const line of await benchEmbeddedEvidence(baselineAt > 0 ? process.argv[baselineAt + 1] : undefined)) {
    console.log(line);
  }
}
