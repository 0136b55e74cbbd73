// Every codec at every version: encode → decode gives back the fields of that
// version; a frame cut at any byte throws TRUNCATED; counts and lengths past
// their limits are refused before anything is allocated from them.

import { describe, expect, test } from "bun:test";
import { KafkaDecodeReason } from "../decode_error.ts";
import { KafkaReader } from "../reader.ts";
import { decodeMessage, encodeMessage, type Field, type MessageSpec } from "../schema.ts";
import { decodeError } from "../testing/helpers.ts";
import { expectedDecode, SAMPLE_RECORDS_BYTES, sampleStruct } from "../testing/samples.ts";
import { KAFKA_APIS } from "../versions.ts";
import { KafkaWriter } from "../writer.ts";
import { KAFKA_MESSAGE_SPECS } from "./mod.ts";

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
