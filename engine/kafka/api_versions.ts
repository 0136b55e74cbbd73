// ApiVersions (18): the versions of every api this listener serves — the
// rows of protocol/kafka/versions.ts that have a handler, so a client never
// picks an api the broker would close the connection for.
//
// A version above ours (KIP-511): the body cannot be read, so the answer is a
// v0 body with UNSUPPORTED_VERSION and our ranges, under header v0; the
// client retries at a version from them. ApiVersions' response header is v0
// at every version.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeApiVersionsRequest, encodeApiVersionsResponse, type ApiVersionsResponseInput } from "../../protocol/kafka/messages/api_versions.ts";
import { KAFKA_APIS } from "../../protocol/kafka/versions.ts";
import type { RequestMeta } from "../connection/client_connection.ts";
import type { KafkaConnection } from "./kafka_connection.ts";
import type { KafkaHandler } from "./kafka_request.ts";

function answer(handlers: ReadonlyMap<number, unknown>, errorCode: number): ApiVersionsResponseInput {
  return {
    errorCode,
    apiKeys: KAFKA_APIS.filter((a) => handlers.has(a.key)).map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
    throttleTimeMs: 0,
  };
}

export const handleApiVersions: KafkaHandler = (req) => {
  decodeApiVersionsRequest(req.reader, req.apiVersion);
  const body = answer(req.conn.host.handlers, ErrorCode.NONE);
  req.conn.reply(req, (w) => encodeApiVersionsResponse(w, req.apiVersion, body));
};

/** The KIP-511 answer to an ApiVersions request of a version above ours (already counted in flight). */
export function answerUnsupportedApiVersions(conn: KafkaConnection, meta: RequestMeta): void {
  const body = answer(conn.host.handlers, ErrorCode.UNSUPPORTED_VERSION);
  conn.reply({ meta, apiVersion: 0 }, (w) => encodeApiVersionsResponse(w, 0, body));
}
