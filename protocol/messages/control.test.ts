import { describe, expect, test } from "bun:test";
import { encode } from "@msgpack/msgpack";
import { ApiKey, SUPPORTED_APIS, apiInfo, apiName, apiVersionsTable, isSupportedVersion } from "../api_keys.ts";
import { ErrorCode } from "../errors.ts";
import {
  ControlSchemas,
  decodeControlRequest,
  decodeControlResponse,
  encodeControlRequest,
  encodeControlResponse,
  isControlApiKey,
  type DescribeTopicsResponse,
  type MetadataResponse,
} from "./control.ts";
import { decodeResponseEnvelope, encodeErrorBody } from "./response.ts";
import { sluiceError } from "../testing/sluice_error.ts";

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

describe("api keys", () => {
  test("the table of docs/PROTOCOL.md, all at version 0, with body encodings", () => {
    expect(SUPPORTED_APIS.map((a) => a.key)).toEqual([0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20, 22, 33, 37, 43, 45, 46, 60, 1000, 1001, 1002, 1005, 1006]);
    expect(apiInfo(ApiKey.Produce)?.body).toBe("binary");
    expect(apiInfo(ApiKey.Fetch)?.body).toBe("binary");
    expect(apiInfo(ApiKey.ReplicaFetch)?.body).toBe("binary");
    expect(apiInfo(ApiKey.Metadata)?.body).toBe("msgpack");
    expect(isSupportedVersion(ApiKey.Fetch, 0)).toBe(true);
    expect(isSupportedVersion(ApiKey.Fetch, 1)).toBe(false);
    expect(isSupportedVersion(4, 0)).toBe(false);
    expect(apiName(1000)).toBe("DescribeTopics");
    expect(apiName(4)).toBe("api 4");
    expect(apiVersionsTable()[0]).toEqual([0, 0, 0]);
  });

  test("every msgpack control api of this file has schemas", () => {
    for (const key of [2, 3, 18, 19, 20, 22, 33, 37, 43, 45, 46, 60, 1000, 1005, 1006]) expect(isControlApiKey(key)).toBe(true);
    expect(isControlApiKey(ApiKey.Produce)).toBe(false);
    expect(Object.keys(ControlSchemas).length).toBe(15);
  });
});

