// Kafka request and response headers, and the 4-byte size prefix of a frame.
//
//   Request => Size:INT32 RequestHeader Body
//   RequestHeader v1 => api_key:INT16 api_version:INT16 correlation_id:INT32 client_id:NULLABLE_STRING
//   RequestHeader v2 => v1 TAGGED_FIELDS
//     client_id stays a classic NULLABLE_STRING in v2 (it is read before the
//     broker knows whether the version is flexible).
//   Response => Size:INT32 ResponseHeader Body
//   ResponseHeader v0 => correlation_id:INT32
//   ResponseHeader v1 => correlation_id:INT32 TAGGED_FIELDS
//
// Which header version goes with which request is decided by versions.ts.

import type { KafkaReader } from "./reader.ts";
import { requestHeaderVersion, responseHeaderVersion } from "./versions.ts";
import type { KafkaWriter } from "./writer.ts";

export interface KafkaRequestHeader {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** 1 or 2, from the api's flexible versions. */
  headerVersion: 1 | 2;
}

/**
 * Reads a request header and leaves the reader at the body. An api key or
 * version the broker does not speak is not an error here: the caller still
 * has the correlation id to answer with (ApiVersions: v0 body with
 * UNSUPPORTED_VERSION; other apis: close, as Kafka does).
 */
export function decodeRequestHeader(r: KafkaReader): KafkaRequestHeader {
  const apiKey = r.int16("header.api_key");
  const apiVersion = r.int16("header.api_version");
  const correlationId = r.int32("header.correlation_id");
  const clientId = r.nullableString("header.client_id");
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  if (headerVersion === 2) r.taggedFields("header._tagged_fields");
  return { apiKey, apiVersion, correlationId, clientId, headerVersion };
}

/** Writes a request header (for a client, the bench's raw client and tests). */
export function encodeRequestHeader(
  w: KafkaWriter,
  h: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null },
): void {
  w.int16(h.apiKey).int16(h.apiVersion).int32(h.correlationId).nullableString(h.clientId);
  if (requestHeaderVersion(h.apiKey, h.apiVersion) === 2) w.emptyTaggedFields();
}

/** Writes the response header that goes with `apiKey` at `apiVersion`. */
export function encodeResponseHeader(w: KafkaWriter, apiKey: number, apiVersion: number, correlationId: number): void {
  w.int32(correlationId);
  if (responseHeaderVersion(apiKey, apiVersion) === 1) w.emptyTaggedFields();
}

/** Reads a response header (for a client and tests); returns the correlation id. */
export function decodeResponseHeader(r: KafkaReader, apiKey: number, apiVersion: number): number {
  const correlationId = r.int32("header.correlation_id");
  if (responseHeaderVersion(apiKey, apiVersion) === 1) r.taggedFields("header._tagged_fields");
  return correlationId;
}

/**
 * Starts a response frame: reserves the size prefix and writes the header.
 * Returns the prefix's position for endFrame().
 */
export function beginResponseFrame(w: KafkaWriter, apiKey: number, apiVersion: number, correlationId: number): number {
  const at = w.reserveInt32();
  encodeResponseHeader(w, apiKey, apiVersion, correlationId);
  return at;
}

/** Starts a request frame (size prefix + header); returns the prefix's position. */
export function beginRequestFrame(
  w: KafkaWriter,
  h: { apiKey: number; apiVersion: number; correlationId: number; clientId: string | null },
): number {
  const at = w.reserveInt32();
  encodeRequestHeader(w, h);
  return at;
}

/** Patches the size prefix reserved at `at` with the bytes written after it, spliced views included. */
export function endFrame(w: KafkaWriter, at: number): void {
  w.patchInt32(at, w.byteLength - at - 4);
}
