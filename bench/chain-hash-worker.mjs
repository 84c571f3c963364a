// Worker of the off-thread hashing prototype (bench/embedded-evidence.ts): links each batch of
// events it is sent (JCS + SHA-256, as recordHashOf does) and answers with the batch's last hash.
import { createHash } from "node:crypto";
import { parentPort } from "node:worker_threads";
import canonicalize from "canonicalize";

let prevHash = "0".repeat(64);
parentPort.on("message", ({ tenant, firstSeq, events }) => {
  for (let index = 0; index < events.length; index++) {
    const bytes = Buffer.from(canonicalize({ tenant, seq: firstSeq + index, prevHash, event: events[index] }), "utf8");
    prevHash = createHash("sha256").update(bytes).digest("hex");
  }
  parentPort.postMessage({ lastSeq: firstSeq + events.length - 1, hash: prevHash });
});
