// Small pieces the pages share: a stat tile, an error line, a kind badge and
// a record field (text, pretty JSON or hex; always rendered as text).

import { html } from "./html.ts";
import type { FieldView } from "./types.ts";
import { bytes } from "./format.ts";

/** A figure with its label; `bad` highlights it (a count that should be 0 and is not). */
export function Stat(props: { label: string; value: string; testId?: string; bad?: boolean }) {
  return html`<div class=${props.bad === true ? "stat stat-bad" : "stat"} data-testid=${props.testId}><div class="stat-value">${props.value}</div><div class="stat-label">${props.label}</div></div>`;
}

export function ErrorLine(props: { error: string | null; testId?: string }) {
  if (props.error === null) return null;
  return html`<div class="error" role="alert" data-testid=${props.testId ?? "error"}>${props.error}</div>`;
}

export function Field(props: { view: FieldView; testId?: string }) {
  const v = props.view;
  if (v === null) return html`<span class="muted">null</span>`;
  return html`<div class="field" data-testid=${props.testId}>
    <span class=${`badge badge-${v.kind}`}>${v.kind === "binary" ? "hex" : v.kind}</span>
    ${v.truncated ? html`<span class="badge">first ${bytes(v.text.length)} of ${bytes(v.size)}</span>` : null}
    <pre class="value">${v.text}</pre>
  </div>`;
}

/** "k=v" lines to a map; throws naming the bad line. */
export function parseKeyValueLines(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "") continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`${what}, line ${i + 1}: expected KEY=VALUE, got '${line}'`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}
