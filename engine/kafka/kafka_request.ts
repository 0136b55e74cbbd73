// One Kafka request as a handler sees it, and the handler type. A handler
// decodes its body from `reader` before it returns (the frame is valid only
// during the call), does its work, and answers once with `reply` — or, for
// Produce acks=0, `finish` (no response). A KafkaDecodeError it throws closes
// the connection (Kafka's answer to a malformed request).

import type { KafkaReader } from "../../protocol/kafka/reader.ts";
import type { KafkaWriter } from "../../protocol/kafka/writer.ts";
import type { RequestMeta } from "../connection/client_connection.ts";
import type { KafkaConnection } from "./kafka_connection.ts";

export interface KafkaRequest {
  readonly conn: KafkaConnection;
  readonly meta: RequestMeta;
  readonly apiVersion: number;
  readonly clientId: string | null;
  /** Positioned at the body; valid only until the handler returns. */
  readonly reader: KafkaReader;
}

export type KafkaHandler = (req: KafkaRequest) => void;

/** Encodes a response body (after the header the connection wrote). */
export type KafkaBodyEncoder = (w: KafkaWriter) => void;
