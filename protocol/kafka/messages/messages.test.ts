// Every codec at every version: encode → decode gives back the fields of that
// version; a frame cut at any byte throws TRUNCATED; counts and lengths past
// their limits are refused before anything is allocated from them.

import { describe, expect, test } from "bun:test";
import { KafkaDecodeReason } from "../decode_error.ts";
import { KafkaReader } from "../reader.ts";
import { decodeMessage, encodeMessage, type Field, type MessageSpec } from "../schema.ts";
import { decodeError, toHex } from "../testing/helpers.ts";
import { expectedDecode, SAMPLE_RECORDS_BYTES, sampleStruct } from "../testing/samples.ts";
import { KAFKA_APIS } from "../versions.ts";
import { KafkaWriter } from "../writer.ts";
import { decodeFetchRequest, encodeFetchResponse, encodeFetchResults, type FetchRequest } from "./fetch.ts";
import { KAFKA_MESSAGE_SPECS } from "./mod.ts";
import { decodeProduceRequest, encodeProduceResponse, encodeProduceResults, newSingleProduce, type ProduceRequest, readSingleProduce } from "./produce.ts";

type Spec = MessageSpec<readonly Field[]>;

function encode(spec: Spec, version: number, value: Record<string, unknown>): KafkaWriter {
  const w = new KafkaWriter({ initialBytes: 64 });
  encodeMessage(spec, w, version, value as never);
  return w;
}

function versionsOf(spec: Spec): number[] {
  const out: number[] = [];
  for (let v = spec.validVersions[0]; v <= spec.validVersions[1]; v++) out.push(v);
  return out;
}

test("every api of the versions table has a request and a response codec with its range", () => {
  expect(KAFKA_MESSAGE_SPECS.map((m) => m.request.apiKey).sort((a, b) => a - b)).toEqual(KAFKA_APIS.map((a) => a.key));
  for (const m of KAFKA_MESSAGE_SPECS) expect(m.response.apiKey).toBe(m.request.apiKey);
});

for (const { request, response } of KAFKA_MESSAGE_SPECS) {
  describe(request.name.replace(/Request$/, ""), () => {
    for (const spec of [request, response]) {
      test(`${spec.name} round-trips at every version, with values and with nulls`, () => {
        for (const version of versionsOf(spec)) {
          for (const nulls of [false, true]) {
            const value = sampleStruct(spec.fields, version, version * 100, nulls);
            const bytes = encode(spec, version, value).finish();
            const decoded = decodeMessage(spec, new KafkaReader(bytes), version);
            expect(decoded).toEqual(expectedDecode(spec.fields, value, version) as never);
          }
        }
      });

      test(`${spec.name} cut at every byte throws TRUNCATED`, () => {
        for (const version of versionsOf(spec)) {
          const whole = encode(spec, version, sampleStruct(spec.fields, version, 1, false)).finish().slice();
          for (let n = 0; n < whole.length; n++) {
            const e = decodeError(() => decodeMessage(spec, new KafkaReader(whole.subarray(0, n)), version));
            expect(e.reason).toBe(KafkaDecodeReason.TRUNCATED);
          }
        }
      });
    }
  });
}

describe("limits at the edge", () => {
  const produce = KAFKA_MESSAGE_SPECS.find((m) => m.request.name === "ProduceRequest")!.request;
  const metadata = KAFKA_MESSAGE_SPECS.find((m) => m.request.name === "MetadataRequest")!.request;

  test("a Metadata request claiming 2^31-1 topics is refused as OVER_LIMIT", () => {
    const frame = new KafkaWriter().int32(0x7fffffff).finish();
    expect(decodeError(() => decodeMessage(metadata, new KafkaReader(frame), 1)).reason).toBe(KafkaDecodeReason.OVER_LIMIT);
  });

  test("a flexible Produce request claiming more partitions than its bytes can hold is refused as TRUNCATED", () => {
    const w = new KafkaWriter().compactNullableString(null).int16(-1).int32(1000);
    w.compactArrayLength(1).compactString("t").compactArrayLength(90_000).int32(0);
    expect(decodeError(() => decodeMessage(produce, new KafkaReader(w.finish()), 9)).reason).toBe(KafkaDecodeReason.TRUNCATED);
  });

  test("a records length past the frame is TRUNCATED, past the limit OVER_LIMIT", () => {
    const w = new KafkaWriter().nullableString(null).int16(-1).int32(1000).arrayLength(1).string("t").arrayLength(1).int32(0);
    const head = w.finish().slice();
    const past = new KafkaWriter().raw(head).int32(100).raw(new Uint8Array(10)).finish();
    expect(decodeError(() => decodeMessage(produce, new KafkaReader(past), 3)).reason).toBe(KafkaDecodeReason.TRUNCATED);
    const over = new KafkaWriter().raw(head).int32(0x7ffffff0).finish();
    expect(decodeError(() => decodeMessage(produce, new KafkaReader(over), 3)).reason).toBe(KafkaDecodeReason.OVER_LIMIT);
  });

  test("a version outside the table is UNSUPPORTED_VERSION", () => {
    const e = decodeError(() => decodeMessage(produce, new KafkaReader(new Uint8Array(0)), 10));
    expect(e.reason).toBe(KafkaDecodeReason.UNSUPPORTED_VERSION);
  });

  test("bytes left over after a message are TRAILING_BYTES", () => {
    const w = new KafkaWriter().arrayLength(0).int8(0);
    expect(decodeError(() => decodeMessage(metadata, new KafkaReader(w.finish()), 1)).reason).toBe(KafkaDecodeReason.TRAILING_BYTES);
  });
});

