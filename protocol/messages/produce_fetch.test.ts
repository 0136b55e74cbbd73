// Golden fixture bytes for the binary hot-path messages, written out by hand
// from the grammar at the top of produce.ts and fetch.ts.

import { describe, expect, test } from "bun:test";
import { Writer } from "../codec.ts";
import { ErrorCode } from "../errors.ts";
import { encodeBatch } from "../record_batch.ts";
import { decodeFetchRequest, decodeFetchResponse, writeFetchRequest, writeFetchResponse, writeFetchResponsePieces, type FetchResponse } from "./fetch.ts";
import {
  decodeProduceRequest,
  decodeProduceResponse,
  PRODUCE_PARTITION_RESULT_BYTES,
  ProducePartitionResultField,
  type ProduceRequest,
  readProducePartitionResult,
  readSingleProduce,
  type SingleProduce,
  writeProducePartitionResult,
  writeProduceRequest,
  writeProduceResponse,
} from "./produce.ts";
import { encodeErrorBody } from "./response.ts";
import { sluiceError } from "../testing/sluice_error.ts";

function bytesOf(write: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  write(w);
  return w.finish().slice();
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

describe("Produce", () => {
  const records = new Uint8Array([0xde, 0xad, 0xbe, 0xef]); // opaque to the codec
  const request = { acks: -1, timeoutMs: 30000, topics: [{ name: "t", partitions: [{ index: 2, records }] }] };
  // acks=-1 | timeout=30000 | 1 topic | "t" | 1 partition | index 2 | 4 bytes of records
  const requestHex = "ffff" + "00007530" + "00000001" + "0001" + "74" + "00000001" + "00000002" + "00000004" + "deadbeef";

  test("request encodes to the fixture and decodes back", () => {
    expect(hex(bytesOf((w) => writeProduceRequest(w, request)))).toBe(requestHex);
    const decoded = decodeProduceRequest(Buffer.from(requestHex, "hex"));
    expect(decoded.acks).toBe(-1);
    expect(decoded.timeoutMs).toBe(30000);
    expect(decoded.topics[0].name).toBe("t");
    expect(decoded.topics[0].partitions[0].index).toBe(2);
    expect([...decoded.topics[0].partitions[0].records]).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  test("decoded records are a view into the request body (never copied)", () => {
    const body = bytesOf((w) => writeProduceRequest(w, { ...request, topics: [{ name: "t", partitions: [{ index: 0, records: encodeBatch([{ value: "x" }]) }] }] }));
    const rec = decodeProduceRequest(body).topics[0].partitions[0].records;
    expect(rec.buffer).toBe(body.buffer);
  });

  test("request truncated at every length names the field", () => {
    const full = Buffer.from(requestHex, "hex");
    for (let n = 0; n < full.length; n++) {
      const e = sluiceError(() => decodeProduceRequest(new Uint8Array(full.subarray(0, n))));
      expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
      expect(e.message).toMatch(/truncated (acks|timeoutMs|topics|topics\[\]\.name|topics\[\]\.partitions|topics\[\]\.partitions\[\]\.(index|records))/);
    }
    expect(sluiceError(() => decodeProduceRequest(Buffer.concat([full, Buffer.from([0])]))).message).toContain("unexpected bytes");
  });

  test("null records and hostile counts are refused before allocating", () => {
    const nullRecords = Buffer.from("ffff00007530000000010001740000000100000002ffffffff", "hex");
    expect(sluiceError(() => decodeProduceRequest(nullRecords)).message).toContain("null");
    const hugeCount = Buffer.from("ffff000075307fffffff", "hex");
    expect(sluiceError(() => decodeProduceRequest(hugeCount)).message).toContain("topics count");
  });

  const response = {
    topics: [
      {
        name: "t",
        partitions: [{ index: 2, errorCode: 0, baseOffset: 42n, logAppendTimeMs: -1n, logStartOffset: 0n }],
      },
    ],
  };
  // error NONE | 1 topic | "t" | 1 partition | index 2 | error 0 | base 42 | -1 | 0
  const responseHex =
    "0000" + "00000001" + "000174" + "00000001" + "00000002" + "0000" + "000000000000002a" + "ffffffffffffffff" + "0000000000000000";

  test("response encodes to the fixture and decodes back", () => {
    expect(hex(bytesOf((w) => writeProduceResponse(w, response)))).toBe(responseHex);
    expect(decodeProduceResponse(Buffer.from(responseHex, "hex"))).toEqual(response);
  });

  test("a PartitionR is written and read at the offsets its one layout names", () => {
    const bytes = bytesOf((w) => writeProducePartitionResult(w, 7, ErrorCode.NOT_LEADER_OR_FOLLOWER, 2 ** 40 + 3, 1_700_000_000_000, 5));
    expect(bytes.length).toBe(PRODUCE_PARTITION_RESULT_BYTES);
    const F = ProducePartitionResultField;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(view.getInt32(F.INDEX)).toBe(7);
    expect(view.getInt16(F.ERROR_CODE)).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(view.getBigInt64(F.BASE_OFFSET)).toBe(2n ** 40n + 3n);
    expect(view.getBigInt64(F.LOG_APPEND_TIME_MS)).toBe(1_700_000_000_000n);
    expect(view.getBigInt64(F.LOG_START_OFFSET)).toBe(5n);
    expect(readProducePartitionResult(bytes, 0)).toEqual({
      index: 7,
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      baseOffset: 2n ** 40n + 3n,
      logAppendTimeMs: 1_700_000_000_000n,
      logStartOffset: 5n,
    });
  });

  test("an error response is thrown with its code and message", () => {
    const body = encodeErrorBody(ErrorCode.UNSUPPORTED_VERSION, "no such version");
    expect(hex(body)).toBe("0023" + "000f" + Buffer.from("no such version").toString("hex"));
    const e = sluiceError(() => decodeProduceResponse(body));
    expect(e.code).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(e.message).toBe("no such version");
  });
});

describe("Fetch", () => {
  const request = {
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1048576,
    topics: [{ name: "ab", partitions: [{ index: 0, fetchOffset: 7n, partitionMaxBytes: 65536 }] }],
  };
  const requestHex =
    "000001f4" + "00000001" + "00100000" + "00000001" + "00026162" + "00000001" + "00000000" + "0000000000000007" + "00010000";

  test("request encodes to the fixture and decodes back; truncations name the field", () => {
    expect(hex(bytesOf((w) => writeFetchRequest(w, request)))).toBe(requestHex);
    const full = Buffer.from(requestHex, "hex");
    expect(decodeFetchRequest(full)).toEqual(request);
    for (let n = 0; n < full.length; n++) {
      expect(sluiceError(() => decodeFetchRequest(full.subarray(0, n))).message).toMatch(/^truncated /);
    }
  });

  const batch = encodeBatch([{ value: "hello" }], { firstTimestamp: 1 });
  const response: FetchResponse = {
    topics: [
      {
        name: "ab",
        partitions: [
          { index: 0, errorCode: 0, highWatermark: 1n, logStartOffset: 0n, records: batch },
          { index: 1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, highWatermark: -1n, logStartOffset: -1n, records: new Uint8Array(0) },
        ],
      },
    ],
  };

  test("response round trip; records are views; the fixture prefix matches the grammar", () => {
    const body = bytesOf((w) => writeFetchResponse(w, response));
    const expectedPrefix = "0000" + "00000001" + "00026162" + "00000002" + "00000000" + "0000" + "0000000000000001" + "0000000000000000" + batch.length.toString(16).padStart(8, "0");
    expect(hex(body.subarray(0, expectedPrefix.length / 2))).toBe(expectedPrefix);
    const decoded = decodeFetchResponse(body);
    expect(decoded.topics[0].partitions[0].records.buffer).toBe(body.buffer);
    expect([...decoded.topics[0].partitions[0].records]).toEqual([...batch]);
    expect(decoded.topics[0].partitions[1].errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(decoded.topics[0].partitions[1].records.length).toBe(0);
  });

  test("a null records field decodes as empty", () => {
    const body = Buffer.from("0000" + "00000001" + "00026162" + "00000001" + "00000000" + "0000" + "0000000000000000" + "0000000000000000" + "ffffffff", "hex");
    expect(decodeFetchResponse(body).topics[0].partitions[0].records.length).toBe(0);
  });

  test("pieces for a vectored write concatenate to the same bytes, records not copied", () => {
    const w = new Writer({ initialBytes: 16 }); // forces growth while writing
    w.writeI32(0xabcdef01); // something already in the writer (e.g. a frame header)
    const { pieces, recordBytes } = writeFetchResponsePieces(w, response);
    expect(recordBytes).toBe(batch.length);
    expect(pieces).toContain(batch);
    const joined = Buffer.concat(pieces);
    expect(hex(joined)).toBe("abcdef01" + hex(bytesOf((x) => writeFetchResponse(x, response))));
  });
});

describe("readSingleProduce", () => {
  const encode = (req: ProduceRequest) => {
    const w = new Writer();
    writeProduceRequest(w, req);
    // Inside a larger buffer, to check the offsets.
    const body = w.finish();
    const buf = new Uint8Array(body.length + 10);
    buf.set(body, 7);
    return { buf, start: 7, end: 7 + body.length };
  };
  const out = (): SingleProduce => ({ acks: 0, timeoutMs: 0, topic: "", partition: 0, recordsStart: 0, recordsEnd: 0 });

  test("one topic, one partition: the same fields as decodeProduceRequest, records as a range of the body", () => {
    const records = new Uint8Array([1, 2, 3, 4, 5]);
    const { buf, start, end } = encode({ acks: -1, timeoutMs: 1234, topics: [{ name: "tópico", partitions: [{ index: 7, records }] }] });
    const o = out();
    expect(readSingleProduce(buf, start, end, o)).toBe(true);
    const full = decodeProduceRequest(buf, start, end);
    expect(o.acks).toBe(full.acks);
    expect(o.timeoutMs).toBe(full.timeoutMs);
    expect(o.topic).toBe(full.topics[0].name);
    expect(o.partition).toBe(full.topics[0].partitions[0].index);
    expect([...buf.subarray(o.recordsStart, o.recordsEnd)]).toEqual([...records]);
  });

  test("any other shape or a malformed body is left to the full decoder", () => {
    const r = new Uint8Array([9]);
    const shapes: ProduceRequest[] = [
      { acks: 1, timeoutMs: 0, topics: [] },
      { acks: 1, timeoutMs: 0, topics: [{ name: "a", partitions: [] }] },
      { acks: 1, timeoutMs: 0, topics: [{ name: "a", partitions: [{ index: 0, records: r }, { index: 1, records: r }] }] },
      { acks: 1, timeoutMs: 0, topics: [{ name: "a", partitions: [{ index: 0, records: r }] }, { name: "b", partitions: [] }] },
    ];
    for (const shape of shapes) {
      const { buf, start, end } = encode(shape);
      expect(readSingleProduce(buf, start, end, out())).toBe(false);
    }
    const { buf, start, end } = encode({ acks: 1, timeoutMs: 0, topics: [{ name: "a", partitions: [{ index: 0, records: r }] }] });
    // Truncated, trailing bytes, null records (-1), a length past the end: all refused here.
    expect(readSingleProduce(buf, start, end - 1, out())).toBe(false);
    expect(readSingleProduce(buf, start, end + 1, out())).toBe(false);
    const nullRecords = buf.slice();
    new DataView(nullRecords.buffer).setInt32(end - 1 - 4, -1);
    expect(readSingleProduce(nullRecords, start, end, out())).toBe(false);
    expect(() => decodeProduceRequest(nullRecords, start, end)).toThrow();
    const nullName = buf.slice();
    new DataView(nullName.buffer).setInt16(start + 10, -1);
    expect(readSingleProduce(nullName, start, end, out())).toBe(false);
  });
});
