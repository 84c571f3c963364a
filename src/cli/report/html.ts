import type { Band } from "../../core/narrowing.js";
import { formatPercent, formatReportTime, type Html, html, trustedHtml } from "./escape.js";
import { buildReportModel, type ReportInput, type ReportModel, type ScopeSeries, total } from "./model.js";
import { reasonDescriptions } from "./reasons.js";
import { bandColor, decisionColors, decisionsChart, utilizationChart } from "./svg.js";

/**
 * One self-contained HTML page: inline CSS and SVG, no scripts, and a content security policy
 * that forbids any network fetch, so it opens the same from a laptop, a ticket or an air gap.
 */
export function renderReportHtml(input: ReportInput): string {
  return renderModel(buildReportModel(input));
}

export function renderModel(model: ReportModel): string {
  const body = [
    header(model),
    tiles(model),
    utilizationSection(model),
    decisionsSection(model),
    shadowSection(model),
    deniedSection(model),
    approvalsSection(model),
    html`<footer><p>Utilization is (spent + held + debt) / allocated after each event. Shaded bands are the budget's narrowing: from each band's lower edge, the tiers it lists are disabled. Times are UTC.</p><p>Made by <code>tollgate report</code> from the audit log.</p></footer>`,
  ];
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${model.title}</title>
<style>${trustedHtml(styles)}</style>
</head>
<body>
<main>
${lines(body)}
</main>
</body>
</html>
`.toString();
}

/** Sections one per line, as the page source reads best. */
function lines(parts: readonly (Html | undefined)[]): Html[] {
  return parts.filter((part) => part !== undefined).flatMap((part, index) => (index === 0 ? [part] : [html`\n`, part]));
}

function header(model: ReportModel): Html {
  const sameDay = formatReportTime(model.fromMs).slice(0, 10) === formatReportTime(model.toMs).slice(0, 10);
  const span =
    model.eventCount === 0
      ? "no events"
      : `${formatReportTime(model.fromMs)} to ${formatReportTime(model.toMs, sameDay)}`;
  const meta = [
    model.source ? `from ${model.source}` : undefined,
    span,
    `${model.eventCount} audit events`,
    `generated ${formatReportTime(model.generatedAtMs)}`,
  ]
    .filter(Boolean)
    .join(" · ");
  return html`<header><h1>${model.title}</h1><p class="meta">${meta}</p></header>`;
}

function tiles(model: ReportModel): Html {
  const { totals } = model;
  const denyShare = totals.decisions === 0 ? 0 : (totals.deny + totals.wouldDeny) / totals.decisions;
  const items = [
    { label: "decisions", value: String(totals.decisions), tone: "" },
    { label: "allowed", value: String(totals.allow), tone: "allow" },
    { label: "allowed with caps", value: String(totals.allowWithCaps), tone: "caps" },
    { label: "denied", value: String(totals.deny), tone: "deny" },
  ];
  const shadow = totals.wouldDeny > 0;
  if (shadow) items.push({ label: "would deny (shadow)", value: String(totals.wouldDeny), tone: "deny" });
  items.push({
    label: shadow ? "denial rate if enforced" : "denial rate",
    value: formatPercent(denyShare),
    tone: denyShare > 0 ? "deny" : "",
  });
  return html`<section class="tiles" aria-label="Totals">${items.map(
    (item) =>
      html`<div class="tile ${item.tone}"><div class="value">${item.value}</div><div class="label">${item.label}</div></div>`,
  )}</section>`;
}

function utilizationSection(model: ReportModel): Html {
  const intro = html`<p>How much of each budget was used or held over the run. The line steps at each decision or settlement; red dots are actions denied by that budget.</p>`;
  if (model.series.length === 0) {
    return html`<section id="utilization"><h2>Budget utilization over time</h2>${intro}<p class="empty">No decision in this log touched a budget.</p></section>`;
  }
  const cards = lines(model.series.map((series) => utilizationCard(series, model)));
  const omitted =
    model.seriesOmitted.length > 0
      ? html`<p class="note">${model.seriesOmitted.length} quieter scope(s) not charted: ${model.seriesOmitted.slice(0, 20).join(", ")}${model.seriesOmitted.length > 20 ? ", …" : ""}</p>`
      : undefined;
  return html`<section id="utilization"><h2>Budget utilization over time</h2>${intro}${cards}${omitted}</section>`;
}

function utilizationCard(series: ScopeSeries, model: ReportModel): Html {
  const last = series.points[series.points.length - 1];
  const facts = [
    series.unit,
    series.window ? `window ${series.window}` : undefined,
    last ? `limit ${last.allocated}` : undefined,
    last ? `${last.remaining} left` : undefined,
    `peak ${formatPercent(series.peakUtilization)}`,
    series.denials > 0 ? html`<span class="deny-text">${series.denials} denied here</span>` : "no denials here",
  ]
    .filter((fact) => fact !== undefined)
    .flatMap((fact, index) => (index === 0 ? [fact] : [" · ", fact]));
  const windowNote =
    series.window === "run"
      ? html`<p class="note">A per-run budget: each run starts again from 0, so the line falls back when a new run begins.</p>`
      : undefined;
  const thinned =
    series.pointsDropped > 0
      ? html`<p class="note">${series.pointsDropped} points thinned out; every denial is kept.</p>`
      : undefined;
  return html`<figure class="chart-card"><figcaption><code>${series.scope}</code> <span class="facts">${facts}</span></figcaption>${utilizationChart(series, model)}${bandLegend(series.bands)}${windowNote}${thinned}</figure>`;
}

function bandLegend(bands: Band[] | null): Html {
  if (!bands) return html`<p class="note">No narrowing on this budget: full access until it runs out.</p>`;
  const items = bands.map((band, index) => {
    const upper = index + 1 < bands.length ? formatPercent(bands[index + 1].from) : "";
    const range = upper ? `${formatPercent(band.from)}–${upper}` : `${formatPercent(band.from)} and up`;
    const what = band.disabledTiers.length === 0 ? "full access" : `${band.disabledTiers.join(", ")} disabled`;
    return html`<li><span class="swatch" style="background:${bandColor(band)}"></span>${range}: ${what}</li>`;
  });
  return html`<ul class="band-legend">${items}</ul>`;
}

function decisionsSection(model: ReportModel): Html {
  if (model.tools.length === 0) {
    return html`<section id="decisions"><h2>Decisions per tool</h2><p class="empty">No decisions in this log.</p></section>`;
  }
  const rows = model.tools.map(
    (tool) =>
      html`<tr><td><code>${tool.tool}</code></td><td class="num">${tool.allow}</td><td class="num">${tool.allowWithCaps}</td><td class="num">${tool.deny}</td><td class="num">${tool.wouldDeny}</td><td class="num">${total(tool)}</td></tr>`,
  );
  return html`<section id="decisions"><h2>Decisions per tool</h2>${decisionsChart(model.tools)}<table class="counts"><thead><tr><th>tool</th><th>ALLOW</th><th>ALLOW_WITH_CAPS</th><th>DENY</th><th>would DENY</th><th>total</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function shadowSection(model: ReportModel): Html | undefined {
  const { totals } = model;
  if (totals.wouldDeny === 0) return undefined;
  const enforcedDenials = totals.deny + totals.wouldDeny;
  const rows = model.tools
    .filter((tool) => tool.wouldDeny > 0)
    .map(
      (tool) =>
        html`<tr><td><code>${tool.tool}</code></td><td class="num">${tool.wouldDeny}</td><td class="num">${tool.deny + tool.wouldDeny} of ${total(tool)}</td><td class="num">${formatPercent((tool.deny + tool.wouldDeny) / Math.max(total(tool), 1))}</td></tr>`,
    );
  return html`<section id="shadow"><h2>Shadow rollout: what enforcing would deny</h2><p>In shadow mode, ${totals.wouldDeny} decision(s) were recorded as denials that enforcement would make; those actions ran. Enforcing this policy would deny <strong class="deny-text">${enforcedDenials} of ${totals.decisions} decisions (${formatPercent(enforcedDenials / Math.max(totals.decisions, 1))})</strong>.</p><table class="counts"><thead><tr><th>tool</th><th>would deny (shadow)</th><th>denied if enforced</th><th>denial rate if enforced</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

function deniedSection(model: ReportModel): Html {
  if (model.denied.length === 0) {
    return html`<section id="denied"><h2>Denied actions</h2><p class="empty">Nothing was denied.</p></section>`;
  }
  const rows = model.denied.map(
    (row) =>
      html`<tr${row.shadow ? html` class="shadow"` : undefined}><td class="time">${formatReportTime(row.atMs)}</td><td><code>${row.tool}</code></td><td>${row.tier}</td><td class="num">${row.estimate}</td><td><span class="reason" title="${reasonDescriptions[row.reason] ?? row.reason}">${row.reason}</span><div class="why">${reasonDescriptions[row.reason] ?? ""}</div></td><td><code>${row.deniedScope}</code></td><td><code>${row.scope}</code></td><td>${row.shadow ? "shadow (ran)" : "enforced"}</td><td>${row.runId}</td></tr>`,
  );
  const omitted =
    model.deniedOmitted > 0
      ? html`<p class="note">Showing the newest ${model.denied.length}; ${model.deniedOmitted} older denials omitted.</p>`
      : undefined;
  return html`<section id="denied"><h2>Denied actions</h2><table class="denied"><thead><tr><th>time</th><th>tool</th><th>tier</th><th>estimate</th><th>reason</th><th>denied by budget</th><th>subject scope</th><th>mode</th><th>run</th></tr></thead><tbody>${rows}</tbody></table>${omitted}</section>`;
}

function approvalsSection(model: ReportModel): Html {
  if (model.approvals.length === 0) {
    return html`<section id="approvals"><h2>Approvals</h2><p class="empty">No approvals in this log (an approval shows as an action run on an approver's behalf, or a denial for a rejected or timed-out approval).</p></section>`;
  }
  const rows = model.approvals.map(
    (row) =>
      html`<tr><td class="time">${formatReportTime(row.atMs)}</td><td><code>${row.tool}</code></td><td class="outcome ${row.outcome.replace(" ", "-")}">${row.outcome}</td><td>${row.actor}</td><td><code>${row.scope}</code></td></tr>`,
  );
  return html`<section id="approvals"><h2>Approvals</h2><table class="approvals"><thead><tr><th>time</th><th>tool</th><th>outcome</th><th>by</th><th>scope</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

const styles = `
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #e0e0e0; --allow: ${decisionColors.allow}; --caps: ${decisionColors.allowWithCaps}; --deny: ${decisionColors.deny}; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #fafafa; }
main { max-width: 1000px; margin: 0 auto; padding: 24px 20px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p { margin: 6px 0; }
.meta, .note, .empty, footer { color: var(--muted); font-size: 13px; }
code { font: 12.5px/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; margin: 18px 0 4px; }
.tile { flex: 1 1 120px; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.tile .value { font-size: 24px; font-weight: 600; }
.tile .label { color: var(--muted); font-size: 12.5px; }
.tile.allow .value { color: var(--allow); } .tile.caps .value { color: #a56f00; } .tile.deny .value { color: var(--deny); }
.chart-card { background: #fff; border: 1px solid var(--line); border-radius: 8px; margin: 14px 0; padding: 10px 14px 8px; }
figcaption { font-size: 14px; margin-bottom: 4px; } figcaption code { font-size: 13.5px; font-weight: 600; }
.facts { color: var(--muted); font-size: 12.5px; margin-left: 6px; }
svg.chart { display: block; margin: 4px 0; }
svg .axis, svg .legend, svg .count { font: 11px system-ui, sans-serif; fill: #444; }
svg .tool { font: 12px ui-monospace, Menlo, Consolas, monospace; fill: #222; }
.band-legend { list-style: none; padding: 0; margin: 4px 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12.5px; color: var(--muted); }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #ccc; vertical-align: -2px; margin-right: 5px; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 10px 0; font-size: 13px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f1f3f4; font-weight: 600; font-size: 12.5px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; }
table.counts td:nth-child(n+2), table.counts th:nth-child(n+2) { text-align: right; }
.reason { font-weight: 600; color: var(--deny); }
.why { color: var(--muted); font-size: 12px; }
tr.shadow td { background: #fff8f8; }
.deny-text { color: var(--deny); }
.outcome.approved { color: var(--allow); font-weight: 600; } .outcome.rejected, .outcome.timed-out { color: var(--deny); font-weight: 600; }
footer { margin-top: 40px; border-top: 1px solid var(--line); padding-top: 10px; }
`;
