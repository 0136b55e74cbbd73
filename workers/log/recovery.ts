// Bringing a partition directory back online after a clean close or a crash.
//
// Contract:
// - Data is trusted below the recovery point and in every sealed segment
//   (each was fdatasynced before its successor existed): it comes online
//   without a CRC pass, and the read path checks every batch it serves
//   (log_reader.ts). Every batch above the recovery point is validated
//   (framing, CRC-32C, record structure, contiguous offsets).
// - The recovery point moves after every flush (recovery_point.ts): after a
//   kill -9 it is exact, so everything acknowledged is below it and damage
//   there is refused, never cut; after a power loss it may be stale, never
//   ahead of durable data.
// - Only the active (last) segment may end in a torn write. Above the recovery
//   point, its first batch that fails (partial, bad CRC, wrong offset) and
//   everything after it is cut off; the bytes dropped are reported. A sealed
//   segment is never cut, with or without a recovery point: a bad batch there
//   is damage even when the point is missing (both slots bad).
// - A batch that fails anywhere else — below the recovery point, or in a sealed
//   segment — is damage to durable data: nothing is cut, and recovery throws a
//   LogError naming the segment, position and offset (or, when asked, returns
//   the intact part for read-only use).
// - Sealed segments come online from their index header (summary) alone; a
//   missing or damaged index is rebuilt from the log, validating it on the way.
//   `verifyAll` validates every segment from its start instead.
// - Leftovers of interrupted writes are removed: `*.tmp` files, index files
//   whose log is gone.
// - Recovery ends with an fdatasync of the active segment, so what it leaves
//   is durable.

import * as path from "node:path";
import type { FileOps } from "./file_ops.ts";
import { LogError } from "./log_error.ts";
import { LEGACY_RECOVERY_POINT_FILE, readRecoveryPoint, type RecoveryPoint } from "./recovery_point.ts";
import { LOG_SUFFIX, Segment, parseSegmentFileName, segmentFileName } from "./segment_file.ts";
import { ScanBuffer, type ScanFailure, type ScanResult, scanSegment } from "./segment_scan.ts";

export interface RecoveryStats {
  /** Bytes cut off the end of the active segment (a torn tail). */
  truncatedBytes: number;
  /** Index files rebuilt from the log because they were missing or damaged. */
  rebuiltIndexes: number;
  /** Batches checked with their CRC. */
  validatedBatches: number;
  durationMs: number;
}

export interface RecoveredLog {
  /** Oldest first; the last is the active segment (unsealed) unless `damage` is set. */
  segments: Segment[];
  stats: RecoveryStats;
  recoveryPoint: RecoveryPoint | null;
  /** Set only with keepIntactOnDamage: what was found, and the segments hold only the data before it. */
  damage: LogError | null;
}

/** Thrown inside a recovery run to stop at damage; `keep` is how many segments before it are intact. */
class Damage {
  constructor(
    readonly error: LogError,
    readonly segmentIndex: number,
    /** The damaged segment's batches before the failure were placed and can be kept. */
    readonly keepPrefix: boolean,
  ) {}
}

