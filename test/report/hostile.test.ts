import { describe, expect, it } from "vitest";
import { escapeHtml } from "../../src/cli/report/escape.js";
import { renderReportHtml } from "../../src/cli/report/html.js";
import { hostileReportInput, markup, quote, script } from "./hostile-input.js";

describe("report from hostile values", () => {
  it("escapes every string and number it writes into the page", () => {
    const html = renderReportHtml({ ...hostileReportInput(), source: `file${markup}.jsonl` });
    expect(html).not.toMatch(/<script|<meta http-equiv="refresh"/i);
    expect(html).not.toContain('" onmouseover="');
    expect(html).not.toContain('" onload="');
    for (const value of [script, quote, markup]) expect(html).toContain(escapeHtml(value));
    expect(html).toContain("x&quot; onmouseover=&quot;alert(2)");
    // The page's own markup: one meta for the charset, one for the viewport, one for the CSP.
    expect(html.match(/<meta /g)).toHaveLength(3);
  });
});
