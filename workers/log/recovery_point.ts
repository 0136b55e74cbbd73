// The recovery point: the last position of the log known durable and valid,
// persisted in the partition directory as `recovery-point.json`. On open,
// recovery trusts the log below it and validates every batch above it.
//
// Contract: written atomically (temp file, fdatasync, rename, fsync of the
// directory), so after a crash the file is the old one or the new one. It
// carries a CRC-32C of its fields; a file that does not check out counts as
// missing, and recovery then validates the whole log (slower, never unsafe).

import * as path from "node:path";
import { crc32c } from "../../protocol/crc32c.ts";
import { type FileOps, readFully } from "./file_ops.ts";
import { writeFileAtomically } from "./segment_file.ts";

export const RECOVERY_POINT_FILE = "recovery-point.json";
const VERSION = 1;
/** A recovery point file is a few hundred bytes; anything larger is not one. */
const RECOVERY_POINT_BYTES_MAX = 4096;

export interface RecoveryPoint {
  /** Offsets below this were durable when the point was taken. */
  offset: number;
  /** Base offset of the segment holding the point. */
  segmentBaseOffset: number;
  /** Byte position of `offset` in that segment (a batch boundary). */
  position: number;
}

function body(rp: RecoveryPoint): string {
  return JSON.stringify({ version: VERSION, offset: rp.offset, segmentBaseOffset: rp.segmentBaseOffset, position: rp.position });
}

function encodeUtf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

export function writeRecoveryPoint(files: FileOps, dir: string, rp: RecoveryPoint): void {
  const b = body(rp);
  const text = `${b.slice(0, -1)},"crc32c":${crc32c(encodeUtf8(b))}}\n`;
  writeFileAtomically(files, path.join(dir, RECOVERY_POINT_FILE), encodeUtf8(text));
  files.fsyncDir(dir);
}

/** The recovery point, or null when the file is missing or does not check out. */
export function readRecoveryPoint(files: FileOps, dir: string): RecoveryPoint | null {
  const file = path.join(dir, RECOVERY_POINT_FILE);
  if (!files.exists(file)) return null;
  const fd = files.open(file, "r");
  let text: string;
  try {
    const size = files.size(fd);
    if (size > RECOVERY_POINT_BYTES_MAX) return null;
    const bytes = new Uint8Array(size);
    readFully(files, fd, bytes, 0, size, 0);
    text = new TextDecoder().decode(bytes);
  } finally {
    files.close(fd);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const o = parsed as Record<string, unknown>;
  const rp = { offset: o.offset, segmentBaseOffset: o.segmentBaseOffset, position: o.position };
  if (o.version !== VERSION) return null;
  if (!Number.isSafeInteger(rp.offset) || !Number.isSafeInteger(rp.segmentBaseOffset) || !Number.isSafeInteger(rp.position)) {
    return null;
  }
  const checked = rp as RecoveryPoint;
  if (checked.offset < checked.segmentBaseOffset || checked.position < 0) return null;
  if (o.crc32c !== crc32c(encodeUtf8(body(checked)))) return null;
  return checked;
}