test("records decode as a view of the frame and encode as a spliced segment (no copy either way)", () => {
  const fetch = KAFKA_MESSAGE_SPECS.find((m) => m.response.name === "FetchResponse")!.response;
  const stored = new Uint8Array(SAMPLE_RECORDS_BYTES).fill(5);
  const w = new KafkaWriter();
  encodeMessage(fetch, w, 12, {
    responses: [{ topic: "t", partitions: [{ partitionIndex: 0, highWatermark: 10n, records: stored }] }],
  } as never);
  expect(w.segments().some((s) => s === stored)).toBe(true);
  const frame = w.finish();
  const decoded = decodeMessage(fetch, new KafkaReader(frame), 12) as { responses: { partitions: { records: Uint8Array }[] }[] };
  const records = decoded.responses[0].partitions[0].records;
  expect(records.buffer).toBe(frame.buffer);
  expect(records).toEqual(stored);
});

describe("hand-written hot paths agree with the tables", () => {
  const produce = KAFKA_MESSAGE_SPECS.find((x) => x.request.name === "ProduceRequest")!;
  const fetch = KAFKA_MESSAGE_SPECS.find((x) => x.request.name === "FetchRequest")!;
  const hot = [
    { name: "Produce", specs: produce, decodeRequest: decodeProduceRequest, encodeResponse: encodeProduceResponse },
    { name: "Fetch", specs: fetch, decodeRequest: decodeFetchRequest, encodeResponse: encodeFetchResponse },
  ] as const;

  /** Null records become empty ones in a Fetch response (see encodeFetchResponse). */
  function emptyNullRecords(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(emptyNullRecords);
    if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = k === "records" && x === null ? new Uint8Array(0) : emptyNullRecords(x);
    return out;
  }

  /** The sample without the rare tagged partition fields, so the hand path (not its fallback) runs. */
  function withoutTagged(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(withoutTagged);
    if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "divergingEpoch" || k === "currentLeader" || k === "snapshotId" || k === "recordErrors") continue;
      out[k] = withoutTagged(x);
    }
    return out;
  }

  for (const h of hot) {
    test(`${h.name}: the request decoder gives what the table gives, at every version, and fails TRUNCATED at every cut`, () => {
      for (const version of versionsOf(h.specs.request)) {
        for (const nulls of [false, true]) {
          const bytes = encode(h.specs.request, version, sampleStruct(h.specs.request.fields, version, version, nulls)).finish().slice();
          const byTable = decodeMessage(h.specs.request, new KafkaReader(bytes), version);
          expect(h.decodeRequest(new KafkaReader(bytes), version) as unknown).toEqual(byTable);
          for (let n = 0; n < bytes.length; n++) {
            const e = decodeError(() => h.decodeRequest(new KafkaReader(bytes.subarray(0, n)), version));
            expect(e.reason).toBe(KafkaDecodeReason.TRUNCATED);
          }
        }
      }
    });

    test(`${h.name}: the response encoder writes the table's bytes at every version (and its fallback too)`, () => {
      for (const version of versionsOf(h.specs.response)) {
        for (const nulls of [false, true]) {
          const full = sampleStruct(h.specs.response.fields, version, version, nulls);
          for (const value of [full, withoutTagged(full) as Record<string, unknown>]) {
            const expected = encode(h.specs.response, version, (h.name === "Fetch" ? emptyNullRecords(value) : value) as Record<string, unknown>);
            const w = new KafkaWriter({ initialBytes: 64 });
            h.encodeResponse(w, version, value as never);
            expect(toHex(w.finish())).toBe(toHex(expected.finish()));
          }
        }
      }
    });
  }

  test("encodeFetchResults writes encodeFetchResponse's bytes for the same results, at every version and isolation level", () => {
    const records = new Uint8Array(3 * SAMPLE_RECORDS_BYTES).map((_, i) => i & 0xff);
    const topics = [
      { topic: "a", partitions: [{ partition: 0 }, { partition: 7 }] },
      { topic: "béta", partitions: [{ partition: 2 }] },
    ];
    // Flat over the partitions: an error with no records, a large view, a small one (copied by the writer).
    const codes = Int16Array.from([3, 0, 0]);
    const highWatermarks = Float64Array.from([-1, 2 ** 40 + 5, 12]);
    const logStartOffsets = Float64Array.from([-1, 0, 2 ** 33]);
    const starts = Int32Array.from([0, 0, 2 * SAMPLE_RECORDS_BYTES]);
    const lengths = Int32Array.from([0, 2 * SAMPLE_RECORDS_BYTES, 100]);
    for (const version of versionsOf(KAFKA_MESSAGE_SPECS.find((x) => x.request.name === "FetchRequest")!.response)) {
      for (const isolationLevel of [0, 1]) {
        const request = { isolationLevel, topics: topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => ({ partition: p.partition })) })) } as unknown as FetchRequest;
        const w = new KafkaWriter({ initialBytes: 64 });
        encodeFetchResults(w, version, request, { codes, highWatermarks, logStartOffsets, records, starts, lengths });
        let i = 0;
        const expected = new KafkaWriter({ initialBytes: 64 });
        encodeFetchResponse(expected, version, {
          throttleTimeMs: 0,
          errorCode: 0,
          sessionId: 0,
          responses: topics.map((t) => ({
            topic: t.topic,
            partitions: t.partitions.map((p) => {
              const k = i++;
              return {
                partitionIndex: p.partition,
                errorCode: codes[k],
                highWatermark: BigInt(highWatermarks[k]),
                lastStableOffset: BigInt(highWatermarks[k]),
                logStartOffset: BigInt(logStartOffsets[k]),
                abortedTransactions: isolationLevel === 1 ? [] : null,
                records: records.subarray(starts[k], starts[k] + lengths[k]),
              };
            }),
          })),
        });
        expect(toHex(w.finish())).toBe(toHex(expected.finish()));
        // The large record view is spliced in, not copied.
        expect(w.pieces().some((p) => p.buffer === records.buffer)).toBe(true);
      }
    }
  });

  test("encodeProduceResults writes encodeProduceResponse's bytes for the same results, at every version", () => {
    const topicData = [
      { name: "a", partitionData: [{ index: 0, records: null }, { index: 5, records: null }] },
      { name: "béta", partitionData: [{ index: 1, records: null }] },
    ];
    const request = { transactionalId: null, acks: -1, timeoutMs: 1000, topicData } as unknown as ProduceRequest;
    // Flat: a success past 2^32, a timed-out partition (-1s), a refused batch with a message.
    const codes = Int16Array.from([0, 7, 2]);
    const baseOffsets = Float64Array.from([2 ** 33 + 1, -1, -1]);
    const logAppendTimes = Float64Array.from([1_700_000_000_000, -1, -1]);
    const logStartOffsets = Float64Array.from([0, -1, -1]);
    const messages = [null, null, "bad crc"];
    for (const version of versionsOf(KAFKA_MESSAGE_SPECS.find((x) => x.request.name === "ProduceRequest")!.response)) {
      const w = new KafkaWriter({ initialBytes: 64 });
      encodeProduceResults(w, version, request, { codes, baseOffsets, logAppendTimes, logStartOffsets, messages });
      let i = 0;
      const expected = new KafkaWriter({ initialBytes: 64 });
      encodeProduceResponse(expected, version, {
        throttleTimeMs: 0,
        responses: topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => {
            const k = i++;
            return {
              index: p.index,
              errorCode: codes[k],
              baseOffset: BigInt(baseOffsets[k]),
              logAppendTimeMs: BigInt(logAppendTimes[k]),
              logStartOffset: BigInt(logStartOffsets[k]),
              errorMessage: messages[k],
            };
          }),
        })),
      });
      expect(toHex(w.finish())).toBe(toHex(expected.finish()));
    }
  });

  test("a Fetch response's records are spliced pieces, odd indices being the stored views", () => {
    const a = new Uint8Array(SAMPLE_RECORDS_BYTES).fill(1);
    const b = new Uint8Array(SAMPLE_RECORDS_BYTES).fill(2);
    const w = new KafkaWriter();
    encodeFetchResponse(w, 11, {
      responses: [{ topic: "t", partitions: [{ partitionIndex: 0, records: a }, { partitionIndex: 1, records: b }] }],
    });
    const pieces = w.pieces();
    expect(pieces.length).toBe(5);
    expect(pieces[1]).toBe(a);
    expect(pieces[3]).toBe(b);
    expect(pieces.reduce((n, p) => n + p.length, 0)).toBe(w.byteLength);
  });
});

