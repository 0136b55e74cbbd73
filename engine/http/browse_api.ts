// The message browser: GET /api/v1/topics/{topic}/partitions/{p}/records
//
//   ?from=beginning|end|offset|timestamp  where to start (default beginning)
//   &offset=N        with from=offset: the first offset to show (log start ≤ N ≤ high watermark)
//   &timestamp=MS    with from=timestamp: the first record at or after MS (ListOffsets by time)
//   &limit=N         records per page (≤ BROWSE_RECORDS_MAX)
//   &filter=TEXT     only records whose key or value holds TEXT (case-insensitive)
//   &maxBytes=N      bytes per read (≤ BROWSE_READ_BYTES_MAX)
//
// Reads go through the engine's fetch (never long-polling: maxWaitMs 0) with
// one read budget shared by every console request, so the console has at
// most a bounded number of bytes of reads in the workers' rings; a request
// reads at most BROWSE_READS_MAX × maxBytes, and only past the first read
// when a filter left the page short. `nextOffset` is where the next page
// starts (the first offset this request did not look at).

import { ErrorCode } from "../../protocol/errors.ts";
import {
  BatchError,
  checkBatch,
  compressionOf,
  readBatchHeader,
  RecordReader,
} from "../../protocol/record_batch.ts";
import type { Engine, ListOffsetsResult } from "../engine.ts";
import type { FetchReadBudget } from "../fetch_read_budget.ts";
import { ApiError, badRequest, fromErrorCode } from "./api_errors.ts";
import { intQuery, intValue, queryValue } from "./api_params.ts";
import {
  BROWSE_PAGE_TEXT_CHARS_MAX,
  BROWSE_READ_BYTES_DEFAULT,
  BROWSE_READ_BYTES_MAX,
  BROWSE_READS_MAX,
  BROWSE_RECORDS_DEFAULT,
  BROWSE_RECORDS_MAX,
  BROWSE_TIMEOUT_MS,
  RECORD_HEADERS_SHOWN_MAX,
} from "./console_limits.ts";
import { type FieldView, fieldMatches, viewField } from "./record_view.ts";

export interface BrowsedRecord {
  offset: number;
  timestamp: number;
  key: FieldView;
  value: FieldView;
  headers: { key: string; value: FieldView }[];
  /** Headers the record has beyond the RECORD_HEADERS_SHOWN_MAX shown. */
  headersNotShown: number;
}

/** A batch the broker stores but the console cannot decode (a codec it does not read). */
export interface UndecodedBatch {
  baseOffset: number;
  lastOffset: number;
  message: string;
}

export interface BrowsePage {
  topic: string;
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  /** The first offset looked at. */
  startOffset: number;
  nextOffset: number;
  records: BrowsedRecord[];
  undecoded: UndecodedBatch[];
  bytesRead: number;
  reads: number;
  filter: string | null;
  /** Characters of keys, values and headers on this page (bounded by BROWSE_PAGE_TEXT_CHARS_MAX). */
  textChars: number;
}

const FROM = ["beginning", "end", "offset", "timestamp"] as const;
type From = (typeof FROM)[number];

export interface BrowseQuery {
  from: From;
  offset?: number;
  timestamp?: number;
  limit: number;
  maxBytes: number;
  filter: string | null;
}

