const replacements: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML and SVG content and attribute values: tool names and actors are anyone's. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (char) => replacements[char]);
}

/** Markup the report made itself. Only `html` and `trustedHtml` make one. */
export class Html {
  readonly #text: string;
  private constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
  /** @internal */
  static of(text: string): Html {
    return new Html(text);
  }
}

type Interpolated = Html | string | number | boolean | null | undefined | readonly Interpolated[];

/**
 * The one way the report writes markup: every `${value}` is escaped (strings and numbers alike:
 * an imported number may be anything), except markup built by `html` itself; a list is joined;
 * `undefined`, `null` and `false` write nothing. Attribute values must be quoted.
 */
export function html(strings: TemplateStringsArray, ...values: Interpolated[]): Html {
  let text = strings[0];
  for (let index = 0; index < values.length; index++) text += render(values[index]) + strings[index + 1];
  return Html.of(text);
}

/** For the report's own constants that must not be escaped (its style sheet). Never for data. */
export function trustedHtml(constant: string): Html {
  return Html.of(constant);
}

function render(value: Interpolated): string {
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return value.map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(value);
}

/** `2026-11-24 20:28:27Z`, or only the time when every event is on one day. */
export function formatReportTime(ms: number, timeOnly = false): string {
  const iso = new Date(ms).toISOString();
  return timeOnly ? `${iso.slice(11, 19)}Z` : `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
}

export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(share < 0.1 && share > 0 ? 1 : 0)}%`;
}
