import { benchEvidence } from "./evidence.js";
import { benchGlob } from "./glob.js";
import { benchGraph } from "./graph.js";
import { benchLedger } from "./ledger.js";
import { benchMiddleware } from "./middleware.js";

/** `npm run bench`: every benchmark, side by side in one run. Speed is measured here, never in tests. */
const sections: [string, () => Promise<string[]>][] = [
  ["ledger", benchLedger],
  ["graph", benchGraph],
  ["middleware", () => benchMiddleware()],
  ["glob", benchGlob],
  ["evidence", benchEvidence],
  ["redis", async () => (await import("./redis.js")).benchRedis()],
];
const only = process.argv.slice(2);
const { cpus, loadavg } = await import("node:os");
console.log(`tollgate benchmarks — node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}`);
console.log(
  `${new Date().toISOString()}, load average at start: ${loadavg()
    .map((load) => load.toFixed(2))
    .join(" ")}`,
);
for (const [name, section] of sections) {
  if (only.length > 0 && !only.includes(name)) continue;
  const lines = await section();
  console.log(`\n${lines.join("\n")}`);
}
