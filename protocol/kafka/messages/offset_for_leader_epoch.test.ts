// Golden bytes for OffsetForLeaderEpoch (23), written by hand from Kafka's
// grammar (OffsetForLeaderEpochRequest.json / Response.json): v2, the version
// librdkafka sends (KIP-320, currentLeaderEpoch), and v4, the flexible one.

import { expect, test } from "bun:test";
import { KafkaReader } from "../reader.ts";
import { toHex } from "../testing/helpers.ts";
import { KafkaWriter } from "../writer.ts";
import {
  decodeOffsetForLeaderEpochRequest,
  decodeOffsetForLeaderEpochResponse,
  encodeOffsetForLeaderEpochRequest,
  encodeOffsetForLeaderEpochResponse,
} from "./offset_for_leader_epoch.ts";

const REQUEST = { replicaId: -1, topics: [{ topic: "t", partitions: [{ partition: 0, currentLeaderEpoch: 3, leaderEpoch: 2 }] }] };
const RESPONSE = { throttleTimeMs: 0, topics: [{ topic: "t", partitions: [{ errorCode: 0, partition: 0, leaderEpoch: 2, endOffset: 42n }] }] };

function bytes(encode: (w: KafkaWriter) => void): string {
  const w = new KafkaWriter();
  encode(w);
  return toHex(w.finish());
}

const hex = (s: string) => s.replace(/\s+/g, "");

test("v2 request: topics [topic, partitions [partition, currentLeaderEpoch, leaderEpoch]], no replicaId", () => {
  const golden = hex("00000001 0001 74 00000001 00000000 00000003 00000002");
  expect(bytes((w) => encodeOffsetForLeaderEpochRequest(w, 2, REQUEST))).toBe(golden);
  const back = decodeOffsetForLeaderEpochRequest(new KafkaReader(Buffer.from(golden, "hex")), 2);
  expect(back.topics[0].partitions[0]).toEqual({ partition: 0, currentLeaderEpoch: 3, leaderEpoch: 2 });
});

test("v0 request has no currentLeaderEpoch (decoded as -1: not checked)", () => {
  const golden = hex("00000001 0001 74 00000001 00000000 00000002");
  const back = decodeOffsetForLeaderEpochRequest(new KafkaReader(Buffer.from(golden, "hex")), 0);
  expect(back.topics[0].partitions[0]).toEqual({ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 2 });
});

test("v4 request: replicaId first, compact arrays and strings, tagged fields after each struct", () => {
  const golden = hex("ffffffff 02 02 74 02 00000000 00000003 00000002 00 00 00");
  expect(bytes((w) => encodeOffsetForLeaderEpochRequest(w, 4, REQUEST))).toBe(golden);
  expect(decodeOffsetForLeaderEpochRequest(new KafkaReader(Buffer.from(golden, "hex")), 4).replicaId).toBe(-1);
});

test("v2 response: throttleTimeMs, then per partition errorCode, partition, leaderEpoch, endOffset", () => {
  const golden = hex("00000000 00000001 0001 74 00000001 0000 00000000 00000002 000000000000002a");
  expect(bytes((w) => encodeOffsetForLeaderEpochResponse(w, 2, RESPONSE))).toBe(golden);
  const back = decodeOffsetForLeaderEpochResponse(new KafkaReader(Buffer.from(golden, "hex")), 2);
  expect(back.topics[0].partitions[0]).toEqual({ errorCode: 0, partition: 0, leaderEpoch: 2, endOffset: 42n });
});

test("v0 response has neither throttleTimeMs nor leaderEpoch", () => {
  expect(bytes((w) => encodeOffsetForLeaderEpochResponse(w, 0, RESPONSE))).toBe(hex("00000001 0001 74 00000001 0000 00000000 000000000000002a"));
});