/** The query of a browse request, checked (400 naming the parameter). */
export function parseBrowseQuery(url: URL): BrowseQuery {
  const from = (queryValue(url, "from") ?? "beginning") as From;
  if (!FROM.includes(from)) throw badRequest(`from: expected one of ${FROM.join(", ")}, got '${String(from).slice(0, 40)}'`);
  const q: BrowseQuery = {
    from,
    limit: intQuery(url, "limit", 1, BROWSE_RECORDS_MAX, BROWSE_RECORDS_DEFAULT),
    maxBytes: intQuery(url, "maxBytes", 1024, BROWSE_READ_BYTES_MAX, BROWSE_READ_BYTES_DEFAULT),
    filter: null,
  };
  const filter = queryValue(url, "filter");
  if (filter !== undefined && filter !== "") q.filter = filter.toLowerCase();
  if (from === "offset") {
    const raw = queryValue(url, "offset");
    if (raw === undefined) throw badRequest("offset: required with from=offset");
    q.offset = intValue(raw, "offset", 0, Number.MAX_SAFE_INTEGER);
  }
  if (from === "timestamp") {
    const raw = queryValue(url, "timestamp");
    if (raw === undefined) throw badRequest("timestamp: required with from=timestamp (milliseconds since the epoch)");
    q.timestamp = intValue(raw, "timestamp", 0, Number.MAX_SAFE_INTEGER);
  }
  return q;
}

export async function browse(engine: Engine, budget: FetchReadBudget, topic: string, partition: number, q: BrowseQuery): Promise<BrowsePage> {
  const view = engine.topicView();
  const count = view.partitionCount(topic);
  if (count === 0) throw fromErrorCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic '${topic}' does not exist`);
  if (partition >= count) throw fromErrorCode(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition: topic '${topic}' has partitions 0..${count - 1}, not ${partition}`);
  const logStart = view.logStartOffset(topic, partition);
  const hw = view.highWatermark(topic, partition);
  if (logStart < 0 || hw < 0) throw fromErrorCode(ErrorCode.KAFKA_STORAGE_ERROR, `partition ${topic}-${partition} is offline`);

  let start: number;
  switch (q.from) {
    case "beginning":
      start = logStart;
      break;
    case "end":
      start = Math.max(logStart, hw - q.limit);
      break;
    case "offset":
      if (q.offset! < logStart || q.offset! > hw) {
        throw new ApiError(400, "OFFSET_OUT_OF_RANGE", `offset: ${q.offset} is outside the partition's offsets ${logStart}..${hw}`);
      }
      start = q.offset!;
      break;
    case "timestamp": {
      const r = await new Promise<ListOffsetsResult>((resolve) => engine.listOffsets(topic, partition, q.timestamp!, resolve));
      if (r.errorCode !== ErrorCode.NONE) throw fromErrorCode(r.errorCode);
      start = r.offset < 0 ? hw : r.offset; // no record that late: an empty page at the end
      break;
    }
  }

  const page: BrowsePage = {
    topic,
    partition,
    logStartOffset: logStart,
    highWatermark: hw,
    startOffset: start,
    nextOffset: start,
    records: [],
    undecoded: [],
    bytesRead: 0,
    reads: 0,
    filter: q.filter,
    textChars: 0,
  };
  while (!full(page, q) && page.nextOffset < page.highWatermark && page.reads < BROWSE_READS_MAX) {
    if (page.reads > 0 && q.filter === null) break; // without a filter one read fills what it can
    const read = await readOnce(engine, budget, topic, partition, page.nextOffset, q.maxBytes);
    page.reads++;
    if (read.errorCode !== ErrorCode.NONE) throw fromErrorCode(read.errorCode);
    page.highWatermark = Math.max(page.highWatermark, read.highWatermark);
    page.bytesRead += read.bytes.length;
    if (read.bytes.length === 0) break;
    const before = page.nextOffset;
    collect(read.bytes, page, q);
    if (page.nextOffset === before) break; // nothing decodable moved us on: do not spin
  }
  return page;
}

