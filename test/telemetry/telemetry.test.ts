import {
  type Attributes,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import { createLedger } from "../../src/ledger/create-ledger.js";
import { telemetryAttributes as attr, telemetryReady } from "../../src/ledger/telemetry.js";

/** A minimal recording SDK: enough to see what the ledger emits, with no exporter. */
interface RecordedSpan {
  name: string;
  attributes: Attributes;
  status?: { code: number };
  ended: boolean;
}

function recordingProvider(): { provider: TracerProvider; spans: RecordedSpan[] } {
  const spans: RecordedSpan[] = [];
  const tracer: Partial<Tracer> = {
    startSpan(name: string, _options?: SpanOptions): Span {
      const recorded: RecordedSpan = { name, attributes: {}, ended: false };
      spans.push(recorded);
      const span: Partial<Span> = {
        setAttribute(key, value) {
          recorded.attributes[key] = value;
          return span as Span;
        },
        setStatus(status) {
          recorded.status = status;
          return span as Span;
        },
        end() {
          recorded.ended = true;
        },
      };
      return span as Span;
    },
  };
  return { provider: { getTracer: () => tracer as Tracer }, spans };
}

const subject = { tenant: "acme", toolset: "send-email" };
const action = { name: "send_email", tier: "write-external" as const };

describe("telemetry", () => {
  afterEach(() => {
    trace.disable();
  });

  it("emits nothing while the application registers no SDK, and starts once one is registered", async () => {
    await telemetryReady();
    const { provider, spans } = recordingProvider();
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 40 });
    const r = await ledger.reserve({ subject, action, estimate: 20 });
    await ledger.commit(r.reservationId as string);
    expect(spans).toHaveLength(0);
    // The same ledger, once an SDK is there: the recorder works, so the silence above was real.
    trace.setGlobalTracerProvider(provider);
    await ledger.decide({ subject, action, estimate: 1 });
    expect(spans.map((span) => span.name)).toEqual(["tollgate.decide"]);
    await ledger.close();
  });

  it("records a span per decision and settlement with scope, tool, decision, reason and remaining", async () => {
    await telemetryReady();
    const { provider, spans } = recordingProvider();
    trace.setGlobalTracerProvider(provider);
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 40 });

    const allowed = await ledger.reserve({ subject, action, estimate: 30, runId: "thread-1" });
    await ledger.commit(allowed.reservationId as string, { actual: 25 });
    await ledger.reserve({ subject, action, estimate: 30 });
    await ledger.decide({ subject, action, estimate: 1 });

    expect(spans.map((span) => span.name)).toEqual([
      "tollgate.reserve",
      "tollgate.commit",
      "tollgate.reserve",
      "tollgate.decide",
    ]);
    expect(spans.every((span) => span.ended)).toBe(true);
    const [reserve, commit, denied, decide] = spans;
    expect(reserve.attributes).toMatchObject({
      [attr.scope]: "tenant:acme/toolset:send-email",
      [attr.tool]: "send_email",
      [attr.tier]: "write-external",
      [attr.decision]: "ALLOW",
      [attr.remaining]: 10,
      [attr.estimate]: 30,
      [attr.runId]: "thread-1",
      [attr.dryRun]: false,
      [attr.mode]: "enforce",
    });
    expect(reserve.attributes[attr.reason]).toBeUndefined();
    expect(commit.attributes).toMatchObject({ [attr.charged]: 25, [attr.released]: 5, [attr.remaining]: 15 });
    expect(denied.attributes).toMatchObject({
      [attr.decision]: "DENY",
      [attr.reason]: "BUDGET_EXCEEDED",
      [attr.deniedScope]: "tenant:acme/toolset:send-email",
      [attr.remaining]: 15,
    });
    expect(denied.status).toBeUndefined();
    expect(decide.attributes).toMatchObject({ [attr.dryRun]: true, [attr.decision]: "ALLOW" });
    await ledger.close();
  });

  it("records what enforcement would have answered in shadow mode", async () => {
    await telemetryReady();
    const { provider, spans } = recordingProvider();
    trace.setGlobalTracerProvider(provider);
    const ledger = createLedger({ sweepIntervalMs: 0, mode: "shadow" });
    await ledger.setBudget({ scope: "tenant:acme/toolset:send-email", limit: 10 });
    await ledger.reserve({ subject, action, estimate: 20 });
    expect(spans[0].attributes).toMatchObject({
      [attr.decision]: "ALLOW",
      [attr.shadowDecision]: "DENY",
      [attr.shadowReason]: "BUDGET_EXCEEDED",
      [attr.mode]: "shadow",
    });
    await ledger.close();
  });

  it("marks an unreachable ledger as an error span (and still fails closed)", async () => {
    await telemetryReady();
    const { provider, spans } = recordingProvider();
    trace.setGlobalTracerProvider(provider);
    const ledger = createLedger({ sweepIntervalMs: 0 });
    await ledger.close();
    const r = await ledger.reserve({ subject, action, estimate: 1 });
    expect(r.decision).toBe("DENY");
    expect(spans[0].attributes[attr.reason]).toBe("LEDGER_UNAVAILABLE");
    expect(spans[0].status?.code).toBe(2);
  });
});
