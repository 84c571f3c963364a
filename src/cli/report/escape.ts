const replacements: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML and SVG content and attribute values: tool names and actors are anyone's. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (char) => replacements[char]);
}

/** `2026-11-24 20:28:27Z`, or only the time when every event is on one day. */
export function formatReportTime(ms: number, timeOnly = false): string {
  const iso = new Date(ms).toISOString();
  return timeOnly ? `${iso.slice(11, 19)}Z` : `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(share < 0.1 && share > 0 ? 1 : 0)}%`;
}
