// InitProducerId (22), versions 0–4: a producer id and epoch for an
// idempotent producer, from engine.initProducerId (engine/producer_ids.ts has
// the rules). v3+ may send the producer's current id and epoch (KIP-360: an
// idempotent producer starting over after an error): the same id comes back
// with the next epoch, which fences the old one in every partition.
//
// Transactions do not exist here. A transactional client first asks
// FindCoordinator for a transaction coordinator and is told there is none; one
// that sends InitProducerId with a transactional id anyway is answered
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which the Java client, librdkafka and
// kafkajs all treat as fatal and not retriable — the producer stops with a
// clear error instead of retrying forever. (The engine's own code for it,
// TRANSACTIONAL_ID_NOT_FOUND, is newer than most clients and unknown to them.)

import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { decodeInitProducerIdRequest, encodeInitProducerIdResponse } from "../../protocol/kafka/messages/init_producer_id.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleInitProducerId: KafkaHandler = (req) => {
  const body = decodeInitProducerIdRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const answer = (errorCode: number, producerId: number, producerEpoch: number): void =>
    conn.reply(req, (w) =>
      encodeInitProducerIdResponse(w, apiVersion, { throttleTimeMs: 0, errorCode, producerId: BigInt(producerId), producerEpoch }),
    );
  if (body.transactionalId !== null) return answer(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, -1);
  const producerId = body.producerId < -1n || body.producerId > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(body.producerId);
  conn.host.engine
    .initProducerId({ transactionalId: null, producerId, producerEpoch: body.producerEpoch })
    .then(
      (r) => answer(ErrorCode.NONE, r.producerId, r.producerEpoch),
      (e: unknown) => {
        if (e instanceof SluiceError) return answer(e.code, -1, -1);
        conn.host.log(`sluice: kafka InitProducerId failed: ${(e as Error)?.stack ?? e}`);
        answer(ErrorCode.UNKNOWN_SERVER_ERROR, -1, -1);
      },
    );
};
