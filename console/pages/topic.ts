// One topic: its partitions (in cluster mode leader, replicas and ISR, a short
// ISR in colour; log start, high watermark, size, segments, inflow
// and share of the topic's inflow; the hot partition first and in colour),
// its configuration (editable: the broker validates as for the CLI and its
// message names the bad field), produce a message, add partitions, delete.

import { useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { bytes, count, percent, rate } from "../format.ts";
import { html } from "../html.ts";
import { usePoll } from "../live.ts";
import type { PartitionView, TopicView } from "../types.ts";
import { ErrorLine, parseKeyValueLines, Stat } from "../widgets.ts";

export function TopicPage(props: { topic: string }) {
  const { data: t, error, reload } = usePoll<TopicView>(`topics/${seg(props.topic)}`);
  if (t === null) return error !== null ? html`<div class="card"><${ErrorLine} error=${error} /><a href="#/">Back to the overview</a></div>` : html`<p class="loading">Loading…</p>`;
  // Busiest first; the partition number breaks ties, so an idle topic reads in order.
  // A broker in cluster mode gives every partition its replicas; a single node gives none.
  const clustered = t.partitions.some((p) => p.replicas !== undefined);
  const rows = [...t.partitions].sort((a, b) => b.messagesInPerSec - a.messagesInPerSec || a.partition - b.partition);
  return html`
    <div class="crumbs"><a href="#/">Overview</a> / topic</div>
    <section class="card">
      <div class="card-head">
        <h2 data-testid="topic-name">${t.name}</h2>
        <a class="btn" href=${`#/topics/${seg(t.name)}/messages`}>Browse messages</a>
      </div>
      <${ErrorLine} error=${error} />
      <div class="stats">
        <${Stat} label="partitions" value=${String(t.partitions.length)} testId="topic-partitions" />
        <${Stat} label="messages" value=${count(t.messages)} testId="topic-messages" />
        <${Stat} label="size" value=${bytes(t.bytes)} />
        <${Stat} label="msgs/s in" value=${rate(t.messagesInPerSec)} testId="topic-rate" />
        <${Stat} label="bytes/s in" value=${bytes(t.bytesInPerSec)} />
      </div>
      <table class="grid" data-testid="partitions-table">
        <thead><tr><th>partition</th>${clustered ? html`<th class="num">leader</th><th>replicas</th><th>ISR</th>` : null}<th class="num">log start</th><th class="num">high watermark</th><th class="num">messages</th><th class="num">size</th><th class="num">segments</th><th class="num">msgs/s in</th><th class="num">bytes/s in</th><th>share of inflow</th><th></th></tr></thead>
        <tbody>
          ${rows.map(
            (p) => html`<tr class=${p.hot ? "hot" : ""} data-partition=${p.partition}>
              <td>${p.partition}${p.online ? null : html` <span class="pill pill-bad">offline</span>`}${p.hot ? html` <span class="pill pill-hot">hot</span>` : null}</td>
              ${clustered ? replicaCells(p) : null}
              <td class="num">${count(p.logStartOffset)}</td>
              <td class="num hw">${count(p.highWatermark)}</td>
              <td class="num">${count(Math.max(0, p.highWatermark - p.logStartOffset))}</td>
              <td class="num">${bytes(p.bytes)}</td>
              <td class="num">${p.segments}</td>
              <td class="num rate">${rate(p.messagesInPerSec)}</td>
              <td class="num">${bytes(p.bytesInPerSec)}</td>
              <td><div class="share"><div class=${p.hot ? "share-bar share-hot" : "share-bar"} style=${`width:${Math.round(p.share * 100)}%`}></div><span class="share-label">${percent(p.share)}</span></div></td>
              <td><a href=${`#/topics/${seg(t.name)}/messages?partition=${p.partition}`}>messages</a></td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <div class="columns">
      <${ConfigCard} topic=${t} onSaved=${reload} />
      <div>
        <${ProduceCard} topic=${t} onSent=${reload} />
        <${AdminCard} topic=${t} onChanged=${reload} />
      </div>
    </div>
  `;
}

/** Leader, replicas and ISR of a partition (cluster mode); an ISR smaller than the replicas is highlighted. */
function replicaCells(p: PartitionView) {
  const replicas = p.replicas ?? [];
  const isr = p.isr ?? [];
  const short = isr.length < replicas.length;
  return html`<td class="num leader">${p.leader === undefined || p.leader < 0 ? html`<span class="pill pill-bad">none</span>` : p.leader}</td>
    <td class="replicas">${replicas.join(", ")}</td>
    <td class=${short ? "isr isr-short" : "isr"} title=${short ? `${replicas.length - isr.length} of ${replicas.length} replicas out of sync` : ""}>${isr.join(", ")}${short ? html` <span class="pill pill-bad">under-replicated</span>` : null}</td>`;
}

function ConfigCard(props: { topic: TopicView; onSaved: () => void }) {
  const [draft, setDraft] = useState<Record<string, string> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const configs = props.topic.configs;
  const keys = Object.keys(configs).sort();
  const save = async (e: Event) => {
    e.preventDefault();
    const set: Record<string, string> = {};
    for (const k of keys) if (draft![k] !== configs[k]) set[k] = draft![k];
    if (Object.keys(set).length === 0) return setDraft(null);
    setError(null);
    try {
      await api.patch(`topics/${seg(props.topic.name)}/config`, { set });
      setDraft(null);
      setSaved(`saved ${Object.keys(set).join(", ")}`);
      props.onSaved();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="card">
    <div class="card-head">
      <h2>Configuration</h2>
      ${draft === null ? html`<button class="btn" data-testid="config-edit" onClick=${() => { setDraft({ ...configs }); setSaved(null); }}>Edit</button>` : null}
    </div>
    <form onSubmit=${save} data-testid="config-form">
      <table class="grid config">
        <tbody>
          ${keys.map(
            (k) => html`<tr data-config=${k}>
              <td><code>${k}</code></td>
              <td>${draft === null
                ? html`<span class="config-value">${configs[k]}</span>`
                : html`<input name=${k} value=${draft[k]} onInput=${(e: Event) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value })} />`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${draft !== null
        ? html`<div class="actions">
            <button class="btn btn-primary" type="submit" data-testid="config-save">Save</button>
            <button class="btn" type="button" onClick=${() => { setDraft(null); setError(null); }}>Cancel</button>
          </div>`
        : null}
      <${ErrorLine} error=${error} testId="config-error" />
      ${saved !== null ? html`<div class="ok">${saved}</div>` : null}
    </form>
  </section>`;
}

function ProduceCard(props: { topic: TopicView; onSent: () => void }) {
  const [partition, setPartition] = useState("");
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [headers, setHeaders] = useState("");
  const [result, setResult] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    try {
      const hs = Object.entries(parseKeyValueLines(headers, "headers")).map(([k, v]) => ({ key: k, value: v }));
      const body = { partition: partition === "" ? undefined : Number(partition), key: key === "" ? null : key, value, headers: hs };
      const r = await api.post<{ partition: number; offset: number }>(`topics/${seg(props.topic.name)}/records`, body);
      setResult(`stored at partition ${r.partition}, offset ${r.offset}`);
      props.onSent();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="card">
    <h2>Produce a message</h2>
    <form class="form" onSubmit=${send} data-testid="produce-form">
      <label>partition <select name="partition" value=${partition} onChange=${(e: Event) => setPartition((e.target as HTMLSelectElement).value)}>
        <option value="">any (in turn)</option>
        ${props.topic.partitions.map((p) => html`<option value=${String(p.partition)}>${p.partition}</option>`)}
      </select></label>
      <label>key <input name="key" value=${key} placeholder="(none)" onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} /></label>
      <label class="wide">value <textarea name="value" rows="3" value=${value} onInput=${(e: Event) => setValue((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <label class="wide">headers, one KEY=VALUE a line <textarea name="headers" rows="2" value=${headers} onInput=${(e: Event) => setHeaders((e.target as HTMLTextAreaElement).value)}></textarea></label>
      <div class="actions"><button class="btn btn-primary" type="submit">Send</button></div>
      <${ErrorLine} error=${error} />
      ${result !== null ? html`<div class="ok" data-testid="produce-result">${result}</div>` : null}
    </form>
  </section>`;
}

function AdminCard(props: { topic: TopicView; onChanged: () => void }) {
  const t = props.topic;
  const [total, setTotal] = useState(String(t.partitions.length + 1));
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);
  const grow = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api.post(`topics/${seg(t.name)}/partitions`, { count: Number(total) });
      props.onChanged();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api.del(`topics/${seg(t.name)}?confirm=${encodeURIComponent(typed)}`);
      location.hash = "#/";
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section class="card">
    <h2>Administer</h2>
    <form class="form inline" onSubmit=${grow} data-testid="partitions-form">
      <label>partitions (new total) <input name="count" type="number" min=${t.partitions.length + 1} value=${total} onInput=${(e: Event) => setTotal((e.target as HTMLInputElement).value)} /></label>
      <button class="btn" type="submit">Add partitions</button>
    </form>
    ${!confirming
      ? html`<button class="btn btn-danger" onClick=${() => setConfirming(true)} data-testid="delete-open">Delete topic…</button>`
      : html`<form class="form danger-zone" onSubmit=${remove} data-testid="delete-form">
          <p>This deletes <b>${t.name}</b> and all its data. Type the topic's name to confirm.</p>
          <input name="confirm" value=${typed} onInput=${(e: Event) => setTyped((e.target as HTMLInputElement).value)} />
          <div class="actions">
            <button class="btn btn-danger" type="submit" disabled=${typed !== t.name}>Delete ${t.name}</button>
            <button class="btn" type="button" onClick=${() => setConfirming(false)}>Cancel</button>
          </div>
        </form>`}
    <${ErrorLine} error=${error} />
  </section>`;
}
