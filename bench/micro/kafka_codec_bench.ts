// Kafka codecs on the hot path, next to the native ones in frame_bench.ts: a
// one-partition Produce request decoded (full decoder, the allocation-free
// readSingleProduce, and the table-driven codec the hand-written one replaces),
// and a Produce / Fetch response encoded, at a classic and a flexible version.

import type { Bench } from "tinybench";
import { encodeFetchResponse } from "../../protocol/kafka/messages/fetch.ts";
import {
  decodeProduceRequest,
  encodeProduceRequest,
  encodeProduceResponse,
  newSingleProduce,
  ProduceRequestSpec,
  readSingleProduce,
} from "../../protocol/kafka/messages/produce.ts";
import { KafkaReader } from "../../protocol/kafka/reader.ts";
import { decodeMessage } from "../../protocol/kafka/schema.ts";
import { KafkaWriter } from "../../protocol/kafka/writer.ts";
import type { MicroOptions } from "./run.ts";

export function register(bench: Bench, opts: MicroOptions): void {
  const records = new Uint8Array(opts.small ? 1024 : 16 * 1024).fill(1);
  const stored = new Uint8Array(opts.small ? 1024 : 64 * 1024).fill(2);
  const w = new KafkaWriter();
  for (const version of [7, 9]) {
    const frameWriter = new KafkaWriter();
    encodeProduceRequest(frameWriter, version, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [{ name: "bench-topic", partitionData: [{ index: 3, records }] }],
    });
    const frame = frameWriter.finish().slice();
    const r = new KafkaReader(frame);
    const single = newSingleProduce();
    bench.add(`kafka produce v${version} decode`, () => {
      r.reset(frame);
      return decodeProduceRequest(r, version).topicData.length;
    });
    bench.add(`kafka produce v${version} readSingleProduce`, () => {
      r.reset(frame);
      return readSingleProduce(r, version, single) ? single.recordsEnd : -1;
    });
    bench.add(`kafka produce v${version} decode by table`, () => {
      r.reset(frame);
      return decodeMessage(ProduceRequestSpec, r, version).topicData.length;
    });
    const produced = { responses: [{ name: "bench-topic", partitionResponses: [{ index: 3, baseOffset: 123_456, logStartOffset: 0 }] }] };
    bench.add(`kafka produce v${version} response encode`, () => {
      w.reset();
      encodeProduceResponse(w, version, produced);
      return w.length;
    });
    const fetchVersion = version === 9 ? 12 : 11;
    const fetched = {
      responses: [
        { topic: "bench-topic", partitions: [{ partitionIndex: 3, highWatermark: 1000, lastStableOffset: 1000, logStartOffset: 0, records: stored }] },
      ],
    };
    bench.add(`kafka fetch v${fetchVersion} response encode (records spliced)`, () => {
      w.reset();
      encodeFetchResponse(w, fetchVersion, fetched);
      return w.pieces().length;
    });
  }
}
