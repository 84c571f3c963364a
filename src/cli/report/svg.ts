import type { Band } from "../../core/narrowing.js";
import { formatPercent, formatReportTime, type Html, html } from "./escape.js";
import { type ScopeSeries, type ToolDecisions, total } from "./model.js";

/** Inline SVG charts, built as strings: no scripts, no fonts, no network. */

export const decisionColors = {
  allow: "#2e7d32",
  allowWithCaps: "#f2a900",
  deny: "#c62828",
  wouldDeny: "#c62828",
} as const;

/** Band fill by how much it disables: nothing, external effects, all writes, everything. */
export function bandColor(band: Band): string {
  const disabled = band.disabledTiers.length;
  if (disabled === 0) return "#e6f4ea";
  if (disabled <= 3) return "#fff3cd";
  if (disabled === 4) return "#ffe0c2";
  return "#f8d0d0";
}

const chart = { width: 760, height: 220, left: 48, right: 16, top: 14, bottom: 30 };

export function utilizationChart(series: ScopeSeries, range: { fromMs: number; toMs: number }): Html {
  const plotWidth = chart.width - chart.left - chart.right;
  const plotHeight = chart.height - chart.top - chart.bottom;
  // Overdraft can push past 100%; show up to 150% so the line never leaves the chart.
  const yMax = Math.min(1.5, Math.max(1, series.peakUtilization));
  const fromMs = range.fromMs;
  const spanMs = Math.max(range.toMs - range.fromMs, 1_000);
  const x = (atMs: number) => chart.left + ((atMs - fromMs) / spanMs) * plotWidth;
  const y = (share: number) => chart.top + plotHeight - (Math.min(share, yMax) / yMax) * plotHeight;
  const parts: Html[] = [];
  const label = `Utilization of ${series.scope} (${series.unit}) over time`;
  parts.push(
    html`<svg class="chart utilization" role="img" aria-label="${label}" viewBox="0 0 ${chart.width} ${chart.height}" width="100%" preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">`,
    html`<title>${label}</title>`,
  );
  // Narrowing bands first, behind everything: the shade says what is disabled at that utilization.
  const bands = series.bands ?? [];
  bands.forEach((band, index) => {
    const upper = index + 1 < bands.length ? bands[index + 1].from : yMax;
    if (band.from >= yMax) return;
    const top = y(Math.min(upper, yMax));
    const bottom = y(band.from);
    const disabled = band.disabledTiers.length === 0 ? "full access" : `${band.disabledTiers.join(", ")} disabled`;
    parts.push(
      html`<rect class="band" data-band-from="${band.from}" data-disabled-tiers="${band.disabledTiers.length}" x="${chart.left}" y="${fmt(top)}" width="${plotWidth}" height="${fmt(Math.max(bottom - top, 0))}" fill="${bandColor(band)}"><title>${`from ${formatPercent(band.from)}: ${disabled}`}</title></rect>`,
    );
  });
  for (const tick of [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5].filter((share) => share <= yMax)) {
    parts.push(
      html`<line class="grid" x1="${chart.left}" x2="${chart.width - chart.right}" y1="${fmt(y(tick))}" y2="${fmt(y(tick))}" stroke="${tick === 1 ? "#555" : "#ccc"}" stroke-width="${tick === 1 ? 1 : 0.5}"${tick === 1 ? html` stroke-dasharray="4 3"` : undefined}/>`,
      html`<text x="${chart.left - 6}" y="${fmt(y(tick) + 4)}" text-anchor="end" class="axis">${formatPercent(tick)}</text>`,
    );
  }
  const ticks = timeTicks(range.fromMs, range.fromMs + spanMs);
  ticks.forEach((tick, index) => {
    // The outer labels align inward so they never run off the chart.
    const anchor = index === 0 ? "start" : index === ticks.length - 1 ? "end" : "middle";
    parts.push(
      html`<text x="${fmt(x(tick.atMs))}" y="${chart.height - 10}" text-anchor="${anchor}" class="axis">${tick.label}</text>`,
    );
  });
  const points = series.points;
  if (points.length > 0) {
    // A step line: utilization holds its value until the next event changes it.
    let path = `M${fmt(x(points[0].atMs))},${fmt(y(points[0].utilization))}`;
    for (const point of points.slice(1)) path += `H${fmt(x(point.atMs))}V${fmt(y(point.utilization))}`;
    const endX = fmt(x(points[points.length - 1].atMs));
    const area = `${path}V${fmt(y(0))}H${fmt(x(points[0].atMs))}Z`;
    parts.push(html`<path class="area" d="${area}" fill="#1a5fb4" fill-opacity="0.08" stroke="none"/>`);
    parts.push(html`<path class="line" d="${path}" fill="none" stroke="#1a5fb4" stroke-width="2"/>`);
    parts.push(html`<circle cx="${endX}" cy="${fmt(y(points[points.length - 1].utilization))}" r="3" fill="#1a5fb4"/>`);
  }
  for (const point of points.filter((candidate) => candidate.deniedHere)) {
    const tip = `${formatReportTime(point.atMs)}: denied${point.tool ? ` ${point.tool}` : ""} at ${formatPercent(point.utilization)} used, ${point.remaining} of ${point.allocated} left`;
    parts.push(
      html`<circle class="denial" cx="${fmt(x(point.atMs))}" cy="${fmt(y(point.utilization))}" r="4.5" fill="${decisionColors.deny}" stroke="#fff" stroke-width="1"><title>${tip}</title></circle>`,
    );
  }
  parts.push(
    html`<rect x="${chart.left}" y="${chart.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#999" stroke-width="0.5"/>`,
    html`</svg>`,
  );
  return html`${parts}`;
}

