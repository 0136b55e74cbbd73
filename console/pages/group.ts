// One consumer group: state, generation, members and their assignment,
// committed offset and lag per partition, lag over time, and reset offsets
// (the broker refuses it while the group has members, as the CLI's is).

import { useState } from "preact/hooks";
import { api, seg } from "../api.ts";
import { Chart } from "../chart.ts";
import { count, duration } from "../format.ts";
import { html } from "../html.ts";
import { usePoll } from "../live.ts";
import type { GroupPage as Group } from "../types.ts";
import { ErrorLine, Stat } from "../widgets.ts";

export function GroupPage(props: { groupId: string }) {
  const { data: g, error, reload } = usePoll<Group>(`groups/${seg(props.groupId)}`);
  if (g === null) return error !== null ? html`<div class="card"><${ErrorLine} error=${error} /><a href="#/">Back to the overview</a></div>` : html`<p class="loading">Loading…</p>`;
  const topics = [...new Set(g.offsets.map((o) => o.topic))];
  return html`
    <div class="crumbs"><a href="#/">Overview</a> / group</div>
    <section class="card">
      <div class="card-head"><h2 data-testid="group-id">${g.groupId}</h2><span class=${`pill state-${g.state}`} data-testid="group-state">${g.state}</span></div>
      <${ErrorLine} error=${error} />
      <div class="stats">
        <${Stat} label="generation" value=${String(g.generationId)} />
        <${Stat} label="members" value=${String(g.members.length)} />
        <${Stat} label="assignor" value=${g.assignor || "–"} />
        <${Stat} label="total lag" value=${count(g.lag)} testId="group-lag" />
      </div>
      ${g.lagHistory !== null
        ? html`<${Chart} title="Total lag" data=${g.lagHistory} series=${[{ label: "lag", color: "#dc2626", format: (v: number) => count(Math.round(v)) }]} testId="chart-lag" />`
        : html`<p class="muted">No lag history: the broker samples the lag of its first groups (by id) only.</p>`}
    </section>
    <section class="card">
      <h2>Members</h2>
      <table class="grid" data-testid="members-table">
        <thead><tr><th>member</th><th>client</th><th>assignment</th><th class="num">last seen</th></tr></thead>
        <tbody>
          ${g.members.map(
            (m) => html`<tr>
              <td><code>${m.memberId}</code>${m.memberId === g.leaderId ? html` <span class="pill">leader</span>` : null}</td>
              <td>${m.clientId || "–"}</td>
              <td>${m.assignment.map((a) => `${a.topic}[${a.partitions.join(",")}]`).join(" ") || "–"}</td>
              <td class="num">${duration(m.lastSeenAgoMs)} ago</td>
            </tr>`,
          )}
          ${g.members.length === 0 ? html`<tr><td colspan="4" class="muted">No members: the group is not consuming now.</td></tr>` : null}
        </tbody>
      </table>
    </section>
    <section class="card">
      <h2>Offsets and lag</h2>
      <table class="grid" data-testid="offsets-table">
        <thead><tr><th>topic</th><th class="num">partition</th><th class="num">committed</th><th class="num">high watermark</th><th class="num">lag</th><th>member</th></tr></thead>
        <tbody>
          ${g.offsets.map(
            (o) => html`<tr data-row=${`${o.topic}-${o.partition}`}>
              <td><a href=${`#/topics/${seg(o.topic)}`}>${o.topic}</a></td>
              <td class="num">${o.partition}</td>
              <td class="num">${o.committedOffset < 0 ? "–" : count(o.committedOffset)}</td>
              <td class="num">${o.highWatermark < 0 ? "–" : count(o.highWatermark)}</td>
              <td class=${o.lag > 0 ? "num lag lag-behind" : "num lag"}>${o.lag < 0 ? "–" : count(o.lag)}</td>
              <td><code>${o.memberId || "–"}</code></td>
            </tr>`,
          )}
        </tbody>
      </table>
      <${ResetForm} groupId=${g.groupId} topics=${topics} members=${g.members.length} onDone=${reload} />
    </section>
  `;
}

function ResetForm(props: { groupId: string; topics: string[]; members: number; onDone: () => void }) {
  const [topic, setTopic] = useState(props.topics[0] ?? "");
  const [to, setTo] = useState("earliest");
  const [offset, setOffset] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      const body = { topic, to: to === "offset" ? Number(offset) : to };
      const r = await api.post<{ partitions: { partition: number; errorCode: number; offset: number }[] }>(`groups/${seg(props.groupId)}/reset-offsets`, body);
      setDone(r.partitions.map((p) => (p.errorCode === 0 ? `${p.partition}→${p.offset}` : `${p.partition}: error ${p.errorCode}`)).join(", "));
      props.onDone();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<form class="form inline" onSubmit=${submit} data-testid="reset-form">
    <h3>Reset offsets</h3>
    ${props.members > 0 ? html`<p class="muted note">The broker refuses this while the group has members; stop its consumers first.</p>` : null}
    <label>topic <input name="topic" value=${topic} onInput=${(e: Event) => setTopic((e.target as HTMLInputElement).value)} /></label>
    <label>to <select name="to" value=${to} onChange=${(e: Event) => setTo((e.target as HTMLSelectElement).value)}>
      <option value="earliest">earliest</option><option value="latest">latest</option><option value="offset">an offset</option>
    </select></label>
    ${to === "offset" ? html`<label>offset <input name="offset" value=${offset} onInput=${(e: Event) => setOffset((e.target as HTMLInputElement).value)} size="10" /></label>` : null}
    <button class="btn" type="submit">Reset</button>
    <${ErrorLine} error=${error} testId="reset-error" />
    ${done !== null ? html`<div class="ok">reset: ${done}</div>` : null}
  </form>`;
}