export function recoverLog(opts: {
  dir: string;
  files: FileOps;
  indexIntervalBytes: number;
  verifyAll?: boolean;
  keepIntactOnDamage?: boolean;
}): RecoveredLog {
  const started = performance.now();
  const { dir, files } = opts;
  const stats: RecoveryStats = { truncatedBytes: 0, rebuiltIndexes: 0, validatedBatches: 0, durationMs: 0 };
  files.mkdirp(dir);
  const names = files.readdir(dir);
  const bases: number[] = [];
  const indexFiles: { name: string; baseOffset: number }[] = [];
  for (const name of names) {
    if (name.endsWith(".tmp") || name === LEGACY_RECOVERY_POINT_FILE) {
      files.unlink(path.join(dir, name));
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (parsed === null) continue;
    if (parsed.kind === "log") bases.push(parsed.baseOffset);
    else indexFiles.push({ name, baseOffset: parsed.baseOffset });
  }
  bases.sort((a, b) => a - b);
  const haveLog = new Set(bases);
  for (const f of indexFiles) if (!haveLog.has(f.baseOffset)) files.unlink(path.join(dir, f.name));

  if (bases.length === 0) {
    const seg = new Segment({ dir, baseOffset: 0, fd: files.open(path.join(dir, segmentFileName(0, LOG_SUFFIX)), "w+") });
    seg.resetIndexes();
    files.fsyncDir(dir);
    stats.durationMs = performance.now() - started;
    return { segments: [seg], stats, recoveryPoint: null, damage: null };
  }

  // Segments are opened one at a time and sealed ones closed again once recovered, so a partition of
  // thousands of segments opens with a bounded number of descriptors (the log opens sealed ones on demand).
  const segments: Segment[] = bases.map((base) => new Segment({ dir, baseOffset: base, fd: -1 }));

  const rp = readRecoveryPoint(files, dir);
  const buffer = new ScanBuffer();
  const last = segments.length - 1;
  const run = { files, buffer, stats, interval: opts.indexIntervalBytes };

  try {
    // Where validation starts: the recovery point, or the very beginning.
    let startIndex = 0;
    let startPosition = 0;
    if (rp !== null) {
      const k = bases.indexOf(rp.segmentBaseOffset);
      if (k >= 0) {
        startIndex = k;
        startPosition = rp.position;
      } else if (rp.segmentBaseOffset > bases[0]) {
        throw new Damage(
          new LogError({
            segment: segmentFileName(rp.segmentBaseOffset, LOG_SUFFIX),
            position: rp.position,
            offset: rp.offset,
            reason: "the segment holding the recovery point is missing",
          }),
          // Everything before the missing segment is intact.
          bases.filter((b) => b < rp.segmentBaseOffset).length,
          false,
        );
      }
    }
    if (opts.verifyAll) {
      startIndex = 0;
      startPosition = 0;
    }

    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i];
      // Only the active segment is ever written (a torn tail cut); sealed ones are read.
      seg.fd = files.open(seg.logPath, i === last ? "r+" : "r");
      const size = files.size(seg.fd);
      if (rp !== null && seg.baseOffset === rp.segmentBaseOffset && size < rp.position) {
        throw new Damage(
          new LogError({
            segment: seg.name,
            position: size,
            offset: rp.offset,
            reason: `the log is ${size} bytes but its recovery point is at byte ${rp.position}: durable data is missing`,
          }),
          i,
          false,
        );
      }
      if (i < startIndex) {
        recoverTrustedSealed(run, seg, size, i);
      } else {
        // Below `trustedUpTo` a failure is damage; above it, in the last segment, a torn tail.
        let trustedUpTo = 0;
        if (rp !== null && seg.baseOffset === rp.segmentBaseOffset) trustedUpTo = rp.position;
        else if (rp !== null && seg.baseOffset < rp.segmentBaseOffset) trustedUpTo = Number.MAX_SAFE_INTEGER;
        if (i === startIndex && startPosition > 0) placeTrustedPrefix(run, seg, startPosition, i);
        else seg.resetForScan();
        const r = scanSegment({
          files,
          segment: seg,
          from: seg.size,
          to: size,
          validate: true,
          indexIntervalBytes: run.interval,
          buffer,
        });
        stats.validatedBatches += r.batches;
        if (r.failure !== null) {
          if (i < last || r.failure.position < trustedUpTo) throw new Damage(damageAt(seg, r.failure), i, true);
          files.ftruncate(seg.fd, r.failure.position);
          stats.truncatedBytes += size - r.failure.position;
        }
        if (i < last) {
          seg.sealed = true;
          const h = seg.readSummary(files, seg.size);
          if (typeof h === "string" || h.nextOffset !== seg.nextOffset || h.maxTimestamp !== seg.maxTimestamp) {
            seg.writeIndexFiles(files);
            stats.rebuiltIndexes++;
          }
        }
      }
      if (i < last) seg.close(files);
      if (i > 0 && seg.baseOffset !== segments[i - 1].nextOffset) {
        throw new Damage(
          new LogError({
            segment: seg.name,
            position: 0,
            offset: segments[i - 1].nextOffset,
            reason: `segment starts at offset ${seg.baseOffset} but the one before ends at ${segments[i - 1].nextOffset}`,
          }),
          i,
          false,
        );
      }
    }
    const active = segments[last];
    if (rp !== null && rp.offset > active.nextOffset) {
      throw new Damage(
        new LogError({
          segment: active.name,
          position: active.size,
          offset: active.nextOffset,
          reason: `the log ends at offset ${active.nextOffset} below its recovery point ${rp.offset}: durable data is missing`,
        }),
        last,
        true,
      );
    }
    files.fdatasync(active.fd);
    if (stats.rebuiltIndexes > 0) files.fsyncDir(dir);
  } catch (e) {
    if (!(e instanceof Damage)) {
      for (const s of segments) s.close(files);
      throw e;
    }
    if (!opts.keepIntactOnDamage) {
      for (const s of segments) s.close(files);
      throw e.error;
    }
    const keep = e.keepPrefix ? e.segmentIndex + 1 : Math.max(0, e.segmentIndex);
    for (const s of segments.slice(keep)) s.close(files);
    const kept = segments.slice(0, keep);
    for (const s of kept) {
      s.sealed = true;
      s.close(files); // read-only from here: opened again on demand
    }
    stats.durationMs = performance.now() - started;
    return { segments: kept, stats, recoveryPoint: rp, damage: e.error };
  }
  stats.durationMs = performance.now() - started;
  return { segments, stats, recoveryPoint: rp, damage: null };
}

