// The Produce response is encoded straight from the per-partition result
// arrays: byte for byte what the protocol codec's writeProduceResponse writes
// for the same results (offsets near 2^53, -1s and error codes included).

import { describe, expect, test } from "bun:test";
import { Writer } from "../../protocol/codec.ts";
import { decodeProduceResponse, writeProduceResponse, type ProduceTopic } from "../../protocol/messages/produce.ts";
import { writeProduceResults } from "./produce_in_flight.ts";

describe("writeProduceResults", () => {
  test("the same bytes as writeProduceResponse", () => {
    const topics: ProduceTopic[] = [
      { name: "orders", partitions: [{ index: 0, records: new Uint8Array(0) }, { index: 7, records: new Uint8Array(0) }] },
      { name: "ünïcode-topic", partitions: [{ index: 2_147_483_647, records: new Uint8Array(0) }] },
      { name: "empty", partitions: [] },
    ];
    const codes = Int16Array.from([0, 3, 0]);
    const baseOffsets = Float64Array.from([Number.MAX_SAFE_INTEGER, -1, 4_294_967_296]);
    const appendTimes = Float64Array.from([-1, -1, 1_700_000_000_123]);
    const logStarts = Float64Array.from([0, -1, 4_294_967_295]);

    const direct = new Writer();
    writeProduceResults(direct, topics, codes, baseOffsets, appendTimes, logStarts);
    const viaCodec = new Writer();
    let flat = 0;
    writeProduceResponse(viaCodec, {
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const i = flat++;
          return { index: p.index, errorCode: codes[i], baseOffset: BigInt(baseOffsets[i]), logAppendTimeMs: BigInt(appendTimes[i]), logStartOffset: BigInt(logStarts[i]) };
        }),
      })),
    });
    expect(direct.finish()).toEqual(viaCodec.finish());
    const decoded = decodeProduceResponse(direct.finish());
    expect(decoded.topics[0].partitions[0].baseOffset).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    expect(decoded.topics[0].partitions[1].logStartOffset).toBe(-1n);
  });
});
