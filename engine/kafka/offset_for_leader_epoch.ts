// OffsetForLeaderEpoch (23), versions 0–4: per partition, where the asked
// leader epoch ends on this broker's log (KIP-101/KIP-320), from the
// partition's leader-epoch cache (the worker's endOffsetForEpoch: the start
// of the first larger epoch, or the log end for the latest one; the largest
// epoch at or below the asked one that the log knows, KIP-279). Only the
// partition's leader answers (NOT_LEADER_OR_FOLLOWER otherwise); a
// `currentLeaderEpoch` (v2+) older or newer than the leader's is
// FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH, as on Fetch.
//
// A single node stamps no epochs (its batches carry -1) but tells clients
// leader epoch 0 (KAFKA_LEADER_EPOCH, in Metadata, ListOffsets and Fetch):
// there epoch 0 spans the whole log, so it ends at the log end, and a larger
// epoch is unknown (-1, -1).

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeOffsetForLeaderEpochRequest, encodeOffsetForLeaderEpochResponse } from "../../protocol/kafka/messages/offset_for_leader_epoch.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_LEADER_EPOCH } from "./kafka_node.ts";

interface EpochAnswer {
  errorCode: number;
  leaderEpoch: number;
  endOffset: number;
}

const UNDEFINED: EpochAnswer = { errorCode: ErrorCode.NONE, leaderEpoch: -1, endOffset: -1 };

export const handleOffsetForLeaderEpoch: KafkaHandler = (req) => {
  const body = decodeOffsetForLeaderEpochRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const engine = conn.host.engine;
  const answer = (topic: string, partition: number, currentLeaderEpoch: number, leaderEpoch: number): Promise<EpochAnswer> => {
    const slot = engine.resolve(topic, partition, currentLeaderEpoch);
    if (slot < 0) return Promise.resolve({ errorCode: -slot, leaderEpoch: -1, endOffset: -1 });
    if (engine.cluster === undefined) {
      if (leaderEpoch > KAFKA_LEADER_EPOCH || leaderEpoch < 0) return Promise.resolve(UNDEFINED);
      return Promise.resolve({ errorCode: ErrorCode.NONE, leaderEpoch: KAFKA_LEADER_EPOCH, endOffset: engine.pool.state(slot).logEndOffset });
    }
    const ask = engine.pool.endOffsetForEpoch;
    if (ask === undefined) return Promise.resolve({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, leaderEpoch: -1, endOffset: -1 });
    return ask.call(engine.pool, slot, leaderEpoch).then(
      (r) => ({ errorCode: ErrorCode.NONE, leaderEpoch: r.epoch, endOffset: r.endOffset }),
      () => ({ errorCode: ErrorCode.KAFKA_STORAGE_ERROR, leaderEpoch: -1, endOffset: -1 }),
    );
  };
  void Promise.all(
    body.topics.map(async (t) => ({
      topic: t.topic,
      partitions: await Promise.all(
        t.partitions.map(async (p) => {
          const a = await answer(t.topic, p.partition, p.currentLeaderEpoch, p.leaderEpoch);
          return { errorCode: a.errorCode, partition: p.partition, leaderEpoch: a.leaderEpoch, endOffset: BigInt(a.endOffset) };
        }),
      ),
    })),
  ).then((topics) => conn.reply(req, (w) => encodeOffsetForLeaderEpochResponse(w, apiVersion, { throttleTimeMs: 0, topics })));
};
