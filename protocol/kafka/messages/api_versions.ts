// ApiVersions (api key 18), versions 0–3, flexible from v3.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// ApiVersionsRequest =>
//   clientSoftwareName STRING 3+
//   clientSoftwareVersion STRING 3+
// ApiVersionsResponse =>
//   errorCode INT16 0+
//   apiKeys [ 0+
//     apiKey INT16 0+
//     minVersion INT16 0+
//     maxVersion INT16 0+
//   ]
//   throttleTimeMs INT32 1+
//   supportedFeatures [ 3+ (tag 0)
//     name STRING 3+
//     minVersion INT16 3+
//     maxVersion INT16 3+
//   ]
//   finalizedFeaturesEpoch INT64 3+ (tag 1)
//   finalizedFeatures [ 3+ (tag 2)
//     name STRING 3+
//     maxVersionLevel INT16 3+
//     minVersionLevel INT16 3+
//   ]
//   zkMigrationReady BOOLEAN 3+ (tag 3)
//
// A client sends ApiVersions first, at the highest version it knows. When that
// version is above ours, the broker cannot read the body, so it answers with a
// v0 body (error UNSUPPORTED_VERSION and our ranges) under a v0 response header;
// the client then retries at a version from our ranges (KIP-511). Even a v3
// response keeps header v0. apiVersionsAnswer() below builds either answer from
// the table in versions.ts.

import { ErrorCode } from "../../errors.ts";
import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KAFKA_APIS, KafkaApiKey, kafkaApiOf } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const ApiVersionsRequestSpec = message("ApiVersionsRequest", KafkaApiKey.ApiVersions, [
  field("clientSoftwareName", "string", "3+"),
  field("clientSoftwareVersion", "string", "3+"),
] as const);

export const ApiVersionsResponseSpec = message("ApiVersionsResponse", KafkaApiKey.ApiVersions, [
  field("errorCode", "int16", "0+"),
  array("apiKeys", "0+", [
    field("apiKey", "int16", "0+"),
    field("minVersion", "int16", "0+"),
    field("maxVersion", "int16", "0+"),
  ]),
  field("throttleTimeMs", "int32", "1+"),
  array("supportedFeatures", "3+", [
    field("name", "string", "3+"),
    field("minVersion", "int16", "3+"),
    field("maxVersion", "int16", "3+"),
  ], { tag: 0 }),
  field("finalizedFeaturesEpoch", "int64", "3+", { tag: 1, default: -1n }),
  array("finalizedFeatures", "3+", [
    field("name", "string", "3+"),
    field("maxVersionLevel", "int16", "3+"),
    field("minVersionLevel", "int16", "3+"),
  ], { tag: 2 }),
  field("zkMigrationReady", "bool", "3+", { tag: 3, default: false }),
] as const);

export type ApiVersionsRequest = Decoded<typeof ApiVersionsRequestSpec.fields>;
export type ApiVersionsRequestInput = Input<typeof ApiVersionsRequestSpec.fields>;
export type ApiVersionsResponse = Decoded<typeof ApiVersionsResponseSpec.fields>;
export type ApiVersionsResponseInput = Input<typeof ApiVersionsResponseSpec.fields>;

export function decodeApiVersionsRequest(r: KafkaReader, version: number): ApiVersionsRequest {
  return decodeMessage(ApiVersionsRequestSpec, r, version);
}

export function encodeApiVersionsResponse(w: KafkaWriter, version: number, value: ApiVersionsResponseInput): void {
  encodeMessage(ApiVersionsResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeApiVersionsRequest(w: KafkaWriter, version: number, value: ApiVersionsRequestInput): void {
  encodeMessage(ApiVersionsRequestSpec, w, version, value);
}

export function decodeApiVersionsResponse(r: KafkaReader, version: number): ApiVersionsResponse {
  return decodeMessage(ApiVersionsResponseSpec, r, version);
}

/**
 * The version to answer an ApiVersions request of `requested` with, and the
 * answer. A requested version we speak gets the table at that version; one
 * above ours gets a v0 body with UNSUPPORTED_VERSION and the same table, so the
 * client can pick a version and retry (KIP-511). The response header is v0
 * either way (versions.ts).
 */
export function apiVersionsAnswer(requested: number): { version: number; response: ApiVersionsResponseInput } {
  const api = kafkaApiOf(KafkaApiKey.ApiVersions);
  const supported = requested >= api.minVersion && requested <= api.maxVersion;
  return {
    version: supported ? requested : 0,
    response: {
      errorCode: supported ? ErrorCode.NONE : ErrorCode.UNSUPPORTED_VERSION,
      apiKeys: KAFKA_APIS.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
      throttleTimeMs: 0,
    },
  };
}
