// Reads a .cpuprofile (Chrome DevTools format, as `bun --cpu-prof` writes it)
// and prints where the time went: self time per function (file:line), and
// total (inclusive) time per function, top N each. Used to name hot spots
// precisely in docs/perf-log.md.
//
//   bun bench/load/cpu_profile_summary.ts <file.cpuprofile> [--top 25] [--filter engine/] [--callers set]

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface FunctionTime {
  name: string;
  where: string;
  selfMs: number;
  totalMs: number;
}

function medianInterval(profile: CpuProfile): number {
  const deltas = (profile.timeDeltas ?? []).filter((d) => d > 0).sort((a, b) => a - b);
  return deltas.length === 0 ? 1000 : deltas[deltas.length >> 1];
}

/** Self time of functions named `name`, split by their caller (file:line), in ms. */
export function callersOf(profile: CpuProfile, root: string, name: string): Map<string, number> {
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  const samples = profile.samples ?? [];
  const interval = medianInterval(profile);
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]);
    if (node === undefined || node.callFrame.functionName !== name) continue;
    const p = byId.get(parent.get(node.id) ?? -1);
    const where = p === undefined ? "(none)" : `${p.callFrame.functionName || "(anonymous)"} ${path.relative(root, p.callFrame.url.replace(/^file:\/\//, ""))}:${p.callFrame.lineNumber + 1}`;
    out.set(where, (out.get(where) ?? 0) + interval / 1000);
  }
  return out;
}

export function summarize(profile: CpuProfile, root: string): { totalMs: number; idleMs: number; functions: FunctionTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A sample is taken only while the thread runs JavaScript (idle time shows as a
  // long gap before the next sample), so each sample counts as one sampling
  // interval of CPU: the median gap. Weighting by the gap itself would charge
  // the idle time after a sample to whatever ran last.
  const selfUs = new Map<number, number>();
  const interval = medianInterval(profile);
  if (profile.samples !== undefined) {
    for (const id of profile.samples) selfUs.set(id, (selfUs.get(id) ?? 0) + interval);
  } else {
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * interval);
  }
  const key = (n: ProfileNode) => {
    const file = n.callFrame.url === "" ? "(native)" : path.relative(root, n.callFrame.url.replace(/^file:\/\//, ""));
    return `${n.callFrame.functionName || "(anonymous)"}\u0000${file}:${n.callFrame.lineNumber + 1}`;
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let allUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (node === undefined) continue;
    allUs += us;
    const name = node.callFrame.functionName;
    if (name === "(idle)" || name === "(program)" || name === "(garbage collector)") {
      if (name === "(idle)") idleUs += us;
    }
    self.set(key(node), (self.get(key(node)) ?? 0) + us);
    // Inclusive: credit each distinct function on the stack once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = key(byId.get(at)!);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const functions = [...self.keys()].concat([...total.keys()].filter((k) => !self.has(k))).map((k) => {
    const [name, where] = k.split("\u0000");
    return { name, where, selfMs: (self.get(k) ?? 0) / 1000, totalMs: (total.get(k) ?? 0) / 1000 };
  });
  return { totalMs: allUs / 1000, idleMs: idleUs / 1000, functions };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { top: { type: "string" }, filter: { type: "string" }, callers: { type: "string" } },
  });
  const file = positionals[0];
  if (file === undefined) {
    console.error("usage: bun bench/load/cpu_profile_summary.ts <file.cpuprofile> [--top N] [--filter TEXT]");
    process.exit(2);
  }
  const top = Number(values.top ?? 25);
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..", "..");
  const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
  if (values.callers !== undefined) {
    const callers = [...callersOf(profile, root, values.callers)].sort((a, b) => b[1] - a[1]);
    console.log(`self time of ${values.callers} by caller:`);
    for (const [where, ms] of callers.slice(0, top)) console.log(`  ${ms.toFixed(0).padStart(7)} ms  ${where}`);
    process.exit(0);
  }
  const { totalMs, idleMs, functions } = summarize(profile, root);
  const busyMs = totalMs - idleMs;
  const keep = (f: FunctionTime) => values.filter === undefined || f.where.includes(values.filter);
  const pct = (ms: number) => `${((ms / busyMs) * 100).toFixed(1)}%`.padStart(6);
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  console.log(`${file}: ${(profile.samples ?? []).length} samples at ~${(medianInterval(profile) / 1000).toFixed(2)} ms = ~${busyMs.toFixed(0)} ms running JavaScript over ${wallMs.toFixed(0)} ms (percentages of running time)`);
  console.log(`\nself time, top ${top}:`);
  for (const f of functions.filter(keep).sort((a, b) => b.selfMs - a.selfMs).slice(0, top)) {
    console.log(`  ${f.selfMs.toFixed(0).padStart(7)} ms ${pct(f.selfMs)}  ${f.name}  ${f.where}`);
  }
  console.log(`\ntotal (inclusive) time, top ${top}:`);
  for (const f of functions.filter(keep).sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) {
    console.log(`  ${f.totalMs.toFixed(0).padStart(7)} ms ${pct(f.totalMs)}  ${f.name}  ${f.where}`);
  }
}
