// The leader-epoch file of one partition log: which leader epoch started at
// which offset (Kafka's leader-epoch-checkpoint), what a follower asks about
// when it checks where its log and the leader's diverge.
//
// Format (text, as Kafka's, with a checksum line so damage shows):
//   0                      format version
//   <n>                    entry count
//   <epoch> <startOffset>  n lines, epochs and start offsets strictly increasing
//   crc <crc32c>           CRC-32C (decimal) of every byte before this line
//
// Written whole through a temp file: written, fdatasynced, renamed over the old
// one, directory fsynced. A crash leaves the old file or the new one. The file
// is derived data: every batch carries its leader epoch (partitionLeaderEpoch),
// so a missing or damaged file is rebuilt from the batches at open
// (leader_epoch_cache.ts).

import * as path from "node:path";
import { crc32c } from "../../protocol/crc32c.ts";
import { type FileOps, readFully } from "./file_ops.ts";
import { writeFileAtomically } from "./segment_file.ts";

export const LEADER_EPOCH_FILE = "leader-epoch-checkpoint";
const FORMAT_VERSION = 0;
/** A file larger than this is damaged, not read (a format bound: 4 Mi entries' worth is far past any real history). */
export const LEADER_EPOCH_FILE_BYTES_MAX = 64 * 1024 * 1024;

export interface EpochEntry {
  epoch: number;
  startOffset: number;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function encodeLeaderEpochFile(entries: readonly EpochEntry[]): Uint8Array {
  let body = `${FORMAT_VERSION}\n${entries.length}\n`;
  for (const e of entries) body += `${e.epoch} ${e.startOffset}\n`;
  const bytes = utf8.encode(body);
  return utf8.encode(`${body}crc ${crc32c(bytes, 0, bytes.length)}\n`);
}

/** The entries, or why the bytes are not a valid leader-epoch file. */
export function decodeLeaderEpochFile(bytes: Uint8Array): EpochEntry[] | string {
  const text = utf8Decoder.decode(bytes);
  const crcAt = text.lastIndexOf("crc ");
  if (crcAt < 0 || !text.endsWith("\n")) return "no checksum line";
  const body = utf8.encode(text.slice(0, crcAt));
  const stored = Number(text.slice(crcAt + 4, -1));
  if (!Number.isSafeInteger(stored) || crc32c(body, 0, body.length) !== stored) return "checksum mismatch";
  const lines = text.slice(0, crcAt).split("\n");
  lines.pop(); // the body ends with "\n"
  if (lines[0] !== String(FORMAT_VERSION)) return `unknown format version ${lines[0]}`;
  const n = Number(lines[1]);
  if (!Number.isSafeInteger(n) || n < 0 || lines.length !== n + 2) return "entry count does not match the lines";
  const entries: EpochEntry[] = [];
  for (let i = 0; i < n; i++) {
    const m = /^(\d+) (\d+)$/.exec(lines[i + 2]);
    if (m === null) return `malformed entry line ${i}`;
    const e = { epoch: Number(m[1]), startOffset: Number(m[2]) };
    const prev = entries[entries.length - 1];
    if (prev !== undefined && (e.epoch <= prev.epoch || e.startOffset <= prev.startOffset)) return `entry ${i} does not increase`;
    entries.push(e);
  }
  return entries;
}

export function leaderEpochFilePath(dir: string): string {
  return path.join(dir, LEADER_EPOCH_FILE);
}

/** The file's entries; null if it is missing; a string saying why it is damaged. */
export function readLeaderEpochFile(files: FileOps, dir: string): EpochEntry[] | null | string {
  const file = leaderEpochFilePath(dir);
  if (!files.exists(file)) return null;
  const fd = files.open(file, "r");
  try {
    const size = files.size(fd);
    if (size > LEADER_EPOCH_FILE_BYTES_MAX) return `larger than ${LEADER_EPOCH_FILE_BYTES_MAX} bytes`;
    const bytes = new Uint8Array(size);
    if (readFully(files, fd, bytes, 0, size, 0) !== size) return "short read";
    return decodeLeaderEpochFile(bytes);
  } finally {
    files.close(fd);
  }
}

/** Replaces the file durably (temp, fdatasync, rename, directory fsync). */
export function writeLeaderEpochFile(files: FileOps, dir: string, entries: readonly EpochEntry[]): void {
  writeFileAtomically(files, leaderEpochFilePath(dir), encodeLeaderEpochFile(entries), true);
  files.fsyncDir(dir);
}
