/**
 * The child side of bench/process-sample.ts: `node --expose-gc --import tsx bench/sample-main.ts
 * <module URL> <export name> <JSON arguments>` imports the module, runs the sample and prints its
 * result as one `BENCH_SAMPLE {json}` line. It exits when the line is written, so a handle the
 * sample left open (a timer, a socket) cannot keep the process, and the bench, waiting.
 */
import type { SampleFunction } from "./process-sample.js";

const [moduleUrl, exportName, argsJson] = process.argv.slice(2);
const sample = (await import(moduleUrl))[exportName] as SampleFunction | undefined;
if (typeof sample !== "function") throw new Error(`${moduleUrl} exports no function ${exportName}`);
const result = await sample(JSON.parse(argsJson ?? "{}") as Record<string, unknown>);
process.stdout.write(`\nBENCH_SAMPLE ${JSON.stringify(result)}\n`, () => process.exit(0));
