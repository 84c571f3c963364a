import { benchLedger } from "./ledger.js";

/** `npm run bench`: every benchmark, side by side in one run. Speed is measured here, never in tests. */
const sections: (() => Promise<string[]>)[] = [benchLedger];
console.log(`tollgate benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const section of sections) {
  const lines = await section();
  console.log(`\n${lines.join("\n")}`);
}
