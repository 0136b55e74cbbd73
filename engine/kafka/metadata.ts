// Metadata (3): one broker (this one, at its advertised address; in cluster
// mode every live broker and the partition state etcd holds), and the
// topics asked for — or all, when the request says so (v0: an empty list;
// v1+: null). Every partition's leader, replica and in-sync replica is this
// broker, at leader epoch 0. A missing topic is created first when the
// request allows it (v4+; always before) and the broker's autoCreateTopics is
// on, as Kafka's auto.create.topics.enable does. A request naming topics by
// id (v10+, name null) gets UNKNOWN_TOPIC_ID for them: topic ids are not
// served yet.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeMetadataRequest, encodeMetadataResponse, type MetadataResponseInput } from "../../protocol/kafka/messages/metadata.ts";
import type { ClusterReplicas } from "../cluster_replicas.ts";
import type { TopicMetadata } from "../engine.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_CLUSTER_ID, KAFKA_LEADER_EPOCH, KAFKA_NODE_ID } from "./kafka_node.ts";

export const handleMetadata: KafkaHandler = (req) => {
  const body = decodeMetadataRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const all = body.topics === null || (apiVersion === 0 && body.topics.length === 0);
  const names: string[] = [];
  let unnamed = 0;
  if (!all) {
    for (const t of body.topics!) {
      if (t.name === null) unnamed++;
      else names.push(t.name);
    }
  }
  const engine = conn.host.engine;
  const answerOf = (topics: readonly TopicMetadata[]) =>
    engine.cluster === undefined ? answer(conn.host.advertised(), topics, unnamed) : clusterAnswer(engine.cluster, topics, unnamed);
  engine.metadata(all ? null : names, body.allowAutoTopicCreation).then(
    (topics) => conn.reply(req, (w) => encodeMetadataResponse(w, apiVersion, answerOf(topics))),
    (e) => {
      conn.host.log(`sluice: kafka metadata failed: ${(e as Error)?.stack ?? e}`);
      conn.reply(req, (w) => encodeMetadataResponse(w, apiVersion, answerOf([])));
    },
  );
};

/**
 * Cluster mode: every live broker with a Kafka listener (node id = broker id,
 * at its registered host and Kafka port), and per partition the leader, leader
 * epoch, replicas and ISR from etcd; replicas not registered are offline.
 */
function clusterAnswer(cluster: ClusterReplicas, topics: readonly TopicMetadata[], unnamed: number): MetadataResponseInput {
  const brokers = cluster.brokers().filter((b) => b.kafkaPort !== null);
  const live = new Set(brokers.map((b) => b.nodeId));
  const out: NonNullable<MetadataResponseInput["topics"]>[number][] = topics.map((t) => ({
    errorCode: t.errorCode,
    name: t.name,
    isInternal: false,
    partitions: t.partitions.map((p) => ({
      errorCode: p.errorCode,
      partitionIndex: p.partition,
      leaderId: p.leader ?? -1,
      leaderEpoch: p.leaderEpoch ?? -1,
      replicaNodes: p.replicas ?? [],
      isrNodes: p.isr ?? [],
      offlineReplicas: (p.replicas ?? []).filter((id) => !live.has(id)),
    })),
  }));
  for (let i = 0; i < unnamed; i++) out.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, partitions: [] });
  return {
    throttleTimeMs: 0,
    brokers: brokers.map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.kafkaPort!, rack: b.rack })),
    clusterId: KAFKA_CLUSTER_ID,
    controllerId: cluster.controllerId,
    topics: out,
  };
}

function answer(advertised: { host: string; port: number }, topics: readonly TopicMetadata[], unnamed: number): MetadataResponseInput {
  const node = [KAFKA_NODE_ID];
  const out: NonNullable<MetadataResponseInput["topics"]>[number][] = topics.map((t) => ({
    errorCode: t.errorCode,
    name: t.name,
    isInternal: false,
    partitions: t.partitions.map((p) => ({
      errorCode: p.errorCode,
      partitionIndex: p.partition,
      leaderId: p.errorCode === ErrorCode.NONE ? KAFKA_NODE_ID : -1,
      leaderEpoch: KAFKA_LEADER_EPOCH,
      replicaNodes: node,
      isrNodes: p.errorCode === ErrorCode.NONE ? node : [],
      offlineReplicas: p.errorCode === ErrorCode.NONE ? [] : node,
    })),
  }));
  for (let i = 0; i < unnamed; i++) out.push({ errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, partitions: [] });
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: KAFKA_NODE_ID, host: advertised.host, port: advertised.port, rack: null }],
    clusterId: KAFKA_CLUSTER_ID,
    controllerId: KAFKA_NODE_ID,
    topics: out,
  };
}
