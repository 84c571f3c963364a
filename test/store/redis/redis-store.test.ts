import { createRedisStore } from "../../../src/store/redis/index.js";
import { testLedgerStore } from "../conformance.js";
import { describeRedis, uniquePrefix, useRedisServer } from "./support.js";

describeRedis("redis store", () => {
  const redis = useRedisServer();

  // The same suite as the in-memory store, unchanged. Time moves by an offset the scripts add to
  // the server's TIME, so nothing sleeps.
  testLedgerStore("redis", async () => {
    let offsetMs = 0;
    const store = await createRedisStore({
      redis: redis.client,
      prefix: uniquePrefix("conformance"),
      timeOffsetMs: () => offsetMs,
    });
    return {
      store,
      advanceTimeMs: (ms: number) => {
        offsetMs += ms;
      },
      close: () => store.close(),
    };
  });
});
