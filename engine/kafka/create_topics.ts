// CreateTopics (19), versions 2–7: topics through the engine (one node: a
// replication factor of 1 or -1, no manual replica assignment). numPartitions
// -1 takes the broker's numPartitions; configs with a null value are left
// out; validateOnly checks without creating. v5+ answers with the topic's
// partitions and effective configs.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeCreateTopicsRequest, encodeCreateTopicsResponse } from "../../protocol/kafka/messages/create_topics.ts";
import { adminResult, DUPLICATE, duplicates, refused } from "./admin_result.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleCreateTopics: KafkaHandler = (req) => {
  const body = decodeCreateTopicsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const engine = conn.host.engine;
  const log = conn.host.log.bind(conn.host);
  const dup = duplicates(body.topics.map((t) => t.name));
  const results = body.topics.map((t) => {
    if (dup.has(t.name)) return Promise.resolve(DUPLICATE(t.name));
    if (t.assignments.length > 0) return Promise.resolve(refused(ErrorCode.INVALID_REQUEST, "manual replica assignment is not supported"));
    const configs: Record<string, string> = {};
    for (const c of t.configs) if (c.value !== null) configs[c.name] = c.value;
    // The engine checks the replication factor: 1 on a single node; in a cluster, at most the live brokers.
    return adminResult(
      () => engine.createTopic(t.name, { partitions: t.numPartitions, configs, validateOnly: body.validateOnly, replicationFactor: t.replicationFactor }),
      log,
    );
  });
  Promise.all(results).then((rs) => {
    const topics = body.topics.map((t, i) => {
      const r = rs[i];
      const described = r.errorCode === ErrorCode.NONE && !body.validateOnly ? engine.describeTopics([t.name])[0] : undefined;
      // Cluster mode: this broker's replicas may open a moment after the controller created the topic.
      const d = described?.errorCode === ErrorCode.NONE ? described : undefined;
      return {
        name: t.name,
        errorCode: r.errorCode,
        errorMessage: r.errorMessage,
        numPartitions: d !== undefined ? d.partitions.length : -1,
        replicationFactor: d !== undefined ? (d.partitions[0]?.replicas?.length ?? 1) : -1,
        configs:
          d !== undefined
            ? Object.entries(d.configs).map(([name, value]) => ({ name, value, readOnly: false, configSource: 5, isSensitive: false }))
            : [],
      };
    });
    conn.reply(req, (w) => encodeCreateTopicsResponse(w, apiVersion, { throttleTimeMs: 0, topics }));
  });
};
