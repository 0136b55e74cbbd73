// Golden bytes for ElectLeaders (43), AlterPartitionReassignments (45) and
// ListPartitionReassignments (46). The request bytes of 45 and 46 are what
// @platformatic/kafka 2.12.1's own codecs write (its createRequest, recorded
// once); the rest are written by hand from Kafka's grammar
// (ElectLeadersRequest.json and the others). Round trips at every version
// are in messages.test.ts.

import { expect, test } from "bun:test";
import { KafkaReader } from "../reader.ts";
import { toHex } from "../testing/helpers.ts";
import { KafkaWriter } from "../writer.ts";
import {
  decodeAlterPartitionReassignmentsRequest,
  decodeAlterPartitionReassignmentsResponse,
  encodeAlterPartitionReassignmentsRequest,
  encodeAlterPartitionReassignmentsResponse,
} from "./alter_partition_reassignments.ts";
import { decodeElectLeadersRequest, decodeElectLeadersResponse, encodeElectLeadersRequest, encodeElectLeadersResponse, KafkaElectionType } from "./elect_leaders.ts";
import {
  decodeListPartitionReassignmentsRequest,
  decodeListPartitionReassignmentsResponse,
  encodeListPartitionReassignmentsRequest,
  encodeListPartitionReassignmentsResponse,
} from "./list_partition_reassignments.ts";

function bytes(encode: (w: KafkaWriter) => void): string {
  const w = new KafkaWriter();
  encode(w);
  return toHex(w.finish());
}
const hex = (s: string) => s.replace(/\s+/g, "");
const reader = (h: string) => new KafkaReader(Buffer.from(hex(h), "hex"));

test("AlterPartitionReassignments v1 request as @platformatic/kafka writes it: a move and a cancel (null replicas)", () => {
  // timeoutMs, allowReplicationFactorChange, topics [name, partitions [index, replicas|null, tags], tags], tags
  const golden = hex("00007530 01 02 0274 03 00000001 03 00000003 00000002 00 00000002 00 00 00 00");
  const value = { timeoutMs: 30_000, allowReplicationFactorChange: true, topics: [{ name: "t", partitions: [{ partitionIndex: 1, replicas: [3, 2] }, { partitionIndex: 2, replicas: null }] }] };
  expect(bytes((w) => encodeAlterPartitionReassignmentsRequest(w, 1, value))).toBe(golden);
  expect(decodeAlterPartitionReassignmentsRequest(reader(golden), 1)).toEqual(value);
});

test("AlterPartitionReassignments v0 request has no allowReplicationFactorChange (decoded as true)", () => {
  const golden = hex("00007530 02 0274 02 00000000 02 00000001 00 00 00");
  expect(decodeAlterPartitionReassignmentsRequest(reader(golden), 0)).toEqual({
    timeoutMs: 30_000,
    allowReplicationFactorChange: true,
    topics: [{ name: "t", partitions: [{ partitionIndex: 0, replicas: [1] }] }],
  });
});

test("AlterPartitionReassignments v1 response: per-partition code and message", () => {
  // throttle, allowRf, errorCode, errorMessage null, responses [name, partitions [index, code, message], tags], tags
  const golden = hex("00000000 01 0000 00 02 0274 02 00000001 003c 03 6e6f 00 00 00");
  const value = { throttleTimeMs: 0, allowReplicationFactorChange: true, errorCode: 0, errorMessage: null, responses: [{ name: "t", partitions: [{ partitionIndex: 1, errorCode: 60, errorMessage: "no" }] }] };
  expect(bytes((w) => encodeAlterPartitionReassignmentsResponse(w, 1, value))).toBe(golden);
  expect(decodeAlterPartitionReassignmentsResponse(reader(golden), 1)).toEqual(value);
});

test("ListPartitionReassignments v0 request as @platformatic/kafka writes it, named and null (every move)", () => {
  const named = hex("00007530 02 0274 02 00000001 00 00");
  expect(bytes((w) => encodeListPartitionReassignmentsRequest(w, 0, { timeoutMs: 30_000, topics: [{ name: "t", partitionIndexes: [1] }] }))).toBe(named);
  expect(decodeListPartitionReassignmentsRequest(reader(named), 0)).toEqual({ timeoutMs: 30_000, topics: [{ name: "t", partitionIndexes: [1] }] });
  const all = hex("00007530 00 00");
  expect(bytes((w) => encodeListPartitionReassignmentsRequest(w, 0, { timeoutMs: 30_000, topics: null }))).toBe(all);
  expect(decodeListPartitionReassignmentsRequest(reader(all), 0).topics).toBeNull();
});

test("ListPartitionReassignments v0 response: replicas, adding, removing", () => {
  const golden = hex("00000000 0000 00 02 0274 02 00000000 04 00000001 00000002 00000003 02 00000003 02 00000001 00 00 00");
  const value = { throttleTimeMs: 0, errorCode: 0, errorMessage: null, topics: [{ name: "t", partitions: [{ partitionIndex: 0, replicas: [1, 2, 3], addingReplicas: [3], removingReplicas: [1] }] }] };
  expect(bytes((w) => encodeListPartitionReassignmentsResponse(w, 0, value))).toBe(golden);
  expect(decodeListPartitionReassignmentsResponse(reader(golden), 0)).toEqual(value);
});

test("ElectLeaders v0 request: classic encoding, no election type (preferred), null topics = every partition", () => {
  const named = hex("00000001 0001 74 00000002 00000000 00000001 0000ea60");
  expect(decodeElectLeadersRequest(reader(named), 0)).toEqual({ electionType: KafkaElectionType.PREFERRED, topicPartitions: [{ topic: "t", partitions: [0, 1] }], timeoutMs: 60_000 });
  const all = hex("ffffffff 0000ea60");
  expect(decodeElectLeadersRequest(reader(all), 0).topicPartitions).toBeNull();
});

test("ElectLeaders v2 request: flexible, election type first", () => {
  const golden = hex("01 02 0274 02 00000002 00 00007530 00");
  const value = { electionType: KafkaElectionType.UNCLEAN, topicPartitions: [{ topic: "t", partitions: [2] }], timeoutMs: 30_000 };
  expect(bytes((w) => encodeElectLeadersRequest(w, 2, value))).toBe(golden);
  expect(decodeElectLeadersRequest(reader(golden), 2)).toEqual(value);
});

test("ElectLeaders responses: no top-level error code in v0, one from v1", () => {
  const results = [{ topic: "t", partitionResult: [{ partitionId: 0, errorCode: 84, errorMessage: "already leader" }] }];
  const v0 = hex("00000000 00000001 0001 74 00000001 00000000 0054 000e 616c7265616479206c6561646572");
  expect(bytes((w) => encodeElectLeadersResponse(w, 0, { throttleTimeMs: 0, errorCode: 0, replicaElectionResults: results }))).toBe(v0);
  const v2 = hex("00000000 002a 02 0274 02 00000000 0054 0f 616c7265616479206c6561646572 00 00 00");
  expect(bytes((w) => encodeElectLeadersResponse(w, 2, { throttleTimeMs: 0, errorCode: 42, replicaElectionResults: results }))).toBe(v2);
  expect(decodeElectLeadersResponse(reader(v2), 2)).toEqual({ throttleTimeMs: 0, errorCode: 42, replicaElectionResults: results });
});