function timeTicks(fromMs: number, toMs: number): { atMs: number; label: string }[] {
  const sameDay = new Date(fromMs).toISOString().slice(0, 10) === new Date(toMs).toISOString().slice(0, 10);
  const ticks: { atMs: number; label: string }[] = [];
  const count = 5;
  // A run shorter than the ticks are apart in seconds would repeat one label: show milliseconds then.
  const withMs = (toMs - fromMs) / (count - 1) < 1_000;
  for (let index = 0; index < count; index++) {
    const atMs = fromMs + ((toMs - fromMs) * index) / (count - 1);
    const label = formatReportTime(atMs, sameDay);
    ticks.push({
      atMs,
      label: withMs ? `${label.slice(0, -1)}.${new Date(atMs).toISOString().slice(20, 23)}Z` : label,
    });
  }
  return ticks;
}

const bars = { width: 760, rowHeight: 28, labelWidth: 190, legendHeight: 30, countWidth: 120 };

/** Horizontal stacked bars, one per tool: allowed, allowed with caps, denied, would be denied. */
export function decisionsChart(tools: readonly ToolDecisions[]): Html {
  const height = bars.legendHeight + tools.length * bars.rowHeight + 8;
  const plotWidth = bars.width - bars.labelWidth - bars.countWidth;
  const most = Math.max(1, ...tools.map(total));
  const parts: Html[] = [
    html`<svg class="chart decisions" role="img" aria-label="Decisions per tool" viewBox="0 0 ${bars.width} ${height}" width="100%" xmlns="http://www.w3.org/2000/svg">`,
    html`<title>Decisions per tool</title>`,
    html`<defs><pattern id="would-deny-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f8d0d0"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c62828" stroke-width="3"/></pattern></defs>`,
  ];
  const legend = [
    { label: "ALLOW", fill: decisionColors.allow },
    { label: "ALLOW_WITH_CAPS", fill: decisionColors.allowWithCaps },
    { label: "DENY", fill: decisionColors.deny },
    { label: "would DENY (shadow)", fill: "url(#would-deny-hatch)" },
  ];
  let legendX = bars.labelWidth;
  for (const item of legend) {
    parts.push(
      html`<rect x="${legendX}" y="8" width="12" height="12" fill="${item.fill}"/><text x="${legendX + 17}" y="18" class="legend">${item.label}</text>`,
    );
    legendX += 30 + item.label.length * 7;
  }
  tools.forEach((counts, index) => {
    const top = bars.legendHeight + index * bars.rowHeight;
    const name = counts.tool.length > 26 ? `${counts.tool.slice(0, 25)}…` : counts.tool;
    parts.push(
      html`<text x="${bars.labelWidth - 8}" y="${top + 18}" text-anchor="end" class="tool"><title>${counts.tool}</title>${name}</text>`,
    );
    let barX = bars.labelWidth;
    const segments = [
      { kind: "allow", count: counts.allow, fill: decisionColors.allow },
      { kind: "allow-with-caps", count: counts.allowWithCaps, fill: decisionColors.allowWithCaps },
      { kind: "deny", count: counts.deny, fill: decisionColors.deny },
      { kind: "would-deny", count: counts.wouldDeny, fill: "url(#would-deny-hatch)" },
    ];
    for (const segment of segments) {
      if (segment.count === 0) continue;
      const width = (segment.count / most) * plotWidth;
      parts.push(
        html`<rect class="segment ${segment.kind}" x="${fmt(barX)}" y="${top + 5}" width="${fmt(width)}" height="${bars.rowHeight - 10}" fill="${segment.fill}"><title>${`${counts.tool}: ${segment.count} ${segment.kind.replace(/-/g, " ")}`}</title></rect>`,
      );
      barX += width;
    }
    const denials = [
      counts.deny > 0 ? `${counts.deny} denied` : "",
      counts.wouldDeny > 0 ? `${counts.wouldDeny} would be` : "",
    ];
    const summary = `${total(counts)}${counts.deny + counts.wouldDeny > 0 ? ` (${denials.filter(Boolean).join(", ")})` : ""}`;
    parts.push(html`<text x="${fmt(barX + 6)}" y="${top + 18}" class="count">${summary}</text>`);
  });
  parts.push(html`</svg>`);
  return html`${parts}`;
}

function fmt(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
