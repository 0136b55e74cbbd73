// ReplicaFetch (api 1002): golden bytes written out by hand from the grammar at
// the top of replica_fetch.ts, round trips, pieces equal to the copied form,
// and typed refusals of bodies that do not fit the grammar.

import { describe, expect, test } from "bun:test";
import { Writer } from "../codec.ts";
import { ErrorCode, SluiceError } from "../errors.ts";
import { encodeBatch } from "../record_batch.ts";
import {
  decodeReplicaFetchRequest,
  decodeReplicaFetchResponse,
  NO_BROKER_EPOCH,
  NO_DIVERGING_EPOCH,
  type ReplicaFetchRequest,
  type ReplicaFetchResponse,
  writeReplicaFetchRequest,
  writeReplicaFetchResponse,
  writeReplicaFetchResponsePieces,
} from "./replica_fetch.ts";

function bytesOf(write: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  write(w);
  return w.finish().slice();
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("ReplicaFetch", () => {
  const req: ReplicaFetchRequest = {
    replicaId: 2,
    brokerEpoch: 4242,
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1024,
    topics: [{ name: "t", partitions: [{ index: 0, currentLeaderEpoch: 3, fetchOffset: 10n, lastFetchedEpoch: 2, durableOffset: 8n, partitionMaxBytes: 512 }] }],
  };

  test("request: golden bytes and round trip", () => {
    const b = bytesOf((w) => writeReplicaFetchRequest(w, req));
    expect(hex(b)).toBe(
      [
        "00000002", // ReplicaId
        "0000000000001092", // BrokerEpoch 4242
        "000001f4", // MaxWaitMs 500
        "00000001", // MinBytes
        "00000400", // MaxBytes 1024
        "00000001", // one topic
        "000174", // "t"
        "00000001", // one partition
        "00000000", // Index 0
        "00000003", // CurrentLeaderEpoch 3
        "000000000000000a", // FetchOffset 10
        "00000002", // LastFetchedEpoch 2
        "0000000000000008", // DurableOffset 8
        "00000200", // PartitionMaxBytes 512
      ].join(""),
    );
    expect(decodeReplicaFetchRequest(b)).toEqual(req);
  });

  test("response: golden bytes, round trip, a diverging epoch, pieces equal to the copied form", () => {
    const records = encodeBatch([{ value: "v" }]);
    const resp: ReplicaFetchResponse = {
      topics: [
        {
          name: "t",
          partitions: [
            { index: 0, errorCode: 0, highWatermark: 5n, logStartOffset: 0n, logEndOffset: 7n, divergingEpoch: NO_DIVERGING_EPOCH, divergingEndOffset: -1n, records },
            { index: 1, errorCode: 0, highWatermark: 5n, logStartOffset: 0n, logEndOffset: 9n, divergingEpoch: 1, divergingEndOffset: 6n, records: new Uint8Array(0) },
          ],
        },
      ],
    };
    const b = bytesOf((w) => writeReplicaFetchResponse(w, resp));
    const head = [
      "0000", // ErrorCode NONE
      "00000001", // one topic
      "000174", // "t"
      "00000002", // two partitions
      "00000000", // Index 0
      "0000", // ErrorCode
      "0000000000000005", // HighWatermark
      "0000000000000000", // LogStartOffset
      "0000000000000007", // LogEndOffset
      "ffffffff", // DivergingEpoch -1
      "ffffffffffffffff", // DivergingEndOffset -1
      records.length.toString(16).padStart(8, "0"),
    ].join("");
    expect(hex(b).startsWith(head)).toBe(true);
    const decoded = decodeReplicaFetchResponse(b);
    expect(decoded.topics[0].partitions[1].divergingEpoch).toBe(1);
    expect(decoded.topics[0].partitions[1].divergingEndOffset).toBe(6n);
    expect(hex(decoded.topics[0].partitions[0].records)).toBe(hex(records));
    const w = new Writer();
    const { pieces, recordBytes } = writeReplicaFetchResponsePieces(w, resp);
    expect(recordBytes).toBe(records.length);
    expect(hex(Buffer.concat(pieces))).toBe(hex(b));
  });

  test("BrokerEpoch: -1 (no registration) and 2^53-1 round trip; below -1 or beyond 2^53: INVALID_REQUEST", () => {
    for (const brokerEpoch of [NO_BROKER_EPOCH, Number.MAX_SAFE_INTEGER]) {
      const b = bytesOf((w) => writeReplicaFetchRequest(w, { ...req, brokerEpoch }));
      expect(decodeReplicaFetchRequest(b).brokerEpoch).toBe(brokerEpoch);
    }
    for (const raw of [-2n, 2n ** 53n]) {
      const b = bytesOf((w) => writeReplicaFetchRequest(w, req));
      new DataView(b.buffer, b.byteOffset).setBigInt64(4, raw);
      let caught: unknown;
      try {
        decodeReplicaFetchRequest(b);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SluiceError);
      expect((caught as SluiceError).code).toBe(ErrorCode.INVALID_REQUEST);
      expect((caught as SluiceError).message).toContain("brokerEpoch");
    }
  });

  test("version 0: the same request without BrokerEpoch, decoded as not sent (null)", () => {
    const v0 = bytesOf((w) => writeReplicaFetchRequest(w, req, 0));
    const v1 = bytesOf((w) => writeReplicaFetchRequest(w, req, 1));
    expect(v0.length).toBe(v1.length - 8);
    expect(hex(v0)).toBe(hex(v1).slice(0, 8) + hex(v1).slice(24));
    expect(decodeReplicaFetchRequest(v0, 0)).toEqual({ ...req, brokerEpoch: null });
  });

  test("a truncated request or trailing bytes: INVALID_REQUEST naming the problem", () => {
    const b = bytesOf((w) => writeReplicaFetchRequest(w, req));
    for (const bad of [b.subarray(0, b.length - 1), new Uint8Array([...b, 0])]) {
      let caught: unknown;
      try {
        decodeReplicaFetchRequest(bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(SluiceError);
      expect((caught as SluiceError).code).toBe(ErrorCode.INVALID_REQUEST);
    }
  });
});
