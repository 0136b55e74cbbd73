// The overview: the broker, live produce/consume throughput charts, every
// topic (partitions, size, messages, inflow) with a create form, and every
// consumer group with its total lag. Fed by the event stream (live.ts).

import { useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { Chart } from "../chart.ts";
import { bytes, count, duration, rate } from "../format.ts";
import { html } from "../html.ts";
import { useLive } from "../live.ts";
import type { ClusterSummary } from "../types.ts";
import { ErrorLine, parseKeyValueLines, Stat } from "../widgets.ts";

export function OverviewPage() {
  const live = useLive();
  const s = live.snapshot;
  if (s === null) return html`<p class="loading">Connecting to the broker…</p>`;
  const b = s.broker;
  const h = live.history;
  return html`
    <section class="card">
      <div class="card-head">
        <h2>Broker</h2>
        <span class=${live.connected ? "pill pill-ok" : "pill pill-warn"}>${live.connected ? "live" : "reconnecting…"}</span>
      </div>
      <div class="stats">
        <${Stat} label="node" value=${`${b.nodeId} · ${b.host}:${b.port}`} />
        <${Stat} label="role" value=${s.cluster === undefined ? "single node: controller, leader of all" : s.cluster.controllerId === b.nodeId ? "controller" : "broker"} />
        <${Stat} label="version" value=${b.version} />
        <${Stat} label="uptime" value=${duration(b.uptimeMs)} />
        <${Stat} label="workers" value=${String(b.workers)} />
        <${Stat} label="connections" value=${String(b.connections)} />
        <${Stat} label="partitions" value=${String(b.partitions)} testId="stat-partitions" />
        <${Stat} label="offline partitions" value=${String(b.partitionsOffline)} />
        <${Stat} label="resident memory" value=${bytes(b.rssBytes)} />
      </div>
    </section>
    ${s.cluster === undefined ? null : html`<${ClusterCard} cluster=${s.cluster} self=${b.nodeId} />`}
    <section class="charts">
      <${Chart}
        title=${`Messages per second — in ${rate(s.throughput.messagesInPerSec)}, out ${rate(s.throughput.messagesOutPerSec)}`}
        data=${[h[0], h[1], h[3]]}
        series=${[
          { label: "produced", color: "#2563eb", format: rate },
          { label: "consumed", color: "#16a34a", format: rate },
        ]}
        testId="chart-messages"
      />
      <${Chart}
        title=${`Bytes per second — in ${bytes(s.throughput.bytesInPerSec)}, out ${bytes(s.throughput.bytesOutPerSec)}`}
        data=${[h[0], h[2], h[4]]}
        series=${[
          { label: "produced", color: "#7c3aed", format: bytes },
          { label: "consumed", color: "#ea580c", format: bytes },
        ]}
        testId="chart-bytes"
      />
    </section>
    <section class="card">
      <div class="card-head">
        <h2>Topics <span class="muted">${s.topicsTotal > s.topics.length ? `(first ${s.topics.length} of ${s.topicsTotal})` : `(${s.topicsTotal})`}</span></h2>
      </div>
      <table class="grid" data-testid="topics-table">
        <thead><tr><th>topic</th><th class="num">partitions</th><th class="num">messages</th><th class="num">size</th><th class="num">msgs/s in</th><th class="num">bytes/s in</th></tr></thead>
        <tbody>
          ${s.topics.map(
            (t) => html`<tr data-topic=${t.name}>
              <td><a href=${`#/topics/${seg(t.name)}`}>${t.name}</a>${t.offlinePartitions > 0 ? html` <span class="pill pill-bad">${t.offlinePartitions} offline</span>` : null}</td>
              <td class="num">${t.partitions}</td>
              <td class="num">${count(t.messages)}</td>
              <td class="num">${bytes(t.bytes)}</td>
              <td class="num">${rate(t.messagesInPerSec)}</td>
              <td class="num">${bytes(t.bytesInPerSec)}</td>
            </tr>`,
          )}
          ${s.topics.length === 0 ? html`<tr><td colspan="6" class="muted">No topics yet.</td></tr>` : null}
        </tbody>
      </table>
      <${CreateTopic} />
    </section>
    <section class="card">
      <div class="card-head"><h2>Consumer groups <span class="muted">(${s.groupsTotal})</span></h2></div>
      ${!s.groupsAvailable
        ? html`<p class="muted">This broker runs no group coordinator.</p>`
        : html`<table class="grid" data-testid="groups-table">
            <thead><tr><th>group</th><th>state</th><th class="num">generation</th><th class="num">members</th><th class="num">total lag</th></tr></thead>
            <tbody>
              ${s.groups.map(
                (g) => html`<tr data-group=${g.groupId}>
                  <td><a href=${`#/groups/${seg(g.groupId)}`}>${g.groupId}</a></td>
                  <td><span class=${`pill state-${g.state}`}>${g.state}</span></td>
                  <td class="num">${g.generationId}</td>
                  <td class="num">${g.members}</td>
                  <td class="num lag">${count(g.lag)}</td>
                </tr>`,
              )}
              ${s.groups.length === 0 ? html`<tr><td colspan="5" class="muted">No groups yet.</td></tr>` : null}
            </tbody>
          </table>`}
    </section>
  `;
}

/** Cluster mode: the live brokers (the controller marked) and the cluster's partition health. */
function ClusterCard(props: { cluster: ClusterSummary; self: number }) {
  const c = props.cluster;
  const { total, offline, underReplicated } = c.partitions;
  return html`<section class="card" data-testid="cluster-card">
    <div class="card-head">
      <h2>Cluster <span class="muted">(${c.brokers.length} live ${c.brokers.length === 1 ? "broker" : "brokers"})</span></h2>
      ${c.controllerId < 0 ? html`<span class="pill pill-bad">no controller</span>` : null}
    </div>
    <div class="stats">
      <${Stat} label="controller" value=${c.controllerId < 0 ? "none" : `${c.controllerId} · epoch ${c.controllerEpoch}`} />
      <${Stat} label="partitions" value=${String(total)} />
      <${Stat} label="under-replicated" value=${String(underReplicated)} bad=${underReplicated > 0} testId="stat-under-replicated" />
      <${Stat} label="offline (no leader)" value=${String(offline)} bad=${offline > 0} testId="stat-offline" />
    </div>
    <table class="grid" data-testid="brokers-table">
      <thead><tr><th>broker</th><th>host</th><th class="num">native port</th><th class="num">Kafka port</th><th class="num">HTTP port</th><th>rack</th></tr></thead>
      <tbody>
        ${c.brokers.map(
          (x) => html`<tr data-broker=${x.nodeId}>
            <td>${x.nodeId}${x.nodeId === c.controllerId ? html` <span class="pill pill-ok">controller</span>` : null}${x.nodeId === props.self ? html` <span class="muted">(this one)</span>` : null}</td>
            <td>${x.host}</td>
            <td class="num">${x.port}</td>
            <td class="num">${x.kafkaPort ?? "—"}</td>
            <td class="num">${x.httpPort === 0 ? "—" : html`<a href=${`http://${x.host}:${x.httpPort}/`}>${x.httpPort}</a>`}</td>
            <td>${x.rack ?? "—"}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function CreateTopic() {
  const [open, setOpen] = useState(false);
  const [name, setName] = useState("");
  const [partitions, setPartitions] = useState("1");
  const [configs, setConfigs] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!open) return html`<button class="btn" onClick=${() => setOpen(true)} data-testid="create-topic-open">+ Create topic</button>`;
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name, partitions: Number(partitions), configs: parseKeyValueLines(configs, "configs") };
      await api.post("topics", body);
      location.hash = `#/topics/${seg(name)}`;
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="form" onSubmit=${submit} data-testid="create-topic-form">
    <h3>Create a topic</h3>
    <label>name <input name="name" value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} required /></label>
    <label>partitions <input name="partitions" type="number" min="1" value=${partitions} onInput=${(e: Event) => setPartitions((e.target as HTMLInputElement).value)} /></label>
    <label class="wide">configs, one KEY=VALUE a line <textarea name="configs" rows="2" placeholder="retention.ms=604800000" value=${configs} onInput=${(e: Event) => setConfigs((e.target as HTMLTextAreaElement).value)}></textarea></label>
    <div class="actions">
      <button class="btn btn-primary" type="submit" disabled=${busy}>Create</button>
      <button class="btn" type="button" onClick=${() => setOpen(false)}>Cancel</button>
    </div>
    <${ErrorLine} error=${error} />
  </form>`;
}
