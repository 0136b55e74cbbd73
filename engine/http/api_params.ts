// Input of the console API, checked at the edge: path segments, query
// parameters and JSON bodies. Every value is bounded (QUERY_VALUE_LENGTH_MAX,
// REQUEST_BODY_BYTES_MAX) and a bad one is a 400 whose message names the
// parameter and what it must be.

import { topicNameProblem } from "../../protocol/topic_name.ts";
import { ApiError, badRequest } from "./api_errors.ts";
import { QUERY_VALUE_LENGTH_MAX, REQUEST_BODY_BYTES_MAX } from "./console_limits.ts";

/** A decoded path segment (a topic or group name); 400 when it is not valid percent-encoding. */
export function pathSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest(`${what}: not a valid percent-encoded path segment`);
  }
}

/** A topic name from the path, checked with Kafka's rules (the engine's own check). */
export function topicParam(raw: string): string {
  const name = pathSegment(raw, "topic");
  const problem = topicNameProblem(name);
  if (problem !== null) throw badRequest(`topic: ${problem}`, "INVALID_TOPIC_EXCEPTION");
  return name;
}

/** A query parameter, or undefined when absent; 400 when longer than QUERY_VALUE_LENGTH_MAX. */
export function queryValue(url: URL, name: string): string | undefined {
  const all = url.searchParams.getAll(name);
  if (all.length === 0) return undefined;
  if (all.length > 1) throw badRequest(`${name}: given more than once`);
  const value = all[0];
  if (value.length > QUERY_VALUE_LENGTH_MAX) throw badRequest(`${name}: longer than ${QUERY_VALUE_LENGTH_MAX} characters`);
  return value;
}

/** A non-negative integer (decimal digits only) within [min, max]. */
export function intValue(raw: string, name: string, min: number, max: number): number {
  if (!/^\d{1,16}$/.test(raw)) throw badRequest(`${name}: expected a whole number from ${min} to ${max}, got '${clip(raw)}'`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badRequest(`${name}: expected a whole number from ${min} to ${max}, got ${clip(raw)}`);
  return n;
}

/** An optional integer query parameter with a default. */
export function intQuery(url: URL, name: string, min: number, max: number, fallback: number): number {
  const raw = queryValue(url, name);
  return raw === undefined || raw === "" ? fallback : intValue(raw, name, min, max);
}

/** Reads a JSON object body of at most REQUEST_BODY_BYTES_MAX bytes. */
export async function jsonBody(req: Request): Promise<Record<string, unknown>> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > REQUEST_BODY_BYTES_MAX) {
    throw new ApiError(413, "RECORD_LIST_TOO_LARGE", `the request body is larger than ${REQUEST_BODY_BYTES_MAX} bytes`);
  }
  const bytes = await readBounded(req, REQUEST_BODY_BYTES_MAX);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw badRequest(`the request body is not JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw badRequest("the request body must be a JSON object");
  return value as Record<string, unknown>;
}

/** The body's bytes; 413 as soon as more than `max` arrived (a missing content-length cannot make it read more). */
async function readBounded(req: Request, max: number): Promise<Uint8Array> {
  if (req.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new ApiError(413, "RECORD_LIST_TOO_LARGE", `the request body is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A string field of a JSON body, bounded; `optional` gives undefined when absent or null. */
export function stringField(body: Record<string, unknown>, name: string, maxLength: number, optional: true): string | undefined;
export function stringField(body: Record<string, unknown>, name: string, maxLength: number, optional?: false): string;
export function stringField(body: Record<string, unknown>, name: string, maxLength: number, optional = false): string | undefined {
  const v = body[name];
  if (v === undefined || v === null) {
    if (optional) return undefined;
    throw badRequest(`${name}: required`);
  }
  if (typeof v !== "string") throw badRequest(`${name}: expected a string`);
  if (v.length > maxLength) throw badRequest(`${name}: longer than ${maxLength} characters`);
  return v;
}

/** An integer field of a JSON body within [min, max]; `fallback` when absent. */
export function intField(body: Record<string, unknown>, name: string, min: number, max: number, fallback?: number): number {
  const v = body[name];
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw badRequest(`${name}: required`);
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) {
    throw badRequest(`${name}: expected a whole number from ${min} to ${max}, got ${clip(JSON.stringify(v) ?? String(v))}`);
  }
  return v;
}

/** A map of string to string (topic configs), at most `maxEntries`. */
export function stringMapField(body: Record<string, unknown>, name: string, maxEntries: number): Record<string, string> {
  const v = body[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest(`${name}: expected an object of KEY: "value"`);
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > maxEntries) throw badRequest(`${name}: more than ${maxEntries} entries`);
  const out: Record<string, string> = {};
  for (const [k, val] of entries) {
    if (k.length > QUERY_VALUE_LENGTH_MAX) throw badRequest(`${name}: a key is longer than ${QUERY_VALUE_LENGTH_MAX} characters`);
    if (typeof val !== "string" && typeof val !== "number") throw badRequest(`${name}.${k}: expected a string`);
    const s = String(val);
    if (s.length > QUERY_VALUE_LENGTH_MAX) throw badRequest(`${name}.${k}: longer than ${QUERY_VALUE_LENGTH_MAX} characters`);
    out[k] = s;
  }
  return out;
}

/** A bad value quoted in a message, cut so a hostile value cannot make the answer large. */
export function clip(s: string, max = 40): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
