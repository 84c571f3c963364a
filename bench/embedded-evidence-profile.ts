/**
 * Profile target: reserve + commit with evidence on, each round linked (`linkChains`), nothing else.
 *   node --cpu-prof --cpu-prof-dir DIR --import tsx bench/embedded-evidence-profile.ts
 */
import { generateSigningKey, privateKeyPem } from "../src/evidence/keys.js";
import { createLedger } from "../src/ledger/create-ledger.js";
import type { KeyvSingleProcessStore } from "../src/store/keyv-store.js";

const key = generateSigningKey("bench");
const ledger = createLedger({
  sweepIntervalMs: 0,
  evidence: { privateKey: privateKeyPem(key), keyId: key.keyId, checkpointEveryEvents: 1_000 },
});
const subject = { tenant: "t0", workspace: "production", app: "support-bot", agent: "resolver", toolset: "send-email" };
const action = { name: "send_email", tier: "write-external" as const };
await ledger.setBudget({ scope: "tenant:t0", limit: Number.MAX_SAFE_INTEGER });
await ledger.setBudget({ scope: "tenant:t0/workspace:production/app:support-bot", limit: Number.MAX_SAFE_INTEGER });
await ledger.setBudget({ scope: "tenant:t0/toolset:send-email", limit: Number.MAX_SAFE_INTEGER });
const store = (await ledger.store) as KeyvSingleProcessStore;
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 10_000; i++) {
    const response = await ledger.reserve({ subject, action, estimate: 1 });
    await ledger.commit(response.reservationId as string);
  }
  await store.linkChains();
}
await ledger.close();