describe("readSingleProduce", () => {
  const produce = KAFKA_MESSAGE_SPECS.find((x) => x.request.name === "ProduceRequest")!.request;
  const records = new Uint8Array(SAMPLE_RECORDS_BYTES).fill(9);

  test("reads a one-partition request at every version into the reused object, records as positions", () => {
    const out = newSingleProduce();
    for (let version = 0; version <= 9; version++) {
      const w = new KafkaWriter().int32(0x0badf00d);
      encodeMessage(produce, w, version, { transactionalId: "tx", acks: -1, timeoutMs: 1500, topicData: [{ name: "t1", partitionData: [{ index: 4, records }] }] } as never);
      const frame = w.finish().slice();
      const r = new KafkaReader(frame, 4);
      expect(readSingleProduce(r, version, out)).toBe(true);
      expect(out).toMatchObject({ transactionalId: version >= 3 ? "tx" : null, acks: -1, timeoutMs: 1500, topic: "t1", partition: 4 });
      expect(frame.subarray(out.recordsStart, out.recordsEnd)).toEqual(records);
    }
  });

  test("declines other shapes and malformed bytes with the reader where it was, so the full decoder can say why", () => {
    const out = newSingleProduce();
    const shapes = [
      { topicData: [{ name: "a", partitionData: [{ index: 0, records }, { index: 1, records }] }] },
      { topicData: [{ name: "a", partitionData: [{ index: 0, records }] }, { name: "b", partitionData: [{ index: 0, records }] }] },
      { topicData: [{ name: "a", partitionData: [{ index: 0, records: null }] }] },
    ];
    for (const version of [3, 9]) {
      for (const shape of shapes) {
        const frame = encode(produce, version, { acks: 1, timeoutMs: 1, ...shape }).finish().slice();
        const r = new KafkaReader(frame);
        expect(readSingleProduce(r, version, out)).toBe(false);
        expect(r.pos).toBe(0);
        expect(decodeProduceRequest(r, version).acks).toBe(1);
      }
      const whole = encode(produce, version, { acks: 1, timeoutMs: 1, ...shapes[0], topicData: [{ name: "a", partitionData: [{ index: 0, records }] }] })
        .finish()
        .slice();
      for (let n = 0; n < whole.length; n++) {
        const r = new KafkaReader(whole.subarray(0, n));
        expect(readSingleProduce(r, version, out)).toBe(false);
        expect(r.pos).toBe(0);
      }
    }
  });
});

test("64-bit fields take numbers as well as bigints when encoding, with the same bytes", () => {
  const asBig = new KafkaWriter();
  encodeProduceResponse(asBig, 7, { responses: [{ name: "t", partitionResponses: [{ index: 0, baseOffset: 2n ** 40n, logStartOffset: 5n }] }] });
  const asNumber = new KafkaWriter();
  encodeProduceResponse(asNumber, 7, { responses: [{ name: "t", partitionResponses: [{ index: 0, baseOffset: 2 ** 40, logStartOffset: 5 }] }] });
  expect(toHex(asNumber.finish())).toBe(toHex(asBig.finish()));
  const table = new KafkaWriter();
  const spec = KAFKA_MESSAGE_SPECS.find((x) => x.response.name === "ListOffsetsResponse")!.response;
  encodeMessage(spec, table, 7, { topics: [{ name: "t", partitions: [{ partitionIndex: 0, offset: -2 }] }] } as never);
  const back = decodeMessage(spec, new KafkaReader(table.finish()), 7) as { topics: { partitions: { offset: bigint }[] }[] };
  expect(back.topics[0].partitions[0].offset).toBe(-2n);
  expect(() => new KafkaWriter().int64(2 ** 53)).toThrow(RangeError);
});
