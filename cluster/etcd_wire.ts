// The etcd v3 JSON gateway's encoding (etcd ≥ 3.4 serves it at /v3/… on the
// client port): protobuf messages as JSON with snake_case field names, keys
// and values base64, int64 fields as decimal strings, and every field at its
// default (0, false, PUT) left out of responses. This module turns those into
// plain typed objects and back; it does no I/O.
//
// Revisions are numbers (asserted safe integers: etcd would need 2^53 writes
// to pass that); lease ids stay strings, because they are random 64-bit values.

import { EtcdBadResponseError } from "./etcd_errors.ts";

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

/** One key as etcd stores it; key and value decoded as UTF-8 text. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  /** Revision of the write that created this key (since its last deletion). */
  readonly createRevision: number;
  /** Revision of the last write to it. */
  readonly modRevision: number;
  /** Writes since creation (1 after the create). */
  readonly version: number;
  /** The lease it is attached to, "0" for none. */
  readonly lease: string;
}

export function encodeText(text: string): string {
  return Buffer.from(utf8Encoder.encode(text)).toString("base64");
}

export function decodeText(base64: unknown, what: string): string {
  if (base64 === undefined) return "";
  if (typeof base64 !== "string") throw new EtcdBadResponseError(`${what}: expected base64 text, got ${typeof base64}`);
  return utf8Decoder.decode(Buffer.from(base64, "base64"));
}

/** The range end that makes a range cover every key starting with `prefix` (the prefix's bytes + 1, carried). */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(utf8Encoder.encode(prefix));
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i] < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i]++;
      return end.toString("base64");
    }
  }
  // Every byte 0xff (or empty): the whole key space from the prefix on, etcd's "\0".
  return Buffer.from([0]).toString("base64");
}

/** An int64 field (a decimal string, or absent for 0) as a number; throws unless a safe integer. */
export function int64Field(raw: unknown, what: string): number {
  if (raw === undefined) return 0;
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new EtcdBadResponseError(`${what}: expected an int64 below 2^53, got ${JSON.stringify(raw)}`);
  return n;
}

/** A lease id as the decimal string etcd uses (absent = "0"). */
export function leaseIdField(raw: unknown, what: string): string {
  if (raw === undefined) return "0";
  if (typeof raw === "string" && /^-?\d+$/.test(raw)) return raw;
  if (typeof raw === "number" && Number.isSafeInteger(raw)) return String(raw);
  throw new EtcdBadResponseError(`${what}: expected a lease id, got ${JSON.stringify(raw)}`);
}

function object(raw: unknown, what: string): Record<string, unknown> {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw new EtcdBadResponseError(`${what}: expected an object`);
  return raw as Record<string, unknown>;
}

export function decodeKeyValue(raw: unknown): KeyValue {
  const kv = object(raw, "kv");
  return {
    key: decodeText(kv.key, "kv.key"),
    value: decodeText(kv.value, "kv.value"),
    createRevision: int64Field(kv.create_revision, "kv.create_revision"),
    modRevision: int64Field(kv.mod_revision, "kv.mod_revision"),
    version: int64Field(kv.version, "kv.version"),
    lease: leaseIdField(kv.lease, "kv.lease"),
  };
}

export function decodeKeyValues(raw: unknown): KeyValue[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new EtcdBadResponseError("kvs: expected an array");
  return raw.map(decodeKeyValue);
}

/** The response header's revision: the store's revision when the request was served. */
export function headerRevision(body: Record<string, unknown>, what: string): number {
  const header = object(body.header ?? {}, `${what}.header`);
  return int64Field(header.revision, `${what}.header.revision`);
}

export { object as asObject };

// ---- transactions ------------------------------------------------------------

export type CompareResult = "EQUAL" | "GREATER" | "LESS" | "NOT_EQUAL";

