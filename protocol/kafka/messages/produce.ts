// Produce (api key 0), versions 0–9, flexible from v9.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// ProduceRequest =>
//   transactionalId STRING 3+ (nullable 3+)
//   acks INT16 0+
//   timeoutMs INT32 0+
//   topicData [ 0+
//     name STRING 0+
//     partitionData [ 0+
//       index INT32 0+
//       records RECORDS 0+ (nullable 0+)
//     ]
//   ]
// ProduceResponse =>
//   responses [ 0+
//     name STRING 0+
//     partitionResponses [ 0+
//       index INT32 0+
//       errorCode INT16 0+
//       baseOffset INT64 0+
//       logAppendTimeMs INT64 2+
//       logStartOffset INT64 5+
//       recordErrors [ 8+
//         batchIndex INT32 8+
//         batchIndexErrorMessage STRING 8+ (nullable 8+)
//       ]
//       errorMessage STRING 8+ (nullable 8+)
//     ]
//   ]
//   throttleTimeMs INT32 1+
//
// records is the RecordBatch bytes as the client sent them, returned as a view of
// the request frame: not copied, not re-encoded. The broker stores v2 batches
// only, so it answers v0–2 (message sets) with UNSUPPORTED_VERSION, though the
// codec reads them. acks: 0 (no response is sent), 1, or -1 (all).

import type { KafkaReader } from "../reader.ts";
import { array, decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const ProduceRequestSpec = message("ProduceRequest", KafkaApiKey.Produce, [
  field("transactionalId", "string", "3+", { nullable: "3+", default: null }),
  field("acks", "int16", "0+"),
  field("timeoutMs", "int32", "0+"),
  array("topicData", "0+", [
    field("name", "string", "0+"),
    array("partitionData", "0+", [
      field("index", "int32", "0+"),
      field("records", "records", "0+", { nullable: "0+" }),
    ]),
  ]),
] as const);

export const ProduceResponseSpec = message("ProduceResponse", KafkaApiKey.Produce, [
  array("responses", "0+", [
    field("name", "string", "0+"),
    array("partitionResponses", "0+", [
      field("index", "int32", "0+"),
      field("errorCode", "int16", "0+"),
      field("baseOffset", "int64", "0+"),
      field("logAppendTimeMs", "int64", "2+", { default: -1n }),
      field("logStartOffset", "int64", "5+", { default: -1n }),
      array("recordErrors", "8+", [
        field("batchIndex", "int32", "8+"),
        field("batchIndexErrorMessage", "string", "8+", { nullable: "8+", default: null }),
      ]),
      field("errorMessage", "string", "8+", { nullable: "8+", default: null }),
    ]),
  ]),
  field("throttleTimeMs", "int32", "1+", { default: 0 }),
] as const);

export type ProduceRequest = Decoded<typeof ProduceRequestSpec.fields>;
export type ProduceRequestInput = Input<typeof ProduceRequestSpec.fields>;
export type ProduceResponse = Decoded<typeof ProduceResponseSpec.fields>;
export type ProduceResponseInput = Input<typeof ProduceResponseSpec.fields>;

export function decodeProduceRequest(r: KafkaReader, version: number): ProduceRequest {
  return decodeMessage(ProduceRequestSpec, r, version);
}

export function encodeProduceResponse(w: KafkaWriter, version: number, value: ProduceResponseInput): void {
  encodeMessage(ProduceResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeProduceRequest(w: KafkaWriter, version: number, value: ProduceRequestInput): void {
  encodeMessage(ProduceRequestSpec, w, version, value);
}

export function decodeProduceResponse(r: KafkaReader, version: number): ProduceResponse {
  return decodeMessage(ProduceResponseSpec, r, version);
}
