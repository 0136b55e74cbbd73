// Shared by the partition log's tests: temp dirs, small configs, batches.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { readI32, readI64Number } from "../../protocol/big_endian.ts";
import { encodeBatch } from "../../protocol/record_batch.ts";
import { type LogConfig, parseTopicConfig } from "../../workers/log/log_config.ts";
import type { PartitionLog } from "../../workers/log/partition_log.ts";

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "sluice-"));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Closes what a test opened, after it: one that the test already closed, took
 * offline or lost with a simulated crash may throw, and that is no failure here.
 */
export function closeQuietly(items: readonly { close(): void }[]): void {
  for (const item of items) {
    try {
      item.close();
    } catch {
      // closed by the test, offline, or gone with a simulated crash
    }
  }
}

/** A config for tests: small segments and index interval, no time-based roll or retention unless asked. */
export function testConfig(entries: Record<string, string | number> = {}): LogConfig {
  return parseTopicConfig({
    "segment.bytes": 16 * 1024,
    "index.interval.bytes": 256,
    "retention.ms": -1,
    "file.delete.delay.ms": 0,
    ...entries,
  });
}

/** One uncompressed batch of `count` records, values `valueBytes` long, tagged so every batch differs. */
export function makeBatch(opts: { count?: number; valueBytes?: number; tag?: number; timestamp?: number } = {}): Uint8Array {
  const count = opts.count ?? 3;
  const tag = opts.tag ?? 0;
  const records = [];
  for (let i = 0; i < count; i++) {
    const value = new Uint8Array(opts.valueBytes ?? 20);
    for (let j = 0; j < value.length; j++) value[j] = (tag * 31 + i * 7 + j) & 0xff;
    records.push({ key: `k${tag}-${i}`, value, timestamp: (opts.timestamp ?? 1_700_000_000_000) + i });
  }
  return encodeBatch(records);
}

/** Several batches back to back in one buffer. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  bytes: Uint8Array;
}

/** Splits stored bytes (whole batches) into batches. */
export function splitBatches(bytes: Uint8Array): StoredBatch[] {
  const out: StoredBatch[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const size = 12 + readI32(bytes, pos + 8);
    const baseOffset = readI64Number(bytes, pos);
    out.push({ baseOffset, lastOffset: baseOffset + readI32(bytes, pos + 23), bytes: bytes.slice(pos, pos + size) });
    pos += size;
  }
  return out;
}

/** Every batch of the log from its start to `limit` (default its end), read the way a consumer would. */
export function readAll(log: PartitionLog, limit = log.logEndOffset): StoredBatch[] {
  const out: StoredBatch[] = [];
  let offset = log.logStartOffset;
  while (offset < limit) {
    const bytes = log.read(offset, 64 * 1024, limit);
    if (bytes.length === 0) break;
    for (const b of splitBatches(bytes)) {
      out.push(b);
      offset = b.lastOffset + 1;
    }
  }
  return out;
}
