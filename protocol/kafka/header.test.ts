import { describe, expect, test } from "bun:test";
import { KafkaDecodeReason } from "./decode_error.ts";
import {
  beginRequestFrame,
  beginResponseFrame,
  decodeRequestHeader,
  decodeResponseHeader,
  encodeRequestHeader,
  endFrame,
} from "./header.ts";
import { KafkaReader } from "./reader.ts";
import { decodeError, toHex as hex } from "./testing/helpers.ts";
import { KAFKA_APIS, KafkaApiKey, kafkaApi, requestHeaderVersion, responseHeaderVersion } from "./versions.ts";
import { KafkaWriter } from "./writer.ts";

describe("request header", () => {
  test("v1 (Metadata v1): api key, version, correlation id, client id as an i16 string", () => {
    const w = new KafkaWriter();
    encodeRequestHeader(w, { apiKey: KafkaApiKey.Metadata, apiVersion: 1, correlationId: 7, clientId: "ab" });
    expect(hex(w.finish())).toBe("0003" + "0001" + "00000007" + "0002" + "6162");
    const h = decodeRequestHeader(new KafkaReader(w.finish()));
    expect(h).toEqual({ apiKey: 3, apiVersion: 1, correlationId: 7, clientId: "ab", headerVersion: 1 });
  });

  test("v2 (Metadata v9): the client id stays an i16 string, then an empty tagged-field section", () => {
    const w = new KafkaWriter();
    encodeRequestHeader(w, { apiKey: KafkaApiKey.Metadata, apiVersion: 9, correlationId: 7, clientId: null });
    expect(hex(w.finish())).toBe("0003" + "0009" + "00000007" + "ffff" + "00");
    const r = new KafkaReader(w.finish());
    expect(decodeRequestHeader(r).headerVersion).toBe(2);
    expect(r.remaining).toBe(0);
  });

  test("an unknown api key still yields its correlation id (header v1), so the broker can answer or close", () => {
    const w = new KafkaWriter();
    encodeRequestHeader(w, { apiKey: 999, apiVersion: 42, correlationId: -5, clientId: "c" });
    const h = decodeRequestHeader(new KafkaReader(w.finish()));
    expect(h.apiKey).toBe(999);
    expect(h.correlationId).toBe(-5);
    expect(h.headerVersion).toBe(1);
  });

  test("ApiVersions above our max is read with header v2 (it is flexible from v3 on)", () => {
    expect(requestHeaderVersion(KafkaApiKey.ApiVersions, 4)).toBe(2);
    expect(requestHeaderVersion(KafkaApiKey.ApiVersions, 2)).toBe(1);
  });

  test("a truncated header throws TRUNCATED at every cut", () => {
    const w = new KafkaWriter();
    encodeRequestHeader(w, { apiKey: KafkaApiKey.Fetch, apiVersion: 12, correlationId: 1, clientId: "client" });
    const whole = w.finish().slice();
    for (let n = 0; n < whole.length; n++) {
      expect(decodeError(() => decodeRequestHeader(new KafkaReader(whole.subarray(0, n)))).reason).toBe(KafkaDecodeReason.TRUNCATED);
    }
  });
});

describe("response header and frames", () => {
  test("flexible responses get header v1, except ApiVersions which is always v0 (KIP-511)", () => {
    expect(responseHeaderVersion(KafkaApiKey.Metadata, 9)).toBe(1);
    expect(responseHeaderVersion(KafkaApiKey.Metadata, 8)).toBe(0);
    expect(responseHeaderVersion(KafkaApiKey.ApiVersions, 3)).toBe(0);
    const w = new KafkaWriter();
    const at = beginResponseFrame(w, KafkaApiKey.ApiVersions, 3, 9);
    w.int16(0);
    endFrame(w, at);
    expect(hex(w.finish())).toBe("00000006" + "00000009" + "0000");
  });

  test("a frame's size prefix counts spliced views", () => {
    const w = new KafkaWriter();
    const at = beginRequestFrame(w, { apiKey: KafkaApiKey.Produce, apiVersion: 9, correlationId: 1, clientId: null });
    w.compactBytes(new Uint8Array(4000));
    endFrame(w, at);
    const whole = w.finish();
    const r = new KafkaReader(whole);
    expect(r.int32("size")).toBe(whole.length - 4);
    w.reset();
    const at2 = beginResponseFrame(w, KafkaApiKey.Produce, 9, 3);
    endFrame(w, at2);
    const r2 = new KafkaReader(w.finish(), 4);
    expect(decodeResponseHeader(r2, KafkaApiKey.Produce, 9)).toBe(3);
    expect(r2.remaining).toBe(0);
  });
});

describe("versions table", () => {
  test("lists each key once with a non-empty range, ordered by key", () => {
    const keys = KAFKA_APIS.map((a) => a.key);
    expect([...keys].sort((a, b) => a - b)).toEqual(keys);
    for (const a of KAFKA_APIS) expect(a.minVersion).toBeLessThanOrEqual(a.maxVersion);
  });

  test("covers the ranges the issue names", () => {
    const want: Record<string, [number, number]> = {
      ApiVersions: [0, 3], Metadata: [0, 12], Produce: [0, 9], Fetch: [4, 12], ListOffsets: [1, 7], FindCoordinator: [0, 4],
      JoinGroup: [0, 7], SyncGroup: [0, 5], Heartbeat: [0, 4], LeaveGroup: [0, 4], OffsetCommit: [2, 8], OffsetFetch: [1, 8],
      ListGroups: [0, 4], DescribeGroups: [0, 5], CreateTopics: [2, 7], DeleteTopics: [1, 6], CreatePartitions: [0, 3],
      DescribeConfigs: [0, 4], AlterConfigs: [0, 2], IncrementalAlterConfigs: [0, 1], DescribeCluster: [0, 1], InitProducerId: [0, 4],
    };
    for (const [name, [lo, hi]] of Object.entries(want)) {
      const a = kafkaApi(KafkaApiKey[name as keyof typeof KafkaApiKey]);
      expect(a && [a.minVersion, a.maxVersion]).toEqual([lo, hi]);
    }
    expect(kafkaApi(KafkaApiKey.Produce)?.firstFlexibleVersion).toBe(9);
    expect(kafkaApi(KafkaApiKey.DescribeCluster)?.firstFlexibleVersion).toBe(0);
  });
});