/** Walks the batches of one read, adding the records at or after page.nextOffset that pass the filter. */
function collect(bytes: Uint8Array, page: BrowsePage, q: BrowseQuery): void {
  let pos = 0;
  while (pos < bytes.length && !full(page, q)) {
    let size: number;
    let baseOffset: number;
    let lastOffset: number;
    try {
      size = checkBatch(bytes, pos);
      const header = readBatchHeader(bytes, pos);
      baseOffset = Number(header.baseOffset);
      lastOffset = baseOffset + header.lastOffsetDelta;
    } catch (e) {
      // The broker checks every batch it stores; a read that ends mid-batch is the only expected case.
      if (e instanceof BatchError) return;
      throw e;
    }
    if (lastOffset < page.nextOffset) {
      pos += size;
      continue;
    }
    let reader: RecordReader;
    try {
      reader = new RecordReader(bytes, pos, size);
    } catch (e) {
      const codec = compressionOf(readBatchHeader(bytes, pos).attributes);
      page.undecoded.push({ baseOffset, lastOffset, message: (e as Error).message ?? `codec ${codec}` });
      page.nextOffset = lastOffset + 1;
      pos += size;
      continue;
    }
    let stoppedEarly = false;
    while (reader.next()) {
      const offset = baseOffset + reader.offsetDelta;
      if (offset < page.nextOffset) continue;
      if (full(page, q)) {
        stoppedEarly = true;
        break;
      }
      page.nextOffset = offset + 1;
      if (q.filter !== null && !fieldMatches(reader.key, q.filter) && !fieldMatches(reader.value, q.filter)) continue;
      const headers = reader.headers;
      const shown = Math.min(headers.length, RECORD_HEADERS_SHOWN_MAX);
      const out: BrowsedRecord["headers"] = [];
      for (let h = 0; h < shown; h++) out.push({ key: headers[h][0], value: viewField(headers[h][1]) });
      const record: BrowsedRecord = {
        offset,
        timestamp: reader.timestampMs,
        key: viewField(reader.key),
        value: viewField(reader.value),
        headers: out,
        headersNotShown: headers.length - shown,
      };
      page.textChars += textChars(record);
      page.records.push(record);
    }
    if (!stoppedEarly) page.nextOffset = Math.max(page.nextOffset, lastOffset + 1);
    pos += size;
  }
}

/** The page has its `limit` of records, or its bound of shown text. */
function full(page: BrowsePage, q: BrowseQuery): boolean {
  return page.records.length >= q.limit || page.textChars >= BROWSE_PAGE_TEXT_CHARS_MAX;
}

function textChars(r: BrowsedRecord): number {
  let n = (r.key?.text.length ?? 0) + (r.value?.text.length ?? 0);
  for (const h of r.headers) n += h.key.length + (h.value?.text.length ?? 0);
  return n;
}

interface ReadResult {
  errorCode: number;
  bytes: Uint8Array;
  highWatermark: number;
}

/** One partition read through the engine's fetch (no waiting), copied out of the completion ring. */
function readOnce(engine: Engine, budget: FetchReadBudget, topic: string, partition: number, offset: number, maxBytes: number): Promise<ReadResult> {
  return new Promise<ReadResult>((resolve, reject) => {
    let result: ReadResult = { errorCode: ErrorCode.NONE, bytes: new Uint8Array(0), highWatermark: -1 };
    const timer = setTimeout(() => {
      handle.cancel();
      reject(new ApiError(504, "REQUEST_TIMED_OUT", `reading ${topic}-${partition} took longer than ${BROWSE_TIMEOUT_MS} ms`));
    }, BROWSE_TIMEOUT_MS);
    const handle = engine.fetch(
      { maxWaitMs: 0, minBytes: 0, maxBytes, partitions: [{ topic, partition, offset, maxBytes }], readBudget: budget },
      {
        partition(_i, errorCode, bytes, highWatermark) {
          // The bytes point into the worker's completion ring: copy them now.
          result = { errorCode, bytes: bytes === null ? new Uint8Array(0) : bytes.slice(), highWatermark };
        },
        reset() {
          result = { errorCode: ErrorCode.NONE, bytes: new Uint8Array(0), highWatermark: -1 };
        },
        done() {
          clearTimeout(timer);
          resolve(result);
        },
      },
    );
  });
}
