// Live figures: the broker's event stream (/api/v1/events) sends a snapshot a
// second; the throughput chart starts from /api/v1/history and appends each
// snapshot. Pages of one topic or group poll their resource instead (at most
// once a second: POLL_INTERVAL_MS).

import { useEffect, useState } from "preact/hooks";
import { api } from "./api.ts";
import type { Snapshot } from "./types.ts";

export const POLL_INTERVAL_MS = 2000;
/** Points kept on a live chart (the broker keeps ten minutes at one a second). */
const CHART_POINTS_MAX = 600;

export interface Live {
  snapshot: Snapshot | null;
  /** [seconds, msgs in/s, bytes in/s, msgs out/s, bytes out/s] */
  history: number[][];
  connected: boolean;
}

export function useLive(): Live {
  const [live, setLive] = useState<Live>({ snapshot: null, history: [[], [], [], [], []], connected: false });
  useEffect(() => {
    let closed = false;
    api.get<{ data: number[][] }>("history").then(
      (h) => !closed && setLive((l) => ({ ...l, history: mergeHistory(h.data, l.history) })),
      () => {},
    );
    const source = new EventSource("/api/v1/events");
    source.addEventListener("snapshot", (e) => {
      const s = JSON.parse((e as MessageEvent<string>).data) as Snapshot;
      setLive((l) => {
        const t = s.throughput;
        const last = l.history[0][l.history[0].length - 1];
        const at = s.atMs / 1000;
        const history = last !== undefined && at <= last ? l.history : appendPoint(l.history, [at, t.messagesInPerSec, t.bytesInPerSec, t.messagesOutPerSec, t.bytesOutPerSec]);
        return { snapshot: s, history, connected: true };
      });
    });
    source.onerror = () => setLive((l) => ({ ...l, connected: false }));
    return () => {
      closed = true;
      source.close();
    };
  }, []);
  return live;
}

/** The broker's history, then the points the event stream brought that are newer than its last. */
function mergeHistory(history: number[][], streamed: number[][]): number[][] {
  const last = history[0][history[0].length - 1] ?? -Infinity;
  let from = streamed[0].findIndex((t) => t > last);
  if (from < 0) from = streamed[0].length;
  return history.map((c, i) => c.concat(streamed[i].slice(from)).slice(-CHART_POINTS_MAX));
}

function appendPoint(columns: number[][], point: number[]): number[][] {
  return columns.map((c, i) => {
    const next = c.length >= CHART_POINTS_MAX ? c.slice(c.length - CHART_POINTS_MAX + 1) : c.slice();
    next.push(point[i]);
    return next;
  });
}

/** Fetches `path` now and every POLL_INTERVAL_MS; `reload()` fetches at once. */
export function usePoll<T>(path: string): { data: T | null; error: string | null; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      api.get<T>(path).then(
        (data) => !stopped && setState({ data, error: null }),
        (e: Error) => !stopped && setState((s) => ({ data: s.data, error: e.message })),
      );
    load();
    const timer = setInterval(load, POLL_INTERVAL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [path, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
