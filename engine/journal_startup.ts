// At start, before the worker pool opens (and recovers) any partition: the
// worker journals are written back into their segments
// (workers/log/journal_replay.ts), and what that repaired is said.

import path from "node:path";
import { realFileOps, replayJournals, type JournalReplayReport } from "../workers/mod.ts";
import type { TopicsFile } from "./metadata_store.ts";

/** `topics`: the stored metadata, which says each partition directory's incarnation (its topic's id). */
export function replayWorkerJournals(dataDir: string, topics: TopicsFile, log: (line: string) => void): JournalReplayReport {
  const incarnations = new Map<string, string>();
  for (const [name, entry] of Object.entries(topics.topics)) {
    for (let p = 0; p < entry.workers.length; p++) incarnations.set(path.join("topics", name, String(p)), entry.id);
  }
  const report = replayJournals({ dataDir, files: realFileOps, log, incarnationOf: (dir) => incarnations.get(dir) ?? null });
  if (report.records > 0) {
    log(
      `sluice: worker journals replayed: ${report.recordsApplied} records (${report.bytesApplied} bytes) written back into ${report.segments} segments` +
        (report.recordsSkipped > 0 ? `, ${report.recordsSkipped} skipped (segment gone, or another incarnation of the topic)` : ""),
    );
  }
  return report;
}
