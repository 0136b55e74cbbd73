// ListOffsets (2), versions 1–7: per partition, timestamp -2 → the log start
// offset, -1 → the high watermark (the end a read_uncommitted and, with no
// transactions, a read_committed consumer sees), any other non-negative
// timestamp → the first offset whose record timestamp is at or after it, with
// that timestamp (-1 and offset -1 when none is). -3 (the offset of the
// largest timestamp, v7) is not served: UNSUPPORTED_VERSION for the
// partition. Leader epoch: 0 (one node).

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeListOffsetsRequest, encodeListOffsetsResponse } from "../../protocol/kafka/messages/list_offsets.ts";
import type { ListOffsetsResult } from "../engine.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_LEADER_EPOCH } from "./kafka_node.ts";

const MAX_TIMESTAMP = -3n;

export const handleListOffsets: KafkaHandler = (req) => {
  const body = decodeListOffsetsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  let n = 0;
  for (const t of body.topics) n += t.partitions.length;
  const results: ListOffsetsResult[] = new Array(n);
  let pending = n;
  const finish = (): void => {
    let flat = 0;
    const topics = body.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const r = results[flat++];
        return {
          partitionIndex: p.partitionIndex,
          errorCode: r.errorCode,
          timestamp: BigInt(r.timestampMs),
          offset: BigInt(r.offset),
          leaderEpoch: r.errorCode === ErrorCode.NONE ? (conn.host.engine.cluster?.partitionInfo(t.name, p.partitionIndex)?.leaderEpoch ?? KAFKA_LEADER_EPOCH) : -1,
        };
      }),
    }));
    conn.reply(req, (w) => encodeListOffsetsResponse(w, apiVersion, { throttleTimeMs: 0, topics }));
  };
  if (n === 0) return finish();
  let flat = 0;
  for (const t of body.topics) {
    for (const p of t.partitions) {
      const i = flat++;
      const done = (r: ListOffsetsResult): void => {
        results[i] = r;
        if (--pending === 0) finish();
      };
      const ts = p.timestamp;
      if (ts === MAX_TIMESTAMP) done({ errorCode: ErrorCode.UNSUPPORTED_VERSION, offset: -1, timestampMs: -1 });
      else if (ts < -2n || ts > BigInt(Number.MAX_SAFE_INTEGER)) done({ errorCode: ErrorCode.INVALID_TIMESTAMP, offset: -1, timestampMs: -1 });
      else conn.host.engine.listOffsets(t.name, p.partitionIndex, Number(ts), done);
    }
  }
};
