// How far the partition moves in progress have got (docs/SCALING.md,
// "Progress"), as `sluice partitions reassign --status` and the
// ListPartitionReassignments admin call report it: per moving partition its
// replicas, target, adding and removing brokers from etcd, and bytes copied
// and remaining from its leader's `/metrics` page (engine/move_progress.ts),
// read through the httpPort of the leader's registration.
//
// Why the leader's page: only the leader knows its log's size and how far
// each adding replica has fetched; etcd holds neither (they change with every
// fetch). Reading it costs one HTTP request per leader, so callers ask for it
// only when they want bytes (`withProgress`).

import type { TopicRecord, VersionedPartitionState } from "./topic_metadata.ts";

/** How long a `/metrics` read of one broker may take. */
export const MOVE_METRICS_READ_TIMEOUT_MS = 3_000;

export interface MoveStatus {
  readonly topic: string;
  readonly partition: number;
  /** The replica list while moving: the old replicas, then the adding ones. */
  readonly replicas: number[];
  readonly target: number[];
  readonly adding: number[];
  readonly removing: number[];
  readonly leader: number;
  readonly isr: number[];
  readonly throttleBytesPerSec: number | null;
  /** From the leader's `/metrics`; null when it was not read or could not be. */
  readonly bytesTotal: number | null;
  /** The least any adding replica has (they copy in parallel; the slowest decides). */
  readonly bytesCopied: number | null;
  readonly bytesRemaining: number | null;
}

export interface MoveMetrics {
  readonly start: number;
  readonly end: number;
  readonly size: number;
  /** Adding replica → its last fetch offset. */
  readonly fetch: Map<number, number>;
}

/** Parses the move families of a Prometheus text page. */
export function parseMoveMetrics(text: string): { hosted: number | null; parts: Map<string, MoveMetrics> } {
  const parts = new Map<string, { start: number; end: number; size: number; fetch: Map<number, number> }>();
  let hosted: number | null = null;
  const get = (topic: string, partition: string) => {
    const k = `${topic}\u0000${partition}`;
    let e = parts.get(k);
    if (e === undefined) parts.set(k, (e = { start: 0, end: 0, size: 0, fetch: new Map() }));
    return e;
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("sluice_hosted_partitions ")) hosted = Number(line.slice("sluice_hosted_partitions ".length));
    const m = /^(sluice_move_\w+)\{topic="((?:[^"\\]|\\.)*)",partition="(\d+)"(?:,replica="(\d+)")?\} (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(line);
    if (m === null) continue;
    const e = get(m[2].replace(/\\(.)/g, "$1"), m[3]);
    const v = Number(m[5]);
    if (m[1] === "sluice_move_log_start_offset") e.start = v;
    else if (m[1] === "sluice_move_log_end_offset") e.end = v;
    else if (m[1] === "sluice_move_size_bytes") e.size = v;
    else if (m[1] === "sluice_move_replica_fetch_offset" && m[4] !== undefined) e.fetch.set(Number(m[4]), v);
  }
  return { hosted, parts };
}

/** One broker's `/metrics` page, or null when it does not answer (or has no HTTP listener: port 0). */
export async function readMetrics(host: string, httpPort: number): Promise<string | null> {
  if (httpPort === 0) return null;
  try {
    const r = await fetch(`http://${host}:${httpPort}/metrics`, { signal: AbortSignal.timeout(MOVE_METRICS_READ_TIMEOUT_MS) });
    return r.ok ? await r.text() : null;
  } catch {
    return null;
  }
}

/** What moveStatus() reads: the topics with their partition states, and where each broker's `/metrics` is. */
export interface MoveStatusInput {
  readonly topics: Iterable<{ readonly name: string; readonly record: TopicRecord; readonly state: (partition: number) => VersionedPartitionState | undefined }>;
  readonly brokers: ReadonlyMap<number, { readonly host: string; readonly httpPort: number }>;
  /** Only these partitions (`topic` → partitions, an empty set: all of the topic); absent: every move. */
  readonly only?: ReadonlyMap<string, ReadonlySet<number>>;
  /** Read the leaders' pages for bytes (one request per leader, in parallel); false: the byte fields are null. */
  readonly withProgress: boolean;
  /** The page reader (default readMetrics). */
  readonly read?: (host: string, httpPort: number) => Promise<string | null>;
}

/** Every move in progress (or those `only` names), in topic then partition order. */
export async function moveStatus(input: MoveStatusInput): Promise<MoveStatus[]> {
  const moving: { topic: string; partition: number; record: TopicRecord; state: VersionedPartitionState | undefined }[] = [];
  for (const t of input.topics) {
    const wanted = input.only?.get(t.name);
    if (input.only !== undefined && wanted === undefined) continue;
    for (const key of Object.keys(t.record.moves ?? {})) {
      const p = Number(key);
      if (wanted !== undefined && wanted.size > 0 && !wanted.has(p)) continue;
      moving.push({ topic: t.name, partition: p, record: t.record, state: t.state(p) });
    }
  }
  moving.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  const pages = new Map<number, ReturnType<typeof parseMoveMetrics> | null>();
  if (input.withProgress) {
    const read = input.read ?? readMetrics;
    const leaders = [...new Set(moving.map((m) => m.state?.leader ?? -1))];
    await Promise.all(
      leaders.map(async (leader) => {
        const b = input.brokers.get(leader);
        const text = b === undefined ? null : await read(b.host, b.httpPort);
        pages.set(leader, text === null ? null : parseMoveMetrics(text));
      }),
    );
  }
  return moving.map(({ topic, partition: p, record, state }) => {
    const move = record.moves![String(p)];
    const leader = state?.leader ?? -1;
    const m = pages.get(leader)?.parts.get(`${topic}\u0000${p}`);
    let bytesTotal: number | null = null;
    let bytesCopied: number | null = null;
    if (m !== undefined && move.adding.every((b) => m.fetch.has(b))) {
      const records = Math.max(0, m.end - m.start);
      bytesTotal = m.size;
      // Bytes from offsets by the log's mean record size (the leader knows its size, not where an offset lies in it).
      const least = Math.min(...move.adding.map((b) => Math.max(m.start, m.fetch.get(b)!)));
      bytesCopied = records === 0 ? m.size : Math.round((m.size * (least - m.start)) / records);
    }
    return {
      topic,
      partition: p,
      replicas: [...record.replicas[p]],
      target: [...move.target],
      adding: [...move.adding],
      removing: [...move.removing],
      leader,
      isr: [...(state?.isr ?? [])],
      throttleBytesPerSec: move.throttleBytesPerSec ?? null,
      bytesTotal,
      bytesCopied,
      bytesRemaining: bytesTotal === null || bytesCopied === null ? null : Math.max(0, bytesTotal - bytesCopied),
    };
  });
}
