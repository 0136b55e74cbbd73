// The gateway encoding without a server: what etcd leaves out (defaults),
// base64 keys, int64 strings, prefix range ends, and endpoint parsing.

import { describe, expect, test } from "bun:test";
import { parseEndpoint, parseEndpointList } from "./etcd_client.ts";
import { EtcdBadResponseError } from "./etcd_errors.ts";
import { cmp, decodeKeyValue, decodeTxnOpResult, encodeCompare, encodeText, encodeTxnOp, int64Field, op, prefixRangeEnd } from "./etcd_wire.ts";

const b64 = (bytes: number[]) => Buffer.from(bytes).toString("base64");

describe("etcd wire encoding", () => {
  test("a prefix's range end is its last byte + 1, carried past 0xff", () => {
    expect(prefixRangeEnd("/sluice/a/")).toBe(encodeText("/sluice/a0"));
    expect(Buffer.from(prefixRangeEnd("a\u00ff"), "base64")).toEqual(Buffer.from([0x61, 0xc3, 0xc0])); // ÿ is c3 bf in UTF-8
    expect(prefixRangeEnd("")).toBe(b64([0]));
  });

  test("a key-value with every default left out decodes to zeros and lease '0'", () => {
    const kv = decodeKeyValue({ key: encodeText("/k"), create_revision: "7", mod_revision: "9" });
    expect(kv).toEqual({ key: "/k", value: "", createRevision: 7, modRevision: 9, version: 0, lease: "0" });
  });

  test("64-bit lease ids stay exact strings; revisions past 2^53 are refused", () => {
    const kv = decodeKeyValue({ key: encodeText("k"), value: encodeText("v"), lease: "4111120481908319240", version: "1" });
    expect(kv.lease).toBe("4111120481908319240");
    expect(() => int64Field("9007199254740993", "rev")).toThrow(EtcdBadResponseError);
    expect(() => int64Field("12x", "rev")).toThrow(EtcdBadResponseError);
    expect(int64Field(undefined, "rev")).toBe(0);
  });

  test("compares and ops encode as the gateway expects (snake_case, base64, int64 strings)", () => {
    expect(encodeCompare(cmp.createRevisionIs("/c", 0))).toEqual({ key: encodeText("/c"), target: "CREATE", result: "EQUAL", create_revision: "0" });
    expect(encodeCompare(cmp.modRevisionIs("/c", 12))).toEqual({ key: encodeText("/c"), target: "MOD", result: "EQUAL", mod_revision: "12" });
    expect(encodeTxnOp(op.put("/c", "{}", "42"))).toEqual({ request_put: { key: encodeText("/c"), value: encodeText("{}"), lease: "42" } });
    expect(encodeTxnOp(op.put("/c", "{}"))).toEqual({ request_put: { key: encodeText("/c"), value: encodeText("{}") } });
    expect(encodeTxnOp(op.range("/p/", true))).toEqual({ request_range: { key: encodeText("/p/"), range_end: encodeText("/p0") } });
  });

  test("txn results decode by the op that was sent, including empty ones", () => {
    expect(decodeTxnOpResult({ response_range: { header: { revision: "3" } } }, op.range("/x"))).toEqual({ op: "range", kvs: [], count: 0 });
    expect(decodeTxnOpResult({ response_put: { header: { revision: "5" } } }, op.put("/x", "v"))).toEqual({ op: "put", revision: 5 });
    expect(decodeTxnOpResult({ response_delete_range: { deleted: "2" } }, op.delete("/x", true))).toEqual({ op: "delete", deleted: 2 });
  });

  test("endpoints: http(s) URLs without a path; a list is comma-separated and bounded", () => {
    expect(parseEndpoint("http://127.0.0.1:2379/")).toBe("http://127.0.0.1:2379");
    expect(() => parseEndpoint("127.0.0.1:2379")).toThrow(/http/);
    expect(() => parseEndpoint("http://127.0.0.1:2379/v3")).toThrow(/no path/);
    expect(parseEndpointList("http://a:1, http://b:2,")).toEqual(["http://a:1", "http://b:2"]);
    expect(() => parseEndpointList(" , ")).toThrow(/no etcd endpoint/);
    expect(() => parseEndpointList(Array.from({ length: 17 }, (_, i) => `http://h:${i + 1}`).join(","))).toThrow(/at most 16/);
  });
});
