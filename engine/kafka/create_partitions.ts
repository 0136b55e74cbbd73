// CreatePartitions (37), versions 0–3: grows a topic to `count` partitions
// (one node: no manual assignment). validateOnly checks the count against the
// topic's without changing it.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeCreatePartitionsRequest, encodeCreatePartitionsResponse } from "../../protocol/kafka/messages/create_partitions.ts";
import { PARTITIONS_PER_TOPIC_MAX } from "../../protocol/limits.ts";
import { ADMIN_OK, adminResult, DUPLICATE, duplicates, refused } from "./admin_result.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleCreatePartitions: KafkaHandler = (req) => {
  const body = decodeCreatePartitionsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const engine = conn.host.engine;
  const log = conn.host.log.bind(conn.host);
  const dup = duplicates(body.topics.map((t) => t.name));
  Promise.all(
    body.topics.map((t) => {
      if (dup.has(t.name)) return Promise.resolve(DUPLICATE(t.name));
      if (t.assignments !== null && t.assignments.length > 0) {
        return Promise.resolve(refused(ErrorCode.INVALID_REQUEST, "manual replica assignment is not supported (one node)"));
      }
      if (body.validateOnly) {
        const d = engine.describeTopics([t.name])[0];
        if (d.errorCode !== ErrorCode.NONE) return Promise.resolve(refused(d.errorCode, d.message ?? ""));
        if (t.count <= d.partitions.length || t.count > PARTITIONS_PER_TOPIC_MAX) {
          return Promise.resolve(refused(ErrorCode.INVALID_PARTITIONS, `topic '${t.name}' has ${d.partitions.length} partitions; ${t.count} is not a valid new count`));
        }
        return Promise.resolve(ADMIN_OK);
      }
      return adminResult(() => engine.createPartitions(t.name, t.count), log);
    }),
  ).then((rs) => {
    const results = body.topics.map((t, i) => ({ name: t.name, errorCode: rs[i].errorCode, errorMessage: rs[i].errorMessage }));
    conn.reply(req, (w) => encodeCreatePartitionsResponse(w, apiVersion, { throttleTimeMs: 0, results }));
  });
};