interface Run {
  files: FileOps;
  buffer: ScanBuffer;
  stats: RecoveryStats;
  interval: number;
}

function damageAt(seg: Segment, f: ScanFailure): LogError {
  return new LogError({ segment: seg.name, position: f.position, offset: f.offset, reason: f.reason });
}

/** A sealed segment below the recovery point: from its index header, or rebuilt (validated) if that is unusable. */
function recoverTrustedSealed(run: Run, seg: Segment, size: number, i: number): void {
  seg.sealed = true;
  const h = seg.readSummary(run.files, size);
  if (typeof h !== "string") {
    seg.size = h.logBytes;
    seg.nextOffset = h.nextOffset;
    seg.maxTimestamp = h.maxTimestamp;
    return; // indexes load on first use
  }
  const r = rebuildSegment(run.files, seg, size, run.interval, run.buffer);
  run.stats.validatedBatches += r.batches;
  if (r.failure !== null) throw new Damage(damageAt(seg, r.failure), i, true);
  run.stats.rebuiltIndexes++;
}

/**
 * Rebuilds a segment's indexes from its log (validating every batch) and
 * writes them. On a failure the segment describes the batches before it, and
 * no index file is written.
 */
export function rebuildSegment(
  files: FileOps,
  seg: Segment,
  size: number,
  indexIntervalBytes: number,
  buffer: ScanBuffer,
): ScanResult {
  seg.resetForScan();
  const r = scanSegment({ files, segment: seg, from: 0, to: size, validate: true, indexIntervalBytes, buffer });
  if (r.failure === null) seg.writeIndexFiles(files);
  return r;
}

/**
 * The recovery point's segment below the point: its indexes from file where
 * they cover part of it, then a structural walk (no CRC) up to the point.
 */
function placeTrustedPrefix(run: Run, seg: Segment, upTo: number, i: number): void {
  const h = seg.readIndexHeader(run.files);
  let loaded = false;
  if (typeof h !== "string" && h.logBytes <= upTo && seg.loadIndexes(run.files, h) === null) {
    seg.size = h.logBytes;
    seg.nextOffset = h.nextOffset;
    seg.maxTimestamp = h.maxTimestamp;
    loaded = true;
  }
  if (!loaded) seg.resetForScan();
  const r = scanSegment({
    files: run.files,
    segment: seg,
    from: seg.size,
    to: upTo,
    validate: false,
    indexIntervalBytes: run.interval,
    buffer: run.buffer,
  });
  if (r.failure !== null) throw new Damage(damageAt(seg, r.failure), i, true);
}
