// OffsetCommit (8), versions 2–8: committed offsets go to the coordinator's
// one store (engine/groups: `<dataDir>/__consumer_offsets/`), shared with the
// native protocol, so `sluice groups describe` shows a Kafka client's commits
// and lag. The answer comes once they are durable. Fencing as the native
// protocol's: a member commits with its generation; generation -1 with no
// member id is a commit from outside any generation (a group without members).
// A fencing error answers every partition with its code. retention_time_ms
// (v2–4) is ignored, as Kafka has done since 2.1.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeOffsetCommitRequest, encodeOffsetCommitResponse } from "../../protocol/kafka/messages/offset_commit.ts";
import type { OffsetCommitRequest, OffsetCommitResponse } from "../../protocol/messages/groups.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { groupErrorCode } from "./group_errors.ts";
import type { KafkaHandler } from "./kafka_request.ts";

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function offsetCommitHandler(coordinator: GroupCoordinator): KafkaHandler {
  return (req) => {
    const body = decodeOffsetCommitRequest(req.reader, req.apiVersion);
    const { conn, apiVersion } = req;
    const commit: OffsetCommitRequest = {
      groupId: body.groupId,
      generationId: body.generationIdOrMemberEpoch,
      memberId: body.memberId,
      topics: body.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partition: p.partitionIndex,
          // Beyond 2^53 no log reaches: -1 is answered INVALID_COMMIT_OFFSET_SIZE.
          offset: p.committedOffset >= 0n && p.committedOffset <= MAX_SAFE ? Number(p.committedOffset) : -1,
          metadata: p.committedMetadata ?? "",
        })),
      })),
    };
    const answer = (r: OffsetCommitResponse | null, errorCode: number): void => {
      const topics =
        r !== null
          ? r.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partition, errorCode: p.errorCode })) }))
          : body.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) }));
      conn.reply(req, (w) => encodeOffsetCommitResponse(w, apiVersion, { throttleTimeMs: 0, topics }));
    };
    const log = conn.host.log.bind(conn.host);
    let done;
    try {
      done = coordinator.commit(commit);
    } catch (e) {
      return answer(null, groupErrorCode(e, log, "OffsetCommit"));
    }
    done.then(
      (r) => answer(r, ErrorCode.NONE),
      (e) => answer(null, groupErrorCode(e, log, "OffsetCommit")),
    );
  };
}