describe("control bodies", () => {
  test("request fixture: Metadata { topics: null } is a one-entry MessagePack map", () => {
    const body = encodeControlRequest(ApiKey.Metadata, { topics: null });
    // fixmap(1) "topics"(fixstr 6) nil
    expect(hex(body)).toBe("81" + "a6746f70696373" + "c0");
    expect(decodeControlRequest(ApiKey.Metadata, body)).toEqual({ topics: null });
  });

  test("round trips of every request", () => {
    const cases = [
      [ApiKey.ApiVersions, { clientId: "c1" }],
      [ApiKey.ApiVersions, {}],
      [ApiKey.Metadata, { topics: ["a", "b"], allowAutoCreate: true }],
      [ApiKey.ListOffsets, { topics: [{ name: "a", partitions: [{ partition: 0, timestamp: -2 }, { partition: 1, timestamp: 1_700_000_000_000 }] }] }],
      [ApiKey.CreateTopics, { topics: [{ name: "a", partitions: -1, configs: { "retention.ms": "1000" } }], validateOnly: false }],
      [ApiKey.DeleteTopics, { topics: ["a"] }],
      [ApiKey.AlterConfigs, { topics: [{ name: "a", set: { "cleanup.policy": "delete" }, delete: ["retention.bytes"] }] }],
      [ApiKey.CreatePartitions, { topics: [{ name: "a", count: 12 }] }],
      [ApiKey.DescribeTopics, { topics: null }],
      [ApiKey.ElectLeaders, { topic: "a", partition: 3 }],
      [ApiKey.ElectLeaders, { topic: null, partition: null }],
    ] as const;
    for (const [key, req] of cases) {
      // biome-ignore lint: the table pairs keys and bodies
      expect(decodeControlRequest(key, encodeControlRequest(key, req as any))).toEqual(req as any);
    }
  });

  test("undefined optional fields are left out of the encoding", () => {
    const body = encodeControlRequest(ApiKey.ApiVersions, { clientId: undefined });
    expect(hex(body)).toBe("80");
  });

  test("a field of the wrong type is INVALID_REQUEST naming its path", () => {
    const bad = encode({ topics: [{ name: "a", partitions: "three" }] });
    const e = sluiceError(() => decodeControlRequest(ApiKey.CreateTopics, bad));
    expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(e.message).toContain("topics.0.partitions");
    expect(sluiceError(() => decodeControlRequest(ApiKey.DeleteTopics, encode({}))).message).toContain("topics");
    expect(sluiceError(() => decodeControlRequest(ApiKey.Metadata, encode([1, 2]))).code).toBe(ErrorCode.INVALID_REQUEST);
    expect(sluiceError(() => decodeControlRequest(ApiKey.ListOffsets, encode({ topics: [{ name: "a", partitions: [{ partition: 0.5, timestamp: 0 }] }] }))).message).toContain("topics.0.partitions.0.partition");
  });

  test("bytes that are not one MessagePack value: empty, truncated, trailing, garbage", () => {
    const good = encodeControlRequest(ApiKey.DeleteTopics, { topics: ["a", "b"] });
    for (const body of [new Uint8Array(0), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])]), Buffer.from([0xc1])]) {
      const e = sluiceError(() => decodeControlRequest(ApiKey.DeleteTopics, new Uint8Array(body)));
      expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
    }
  });

  test("hostile sizes are refused by the decoder before anything is built", () => {
    // array32 header claiming 2^31 entries, with no entries behind it
    const hugeArray = Buffer.from("81a6746f70696373dd7fffffff", "hex");
    expect(sluiceError(() => decodeControlRequest(ApiKey.DeleteTopics, hugeArray)).code).toBe(ErrorCode.INVALID_REQUEST);
    const longString = encode({ topics: ["x".repeat(40_000)] });
    expect(sluiceError(() => decodeControlRequest(ApiKey.DeleteTopics, longString)).code).toBe(ErrorCode.INVALID_REQUEST);
  });

  test("integers beyond 2^53 are refused, not silently rounded", () => {
    const body = encode({ topics: [{ name: "a", partitions: [{ partition: 0, timestamp: 2n ** 60n }] }] }, { useBigInt64: true });
    expect(sluiceError(() => decodeControlRequest(ApiKey.ListOffsets, body)).code).toBe(ErrorCode.INVALID_REQUEST);
  });

  test("responses: ErrorCode NONE then MessagePack; errors are thrown with their code", () => {
    const metadata: MetadataResponse = {
      brokers: [{ nodeId: 0, host: "127.0.0.1", port: 9092 }],
      controllerId: 0,
      topics: [
        {
          name: "a",
          errorCode: 0,
          internal: false,
          partitions: [{ partition: 0, errorCode: 0, leader: 0, leaderEpoch: 0, logStartOffset: 0, highWatermark: 10 }],
        },
      ],
    };
    const body = encodeControlResponse(ApiKey.Metadata, metadata);
    expect(hex(body.subarray(0, 2))).toBe("0000");
    expect(decodeControlResponse(ApiKey.Metadata, body)).toEqual(metadata);
    const env = decodeResponseEnvelope(body);
    expect(env.errorCode).toBe(0);

    const err = encodeErrorBody(ErrorCode.INVALID_REQUEST, "bad body");
    const e = sluiceError(() => decodeControlResponse(ApiKey.Metadata, err));
    expect(e.code).toBe(ErrorCode.INVALID_REQUEST);
    expect(e.message).toBe("bad body");
    expect(decodeResponseEnvelope(err)).toEqual({ errorCode: ErrorCode.INVALID_REQUEST, message: "bad body" });
  });

  test("DescribeTopics, topic results and ApiVersions responses round trip", () => {
    const describe: DescribeTopicsResponse = {
      topics: [
        {
          name: "a",
          errorCode: 0,
          configs: { "retention.ms": "604800000" },
          partitions: [
            {
              partition: 0, logStartOffset: 0, highWatermark: 5, durableOffset: 5, logEndOffset: 6, segments: 1, bytes: 4096,
              messagesIn: 6, bytesIn: 600, messagesInPerSec: 1.5, bytesInPerSec: 150, worker: 1, online: true,
            },
          ],
        },
      ],
    };
    expect(decodeControlResponse(ApiKey.DescribeTopics, encodeControlResponse(ApiKey.DescribeTopics, describe))).toEqual(describe);
    const results = { topics: [{ name: "a", errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: "exists" }, { name: "b", errorCode: 0 }] };
    expect(decodeControlResponse(ApiKey.CreateTopics, encodeControlResponse(ApiKey.CreateTopics, results))).toEqual(results);
    const versions = { apis: apiVersionsTable(), broker: "sluice", version: "0.1.0" };
    expect(decodeControlResponse(ApiKey.ApiVersions, encodeControlResponse(ApiKey.ApiVersions, versions))).toEqual(versions);
  });

  test("a very long error message is clipped so the body always encodes", () => {
    const body = encodeErrorBody(ErrorCode.INVALID_CONFIG, "é".repeat(50_000));
    const env = decodeResponseEnvelope(body);
    expect(env.errorCode).toBe(ErrorCode.INVALID_CONFIG);
    expect("message" in env && env.message.length).toBeLessThanOrEqual(4097);
    expect(() => encodeErrorBody(ErrorCode.NONE)).toThrow(RangeError);
  });
});
