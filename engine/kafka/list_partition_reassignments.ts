// ListPartitionReassignments (46), version 0 (KIP-455): the partition moves in
// progress as this broker's view of etcd has them (cluster/move_status.ts):
// replicas (the old replicas, then the adding ones, as Kafka lists them),
// adding and removing. Named partitions that are not moving are left out, as
// Kafka does. Bytes copied are not in Kafka's message: the native api has
// them. A single node answers INVALID_REQUEST (top level), as its ElectLeaders.

import { listReassignments } from "../../cluster/mod.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { decodeListPartitionReassignmentsRequest, encodeListPartitionReassignmentsResponse } from "../../protocol/kafka/messages/list_partition_reassignments.ts";
import { clusterMemberOf } from "../cluster_admin.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleListPartitionReassignments: KafkaHandler = (req) => {
  const body = decodeListPartitionReassignmentsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  type Topics = { name: string; partitions: { partitionIndex: number; replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }[] }[];
  const reply = (errorCode: number, errorMessage: string | null, topics: Topics) =>
    conn.reply(req, (w) => encodeListPartitionReassignmentsResponse(w, apiVersion, { throttleTimeMs: 0, errorCode, errorMessage, topics }));
  let member;
  try {
    member = clusterMemberOf(conn.host.engine, "partition move to list");
  } catch (e) {
    return reply((e as SluiceError).code, (e as Error).message, []);
  }
  // Kafka lists named partitions; an empty list of a named topic lists none of it.
  const only = body.topics === null ? null : new Map(body.topics.filter((t) => t.partitionIndexes.length > 0).map((t) => [t.name, t.partitionIndexes]));
  listReassignments(member.view, only, false).then(
    (moves) => {
      const byTopic = new Map<string, Topics[number]["partitions"]>();
      for (const m of moves) {
        const list = byTopic.get(m.topic) ?? [];
        list.push({ partitionIndex: m.partition, replicas: m.replicas, addingReplicas: m.adding, removingReplicas: m.removing });
        byTopic.set(m.topic, list);
      }
      reply(ErrorCode.NONE, null, [...byTopic].map(([name, partitions]) => ({ name, partitions })));
    },
    (e) => reply(e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR, (e as Error)?.message ?? String(e), []),
  );
};
