import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderReportHtml } from "../../src/cli/report/html.js";
import { hostileReportInput, markup, quote, script } from "./hostile-input.js";
import { sampleRun } from "./sample-run.js";

const chromiumPath = "/usr/bin/chromium";
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const outDir = join(process.cwd(), ".tmp", "report-test");

interface PageWindow {
  getComputedStyle(element: unknown): { fill: string };
}

/** The report as a person sees it: a real headless Chromium opens the file from disk. */
function suite() {
  let browser: Browser;
  beforeAll(async () => {
    mkdirSync(outDir, { recursive: true });
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  });
  afterAll(async () => {
    await browser?.close();
  });

  async function open(name: string, html: string) {
    const file = join(outDir, `${name}.html`);
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const problems: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(String(error)));
    const requests: string[] = [];
    page.on("request", (request) => {
      if (!request.url().startsWith("file:")) requests.push(request.url());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    return { page, problems, requests, screenshot: join(outDir, `${name}.png`) };
  }

  it("renders the enforced run: charts, shaded bands, denied reasons, approvals, no console errors", async () => {
    const run = await sampleRun();
    await run.ledger.close();
    const { page, problems, requests, screenshot } = await open(
      "enforced",
      renderReportHtml({ events: run.events, budgets: run.budgets, title: "Per-tenant run" }),
    );
    expect(await page.title()).toBe("Per-tenant run");
    expect(await page.locator("h1").textContent()).toBe("Per-tenant run");
    // One utilization chart per budget touched (5) and one decisions chart.
    expect(await page.locator("svg.chart.utilization").count()).toBe(5);
    expect(await page.locator("svg.chart.decisions").count()).toBe(1);
    const chartBox = await page.locator("svg.chart.utilization").first().boundingBox();
    expect(chartBox?.width).toBeGreaterThan(600);
    expect(chartBox?.height).toBeGreaterThan(150);
    // Narrowing bands are shaded: filled rectangles behind the line, visible on screen.
    const bands = page.locator("#utilization svg rect.band");
    expect(await bands.count()).toBeGreaterThanOrEqual(12);
    // Runs in the page; the project's TypeScript has no DOM library, hence the narrow cast.
    const fills = await bands.evaluateAll((rects) =>
      rects.map((rect) => (globalThis as unknown as PageWindow).getComputedStyle(rect).fill),
    );
    expect(new Set(fills).size).toBeGreaterThanOrEqual(3);
    expect(fills.every((fill) => fill !== "none" && fill !== "rgb(0, 0, 0)")).toBe(true);
    expect(await page.locator("#utilization svg path.line").count()).toBe(5);
    expect(await page.locator("#utilization svg circle.denial").count()).toBe(6);
    // Decisions per tool: every kind of answer has a bar segment.
    for (const kind of ["allow", "allow-with-caps", "deny"]) {
      expect(await page.locator(`svg.decisions rect.segment.${kind}`).count(), kind).toBeGreaterThan(0);
    }
    // The denied table lists each denial with its reason, in words too.
    const reasons = await page.locator("#denied tbody tr .reason").allTextContents();
    expect(reasons).toEqual([
      "BUDGET_EXCEEDED",
      "BUDGET_EXCEEDED",
      "BUDGET_EXCEEDED",
      "TIER_DISABLED",
      "TIER_DISABLED",
      "BUDGET_EXCEEDED",
    ]);
    expect(await page.locator("#denied tbody").textContent()).toContain("narrowing had disabled this tier");
    expect(await page.locator("#approvals tbody tr").count()).toBe(1);
    expect(await page.locator("#approvals tbody").textContent()).toContain("alice@starter-co");
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(existsSync(screenshot)).toBe(true);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });

  it("renders the shadow run with the denial rate enforcing would cause", async () => {
    const run = await sampleRun("shadow");
    await run.ledger.close();
    const { page, problems, screenshot } = await open(
      "shadow",
      renderReportHtml({ events: run.events, budgets: run.budgets, title: "Shadow rollout" }),
    );
    expect(await page.locator("#shadow").textContent()).toContain(
      "Enforcing this policy would deny 6 of 19 decisions (32%)",
    );
    expect(await page.locator("svg.decisions rect.segment.would-deny").count()).toBe(2);
    expect(await page.locator("#denied tbody tr.shadow").count()).toBe(6);
    await page.screenshot({ path: screenshot, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows hostile tool names, actors and numbers as text: nothing runs, nothing navigates", async () => {
    const input = hostileReportInput();
    const { page, problems, requests } = await open("hostile", renderReportHtml({ ...input, source: markup }));
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.locator("svg.decisions text.tool").first().hover();
    await page.waitForTimeout(1_200);
    expect(page.url()).toMatch(/^file:.*hostile\.html$/);
    expect(await page.title()).toBe(input.title);
    expect(await page.locator("script").count()).toBe(0);
    expect(await page.locator("meta[http-equiv=refresh]").count()).toBe(0);
    expect(await page.locator("#denied tbody").textContent()).toContain(markup);
    expect(await page.locator("#approvals tbody").textContent()).toContain(quote);
    expect(await page.locator("#decisions tbody").textContent()).toContain(`send${script}`);
    expect(dialogs).toEqual([]);
    expect(requests).toEqual([]);
    // A band edge that is not a number draws nowhere (the browser says so); nothing else goes wrong.
    expect(problems.filter((problem) => !/attribute \w+: Expected length, "NaN"/.test(problem))).toEqual([]);
    await page.close();
  });
}

if (existsSync(chromiumPath)) describe("HTML report in a real browser", { timeout: 60_000 }, suite);
else if (process.env.CI === "true") {
  describe("HTML report in a real browser", () => {
    it("needs Debian's chromium on CI", () => {
      throw new Error(`${chromiumPath} is missing: apt-get install -y --no-install-recommends chromium`);
    });
  });
} else describe.skip("HTML report in a real browser", suite);
