// InitProducerId (api key 22), versions 0–4, flexible from v2.
//
// Grammar: each field with the versions it exists in (n+ = from n on);
// [ ] is an array of structs, { } a nested struct. In flexible versions
// strings, bytes and arrays are compact and every struct ends with tagged fields.
//
// InitProducerIdRequest =>
//   transactionalId STRING 0+ (nullable 0+)
//   transactionTimeoutMs INT32 0+
//   producerId INT64 3+
//   producerEpoch INT16 3+
// InitProducerIdResponse =>
//   throttleTimeMs INT32 0+
//   errorCode INT16 0+
//   producerId INT64 0+
//   producerEpoch INT16 0+
//
// Without a transactional id, each call hands out a new producer id with epoch 0
// (the idempotent producer). v3+ may send the current id and epoch to bump it.

import type { KafkaReader } from "../reader.ts";
import { decodeMessage, encodeMessage, field, message, type Decoded, type Input } from "../schema.ts";
import { KafkaApiKey } from "../versions.ts";
import type { KafkaWriter } from "../writer.ts";

export const InitProducerIdRequestSpec = message("InitProducerIdRequest", KafkaApiKey.InitProducerId, [
  field("transactionalId", "string", "0+", { nullable: "0+" }),
  field("transactionTimeoutMs", "int32", "0+"),
  field("producerId", "int64", "3+", { default: -1n }),
  field("producerEpoch", "int16", "3+", { default: -1 }),
] as const);

export const InitProducerIdResponseSpec = message("InitProducerIdResponse", KafkaApiKey.InitProducerId, [
  field("throttleTimeMs", "int32", "0+"),
  field("errorCode", "int16", "0+"),
  field("producerId", "int64", "0+", { default: -1n }),
  field("producerEpoch", "int16", "0+"),
] as const);

export type InitProducerIdRequest = Decoded<typeof InitProducerIdRequestSpec.fields>;
export type InitProducerIdRequestInput = Input<typeof InitProducerIdRequestSpec.fields>;
export type InitProducerIdResponse = Decoded<typeof InitProducerIdResponseSpec.fields>;
export type InitProducerIdResponseInput = Input<typeof InitProducerIdResponseSpec.fields>;

export function decodeInitProducerIdRequest(r: KafkaReader, version: number): InitProducerIdRequest {
  return decodeMessage(InitProducerIdRequestSpec, r, version);
}

export function encodeInitProducerIdResponse(w: KafkaWriter, version: number, value: InitProducerIdResponseInput): void {
  encodeMessage(InitProducerIdResponseSpec, w, version, value);
}

/** The client side: for the bench's raw client and tests. */
export function encodeInitProducerIdRequest(w: KafkaWriter, version: number, value: InitProducerIdRequestInput): void {
  encodeMessage(InitProducerIdRequestSpec, w, version, value);
}

export function decodeInitProducerIdResponse(r: KafkaReader, version: number): InitProducerIdResponse {
  return decodeMessage(InitProducerIdResponseSpec, r, version);
}