/** One compare of a transaction. */
export type Compare =
  | { readonly key: string; readonly target: "CREATE"; readonly result: CompareResult; readonly createRevision: number }
  | { readonly key: string; readonly target: "MOD"; readonly result: CompareResult; readonly modRevision: number }
  | { readonly key: string; readonly target: "VERSION"; readonly result: CompareResult; readonly version: number }
  | { readonly key: string; readonly target: "VALUE"; readonly result: CompareResult; readonly value: string }
  | { readonly key: string; readonly target: "LEASE"; readonly result: CompareResult; readonly lease: string };

/** One operation of a transaction's branch. */
export type TxnOp =
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly op: "range"; readonly key: string; readonly prefix?: boolean }
  | { readonly op: "delete"; readonly key: string; readonly prefix?: boolean };

/** One answer of a transaction's branch, in the order of its operations. */
export type TxnOpResult =
  | { readonly op: "put"; readonly revision: number }
  | { readonly op: "range"; readonly kvs: KeyValue[]; readonly count: number }
  | { readonly op: "delete"; readonly deleted: number };

export const cmp = {
  /** `create_revision(key) == n`; n = 0 means "the key does not exist". */
  createRevisionIs: (key: string, createRevision: number): Compare => ({ key, target: "CREATE", result: "EQUAL", createRevision }),
  /** `mod_revision(key) == n`: nobody wrote the key since revision n. */
  modRevisionIs: (key: string, modRevision: number): Compare => ({ key, target: "MOD", result: "EQUAL", modRevision }),
  valueIs: (key: string, value: string): Compare => ({ key, target: "VALUE", result: "EQUAL", value }),
  leaseIs: (key: string, lease: string): Compare => ({ key, target: "LEASE", result: "EQUAL", lease }),
};

export const op = {
  put: (key: string, value: string, lease?: string): TxnOp => ({ op: "put", key, value, lease }),
  range: (key: string, prefix = false): TxnOp => ({ op: "range", key, prefix }),
  delete: (key: string, prefix = false): TxnOp => ({ op: "delete", key, prefix }),
};

export function encodeCompare(c: Compare): Record<string, unknown> {
  const out: Record<string, unknown> = { key: encodeText(c.key), target: c.target, result: c.result };
  switch (c.target) {
    case "CREATE":
      out.create_revision = String(c.createRevision);
      break;
    case "MOD":
      out.mod_revision = String(c.modRevision);
      break;
    case "VERSION":
      out.version = String(c.version);
      break;
    case "VALUE":
      out.value = encodeText(c.value);
      break;
    case "LEASE":
      out.lease = c.lease;
      break;
  }
  return out;
}

export function encodeRangeRequest(key: string, prefix: boolean | undefined): Record<string, unknown> {
  const req: Record<string, unknown> = { key: encodeText(key) };
  if (prefix === true) req.range_end = prefixRangeEnd(key);
  return req;
}

export function encodePutRequest(key: string, value: string, lease: string | undefined): Record<string, unknown> {
  const req: Record<string, unknown> = { key: encodeText(key), value: encodeText(value) };
  if (lease !== undefined && lease !== "0") req.lease = lease;
  return req;
}

export function encodeTxnOp(o: TxnOp): Record<string, unknown> {
  switch (o.op) {
    case "put":
      return { request_put: encodePutRequest(o.key, o.value, o.lease) };
    case "range":
      return { request_range: encodeRangeRequest(o.key, o.prefix) };
    case "delete":
      return { request_delete_range: encodeRangeRequest(o.key, o.prefix) };
  }
}

export function decodeTxnOpResult(raw: unknown, sent: TxnOp): TxnOpResult {
  const r = object(raw, "txn response");
  switch (sent.op) {
    case "put":
      return { op: "put", revision: headerRevision(object(r.response_put ?? {}, "response_put"), "response_put") };
    case "range": {
      const rr = object(r.response_range ?? {}, "response_range");
      return { op: "range", kvs: decodeKeyValues(rr.kvs), count: int64Field(rr.count, "response_range.count") };
    }
    case "delete": {
      const rd = object(r.response_delete_range ?? {}, "response_delete_range");
      return { op: "delete", deleted: int64Field(rd.deleted, "response_delete_range.deleted") };
    }
  }
}
