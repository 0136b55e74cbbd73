// The native placement apis' bodies (reassignments.ts): they round-trip
// through the control codecs, and bad input is INVALID_REQUEST naming the field.

import { describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { ApiKey } from "../api_keys.ts";
import { ErrorCode } from "../errors.ts";
import { REASSIGNMENT_REQUEST_PARTITIONS_MAX, REPLICA_LIST_LENGTH_MAX } from "../limits.ts";
import { decodeControlRequest, decodeControlResponse, encodeControlRequest, encodeControlResponse } from "./control.ts";
import { sluiceError } from "../testing/sluice_error.ts";

describe("AlterPartitionReassignments (45)", () => {
  test("a move, a cancel (null replicas) and a throttle round-trip", () => {
    const req = { partitions: [{ topic: "t", partition: 0, replicas: [3, 1] }, { topic: "t", partition: 1, replicas: null }], throttleBytesPerSec: 1_048_576 };
    expect(decodeControlRequest(ApiKey.AlterPartitionReassignments, encodeControlRequest(ApiKey.AlterPartitionReassignments, req))).toEqual(req);
    const resp = { partitions: [{ topic: "t", partition: 0, errorCode: ErrorCode.NONE, message: null }, { topic: "t", partition: 1, errorCode: ErrorCode.NO_REASSIGNMENT_IN_PROGRESS, message: "t-1 is not moving" }] };
    expect(decodeControlResponse(ApiKey.AlterPartitionReassignments, encodeControlResponse(ApiKey.AlterPartitionReassignments, resp))).toEqual(resp);
  });

  test("bad input names the field", () => {
    const bad = (body: unknown) => sluiceError(() => decodeControlRequest(ApiKey.AlterPartitionReassignments, encode(body)));
    expect(bad({ partitions: [{ topic: "t", partition: -1, replicas: [1] }] }).message).toContain("partitions.0.partition");
    expect(bad({ partitions: [{ topic: "t", partition: 0, replicas: [1.5] }] }).message).toContain("partitions.0.replicas.0");
    expect(bad({ partitions: [{ topic: "t", partition: 0, replicas: [1] }], throttleBytesPerSec: 0 }).message).toContain("throttleBytesPerSec");
    const long = bad({ partitions: [{ topic: "t", partition: 0, replicas: Array.from({ length: REPLICA_LIST_LENGTH_MAX + 1 }, (_, i) => i) }] });
    expect(long.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(long.message).toContain("partitions.0.replicas");
    const many = bad({ partitions: Array.from({ length: REASSIGNMENT_REQUEST_PARTITIONS_MAX + 1 }, (_, p) => ({ topic: "t", partition: p, replicas: [1] })) });
    expect(many.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(many.message).toContain("partitions");
  });
});

describe("ListPartitionReassignments (46), DescribeCluster (60), ProposeReassignment (1005), BalanceByLoad (1006)", () => {
  test("requests and responses round-trip", () => {
    const list = { topics: [{ name: "t", partitions: [] }], progress: true };
    expect(decodeControlRequest(ApiKey.ListPartitionReassignments, encodeControlRequest(ApiKey.ListPartitionReassignments, list))).toEqual(list);
    const listed = {
      progress: true,
      partitions: [{ topic: "t", partition: 0, replicas: [1, 2, 3], target: [3, 2], adding: [3], removing: [1], leader: 1, isr: [1, 2], throttleBytesPerSec: null, bytesTotal: 100, bytesCopied: 40, bytesRemaining: 60 }],
    };
    expect(decodeControlResponse(ApiKey.ListPartitionReassignments, encodeControlResponse(ApiKey.ListPartitionReassignments, listed))).toEqual(listed);
    const cluster = { clusterName: "c", controllerId: 2, brokers: [{ nodeId: 2, host: "h", port: 1, kafkaPort: null, httpPort: 3, rack: "r" }] };
    expect(decodeControlResponse(ApiKey.DescribeCluster, encodeControlResponse(ApiKey.DescribeCluster, cluster))).toEqual(cluster);
    const plan = { version: 1 as const, partitions: [{ topic: "t", partition: 0, replicas: [1, 2] }] };
    const proposal = { plan, moves: 1, leaderChanges: 0, before: [{ broker: 1, replicas: 1, leaders: 1 }], after: [{ broker: 1, replicas: 1, leaders: 1 }] };
    expect(decodeControlResponse(ApiKey.ProposeReassignment, encodeControlResponse(ApiKey.ProposeReassignment, proposal))).toEqual(proposal);
    const balance = { plan, moves: 1, leaderChanges: 1, bytesToCopy: 10, before: [{ broker: 1, bytesPerSec: 2.5 }], after: [{ broker: 1, bytesPerSec: 1.25 }], silentBrokers: [3] };
    expect(decodeControlResponse(ApiKey.BalanceByLoad, encodeControlResponse(ApiKey.BalanceByLoad, balance))).toEqual(balance);
  });

  test("a proposal needs at least one broker; a list's partitions are non-negative", () => {
    expect(sluiceError(() => decodeControlRequest(ApiKey.ProposeReassignment, encode({ brokers: [], topics: null }))).message).toContain("brokers");
    expect(sluiceError(() => decodeControlRequest(ApiKey.ListPartitionReassignments, encode({ topics: [{ name: "t", partitions: [-1] }] }))).message).toContain("topics.0.partitions.0");
  });
});
