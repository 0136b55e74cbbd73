// OffsetFetch (9), versions 1–8: a group's committed offsets from the
// coordinator's store (shared with the native protocol). topics null (v2+)
// asks for every offset the group committed. A partition without a commit
// answers offset -1. v8 asks for several groups at once.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeOffsetFetchRequest, encodeOffsetFetchResponse } from "../../protocol/kafka/messages/offset_fetch.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { groupErrorCode } from "./group_errors.ts";
import type { KafkaHandler } from "./kafka_request.ts";

interface TopicAsk {
  name: string;
  partitionIndexes: number[];
}

export function offsetFetchHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeOffsetFetchRequest(req.reader, req.apiVersion);
    const log = req.conn.host.log.bind(req.conn.host);
    const fetchGroup = (groupId: string, topics: readonly TopicAsk[] | null) => {
      try {
        const r = coordinator.fetchOffsets({ groupId, topics: topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })) });
        return {
          errorCode: ErrorCode.NONE as number,
          topics: r.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({
              partitionIndex: p.partition,
              committedOffset: BigInt(p.offset),
              committedLeaderEpoch: -1,
              metadata: p.metadata,
              errorCode: p.errorCode,
            })),
          })),
        };
      } catch (e) {
        return { errorCode: groupErrorCode(e, log, "OffsetFetch"), topics: [] };
      }
    };
    const version = req.apiVersion;
    if (version < 8) {
      const g = fetchGroup(body.groupId, body.topics);
      return req.conn.reply(req, (w) => encodeOffsetFetchResponse(w, version, { throttleTimeMs: 0, topics: g.topics, errorCode: g.errorCode }));
    }
    const groups = body.groups.map((q) => ({ groupId: q.groupId, ...fetchGroup(q.groupId, q.topics) }));
    req.conn.reply(req, (w) => encodeOffsetFetchResponse(w, version, { throttleTimeMs: 0, groups }));
  };
}
