// The message browser: records of one partition from an offset, the
// beginning, the end or a timestamp, a page at a time, with a key/value text
// filter. Keys, values and headers are shown as text, pretty JSON or hex, as
// the broker classified them (engine/http/record_view.ts); always as text.
// The query lives in the URL, so a page can be linked and reloaded.

import { useEffect, useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { time } from "../format.ts";
import { html } from "../html.ts";
import type { BrowsePage, TopicView } from "../types.ts";
import { ErrorLine, Field } from "../widgets.ts";

interface Query {
  partition: string;
  from: string;
  offset: string;
  timestamp: string;
  limit: string;
  filter: string;
}

function queryOf(q: URLSearchParams): Query {
  return {
    partition: q.get("partition") ?? "0",
    from: q.get("from") ?? "beginning",
    offset: q.get("offset") ?? "",
    timestamp: q.get("timestamp") ?? "",
    limit: q.get("limit") ?? "50",
    filter: q.get("filter") ?? "",
  };
}

function apiPath(topic: string, q: Query): string {
  const params = new URLSearchParams({ from: q.from, limit: q.limit });
  if (q.from === "offset") params.set("offset", q.offset);
  if (q.from === "timestamp") params.set("timestamp", String(Date.parse(q.timestamp) || q.timestamp));
  if (q.filter !== "") params.set("filter", q.filter);
  return `topics/${seg(topic)}/partitions/${encodeURIComponent(q.partition)}/records?${params}`;
}

function go(topic: string, q: Query): void {
  const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== "") as [string, string][]);
  location.hash = `#/topics/${seg(topic)}/messages?${params}`;
}

export function MessagesPage(props: { topic: string; query: URLSearchParams }) {
  const q = queryOf(props.query);
  const [form, setForm] = useState<Query>(q);
  const [page, setPage] = useState<BrowsePage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [partitions, setPartitions] = useState<number>(0);
  const key = props.query.toString();

  useEffect(() => {
    api.get<TopicView>(`topics/${seg(props.topic)}`).then((t) => setPartitions(t.partitions.length), (e: Error) => setError(e.message));
  }, [props.topic]);

  useEffect(() => {
    setForm(q);
    setError(null);
    api.get<BrowsePage>(apiPath(props.topic, q)).then(
      (p) => setPage(p),
      (e: Error) => {
        setPage(null);
        setError(e.message);
      },
    );
  }, [props.topic, key]);

  const set = (k: keyof Query) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  const submit = (e: Event) => {
    e.preventDefault();
    go(props.topic, form);
  };
  const limit = Number(q.limit) || 50;
  return html`
    <div class="crumbs"><a href="#/">Overview</a> / <a href=${`#/topics/${seg(props.topic)}`}>${props.topic}</a> / messages</div>
    <section class="card">
      <h2>Messages of ${props.topic}</h2>
      <form class="form inline browse" onSubmit=${submit} data-testid="browse-form">
        <label>partition <select name="partition" value=${form.partition} onChange=${set("partition")}>
          ${Array.from({ length: Math.max(partitions, Number(form.partition) + 1) }, (_, p) => html`<option value=${String(p)}>${p}</option>`)}
        </select></label>
        <label>from <select name="from" value=${form.from} onChange=${set("from")}>
          <option value="beginning">the beginning</option>
          <option value="end">the end</option>
          <option value="offset">an offset</option>
          <option value="timestamp">a time</option>
        </select></label>
        ${form.from === "offset" ? html`<label>offset <input name="offset" value=${form.offset} onInput=${set("offset")} size="10" /></label>` : null}
        ${form.from === "timestamp" ? html`<label>time <input name="timestamp" type="datetime-local" step="1" value=${form.timestamp} onInput=${set("timestamp")} /></label>` : null}
        <label>per page <input name="limit" value=${form.limit} onInput=${set("limit")} size="4" /></label>
        <label>filter (key or value) <input name="filter" value=${form.filter} onInput=${set("filter")} placeholder="text" /></label>
        <button class="btn btn-primary" type="submit">Show</button>
      </form>
      <${ErrorLine} error=${error} testId="browse-error" />
      ${page !== null ? html`<${Records} page=${page} />` : null}
      ${page !== null
        ? html`<div class="actions pager">
            <button class="btn" disabled=${page.startOffset <= page.logStartOffset} onClick=${() => go(props.topic, { ...q, from: "offset", offset: String(Math.max(page.logStartOffset, page.startOffset - limit)) })}>← Previous</button>
            <span class="muted">offsets ${page.startOffset}–${page.nextOffset - 1} of ${page.logStartOffset}–${page.highWatermark - 1} · read ${page.bytesRead} bytes in ${page.reads} read(s)</span>
            <button class="btn" data-testid="browse-next" disabled=${page.nextOffset >= page.highWatermark} onClick=${() => go(props.topic, { ...q, from: "offset", offset: String(page.nextOffset) })}>Next →</button>
          </div>`
        : null}
    </section>
  `;
}

function Records(props: { page: BrowsePage }) {
  const p = props.page;
  if (p.records.length === 0 && p.undecoded.length === 0) return html`<p class="muted" data-testid="no-records">No records here${p.nextOffset < p.highWatermark ? " (the filter matched none of those read; Next reads on)" : ""}.</p>`;
  return html`<table class="grid records" data-testid="records-table">
    <thead><tr><th class="num">offset</th><th>timestamp</th><th>key</th><th>value</th><th>headers</th></tr></thead>
    <tbody>
      ${p.records.map(
        (r) => html`<tr data-offset=${r.offset}>
          <td class="num">${r.offset}</td>
          <td class="ts">${time(r.timestamp)}</td>
          <td class="key"><${Field} view=${r.key} /></td>
          <td class="val"><${Field} view=${r.value} testId=${`value-${r.offset}`} /></td>
          <td>${r.headers.map((h) => html`<div class="header"><code>${h.key}</code>: ${h.value === null ? html`<span class="muted">null</span>` : h.value.text}</div>`)}
            ${r.headersNotShown > 0 ? html`<div class="muted">+${r.headersNotShown} more</div>` : null}</td>
        </tr>`,
      )}
      ${p.undecoded.map((u) => html`<tr><td class="num">${u.baseOffset}–${u.lastOffset}</td><td colspan="4" class="muted">${u.message}</td></tr>`)}
    </tbody>
  </table>`;
}
