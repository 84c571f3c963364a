import { randomUUID } from "node:crypto";
import { TollgateError } from "../../core/errors.js";
import type { RedisConnection } from "./connection.js";

/** How long one grant of the lease lasts; the holder renews it every third of that. */
export const policyLeaseMsDefault = 30_000;
/** Between two tries for a lease another writer holds. */
const leaseRetryMs = 100;

// Only the holder's token may extend or drop the lease (the key may have lapsed and gone to another).
const renewScript =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
const releaseScript = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * Runs `work` holding the lease at `key` (SET NX PX with a token of this holder): one holder at a
 * time across every process on the server. A lease another holder keeps is waited for, `waitMs` at
 * most; one whose holder died lapses after `leaseMs`. While `work` runs the lease is renewed; `held()`
 * is false once a renewal was refused or none succeeded for `leaseMs` (it may be someone else's now).
 */
export async function withRedisLease<T>(
  connection: RedisConnection,
  key: string,
  work: (held: () => boolean) => Promise<T>,
  options: { waitMs: number; leaseMs?: number },
): Promise<T> {
  const leaseMs = options.leaseMs ?? policyLeaseMsDefault;
  const token = randomUUID();
  const giveUpAtMs = Date.now() + options.waitMs;
  for (;;) {
    const reply = await connection.send(key, ["SET", key, token, "NX", "PX", String(leaseMs)]);
    if (reply === "OK") break;
    if (Date.now() + leaseRetryMs > giveUpAtMs) {
      throw new TollgateError(
        "POLICY_APPLY_BUSY",
        `Another policy apply holds the store (its lease ${key}); waited ${options.waitMs} ms. Try again once it has finished.`,
        { transient: true },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, leaseRetryMs));
  }
  let renewedAtMs = Date.now();
  let refused = false;
  const renewal = setInterval(
    () => {
      const askedAtMs = Date.now();
      connection.send(key, ["EVAL", renewScript, "1", key, token, String(leaseMs)]).then(
        (renewed) => {
          if (renewed === 1) renewedAtMs = askedAtMs;
          else refused = true;
        },
        () => undefined,
      );
    },
    Math.floor(leaseMs / 3),
  );
  renewal.unref();
  const held = () => !refused && Date.now() - renewedAtMs < leaseMs;
  try {
    return await work(held);
  } finally {
    clearInterval(renewal);
    // A release that fails leaves the lease to lapse by itself.
    await connection.send(key, ["EVAL", releaseScript, "1", key, token]).catch(() => undefined);
  }
}
