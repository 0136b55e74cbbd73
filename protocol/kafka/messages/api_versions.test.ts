import { expect, test } from "bun:test";
import { ErrorCode, errorInfo } from "../../errors.ts";
import { beginResponseFrame, endFrame } from "../header.ts";
import { KafkaReader } from "../reader.ts";
import { toHex } from "../testing/helpers.ts";
import { KAFKA_APIS, KafkaApiKey } from "../versions.ts";
import { KafkaWriter } from "../writer.ts";
import { apiVersionsAnswer, decodeApiVersionsResponse, encodeApiVersionsResponse } from "./api_versions.ts";

test("a supported ApiVersions version is answered at that version with the whole table", () => {
  const { version, response } = apiVersionsAnswer(3);
  expect(version).toBe(3);
  const w = new KafkaWriter();
  encodeApiVersionsResponse(w, version, response);
  const back = decodeApiVersionsResponse(new KafkaReader(w.finish()), 3);
  expect(back.errorCode).toBe(ErrorCode.NONE);
  expect(back.apiKeys).toEqual(KAFKA_APIS.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })));
});

test("a version above ours gets a v0 body with UNSUPPORTED_VERSION and our ranges, under header v0 (KIP-511)", () => {
  const { version, response } = apiVersionsAnswer(4);
  expect(version).toBe(0);
  const w = new KafkaWriter();
  const at = beginResponseFrame(w, KafkaApiKey.ApiVersions, 4, 0x01020304);
  encodeApiVersionsResponse(w, version, response);
  endFrame(w, at);
  const frame = w.finish();
  const n = KAFKA_APIS.length;
  // size, correlation id (no tagged fields: header v0), error 35, i32 count, then 6 bytes per api
  expect(toHex(frame.subarray(0, 14))).toBe(
    (10 + 6 * n).toString(16).padStart(8, "0") + "01020304" + "0023" + n.toString(16).padStart(8, "0"),
  );
  expect(toHex(frame.subarray(14, 20))).toBe("0000" + "0000" + "0009"); // Produce 0..9
  expect(frame.length).toBe(4 + 10 + 6 * n);
  expect(errorInfo(ErrorCode.UNSUPPORTED_VERSION).name).toBe("UNSUPPORTED_VERSION");
});

test("the error table's retriable flags agree with Kafka's for every code it lists", () => {
  // Kafka's retriable codes (their exceptions extend RetriableException), among those up to 103.
  const kafkaRetriable = new Set([2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80, 83, 84, 88, 89, 100, 103]);
  for (const [name, code] of Object.entries(ErrorCode)) {
    if (code <= 0) continue;
    expect({ name, retriable: errorInfo(code).retriable }).toEqual({ name, retriable: kafkaRetriable.has(code) });
  }
});
