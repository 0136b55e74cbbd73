// Replay of the worker journals at start (worker_journal.ts), before any
// partition is opened: every record of a journal's current generation is
// written back at its place in its segment file, each touched file is
// fdatasynced, and then the journals are removed.
//
// A record is a physical redo of bytes that never change once written, so
// writing it again is harmless: after a process crash (page cache intact) it
// rewrites what is already there; after a power loss it restores the segment's
// tail that was acknowledged through the journal and never reached the disk
// through the segment. Recovery then runs on the segments as usual, and the
// recovery point (moved after each journal round) still reports acknowledged
// data that is gone from both.
//
// A record whose segment file no longer exists (the topic was deleted, or
// retention removed a sealed segment, which was synced when it was sealed) is
// skipped, and so is one whose partition is another incarnation than the one
// in the directory now (a topic deleted and created again since: its bytes
// would overwrite the new topic's). The journals are removed only after every
// touched file is synced.

import * as path from "node:path";
import { type FileOps, writeFully } from "./file_ops.ts";
import { LOG_SUFFIX, segmentFileName } from "./segment_file.ts";
import { JOURNAL_DIR_NAME, forEachJournalRecord, parseJournalPartitionName } from "./worker_journal.ts";

export interface JournalReplayOptions {
  dataDir: string;
  files: FileOps;
  /** Warnings (a journal with a damaged header). */
  log(line: string): void;
  /**
   * The incarnation (topic id) of the partition in `relativeDir` now, or null
   * if none is there. Records of any other are skipped.
   */
  incarnationOf(relativeDir: string): string | null;
}

export interface JournalReplayReport {
  journals: number;
  records: number;
  /** Records written back into their segments. */
  recordsApplied: number;
  /** Bytes written back. */
  bytesApplied: number;
  /** Segment files written to (each fdatasynced). */
  segments: number;
  /** Records whose segment file is gone, of another incarnation, or whose name leaves the data dir. */
  recordsSkipped: number;
}

/** Replays every journal under `<dataDir>/journal/`, then removes them. */
export function replayJournals(opts: JournalReplayOptions): JournalReplayReport {
  const { files, dataDir } = opts;
  const report: JournalReplayReport = { journals: 0, records: 0, recordsApplied: 0, bytesApplied: 0, segments: 0, recordsSkipped: 0 };
  const journalDir = path.join(dataDir, JOURNAL_DIR_NAME);
  if (!files.exists(journalDir)) return report;
  const journals = files.readdir(journalDir).filter((n) => n.endsWith(".journal")).sort();
  const open = new Map<string, number>();
  try {
    for (const name of journals) {
      const scan = forEachJournalRecord(files, path.join(journalDir, name), (r) => {
        report.records++;
        const partition = parseJournalPartitionName(r.dir);
        const dir = path.resolve(dataDir, partition.dir);
        const relative = path.relative(dataDir, dir);
        const file = path.join(dir, segmentFileName(r.segmentBaseOffset, LOG_SUFFIX));
        // A name that leaves the data dir is not ours to touch.
        if (relative.startsWith("..") || opts.incarnationOf(relative) !== partition.incarnation || !files.exists(file)) {
          report.recordsSkipped++;
          return;
        }
        let fd = open.get(file);
        if (fd === undefined) {
          fd = files.open(file, "r+");
          open.set(file, fd);
        }
        writeFully(files, fd, r.batches, 0, r.batches.length, r.position);
        report.recordsApplied++;
        report.bytesApplied += r.batches.length;
      });
      report.journals++;
      if (!scan.headerValid) {
        // Only a new generation being written can leave the header torn, and one
        // starts only after every segment the old one covered was synced.
        opts.log(`sluice: journal ${name} has no valid header; nothing in it is replayed`);
      }
    }
    for (const fd of open.values()) files.fdatasync(fd);
    report.segments = open.size;
  } finally {
    for (const fd of open.values()) files.close(fd);
  }
  for (const name of journals) files.unlink(path.join(journalDir, name));
  if (journals.length > 0) files.fsyncDir(journalDir);
  return report;
}
