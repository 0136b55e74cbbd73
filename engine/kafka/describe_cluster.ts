// DescribeCluster (60), versions 0–1: one node, this broker, the controller.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeDescribeClusterRequest, encodeDescribeClusterResponse } from "../../protocol/kafka/messages/describe_cluster.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_CLUSTER_ID, KAFKA_NODE_ID } from "./kafka_node.ts";

export const handleDescribeCluster: KafkaHandler = (req) => {
  const body = decodeDescribeClusterRequest(req.reader, req.apiVersion);
  const { host, port } = req.conn.host.advertised();
  const cluster = req.conn.host.engine.cluster;
  // Cluster mode: the live brokers with a Kafka listener, and the controller, as etcd says.
  const brokers =
    cluster === undefined
      ? [{ brokerId: KAFKA_NODE_ID, host, port, rack: null }]
      : cluster.brokers().flatMap((b) => (b.kafkaPort === null ? [] : [{ brokerId: b.nodeId, host: b.host, port: b.kafkaPort, rack: b.rack }]));
  req.conn.reply(req, (w) =>
    encodeDescribeClusterResponse(w, req.apiVersion, {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      endpointType: body.endpointType,
      clusterId: KAFKA_CLUSTER_ID,
      controllerId: cluster?.controllerId ?? KAFKA_NODE_ID,
      brokers,
    }),
  );
};
