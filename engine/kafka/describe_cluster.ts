// DescribeCluster (60), versions 0–1: one node, this broker, the controller.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeDescribeClusterRequest, encodeDescribeClusterResponse } from "../../protocol/kafka/messages/describe_cluster.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_CLUSTER_ID, KAFKA_NODE_ID } from "./kafka_node.ts";

export const handleDescribeCluster: KafkaHandler = (req) => {
  const body = decodeDescribeClusterRequest(req.reader, req.apiVersion);
  const { host, port } = req.conn.host.advertised();
  req.conn.reply(req, (w) =>
    encodeDescribeClusterResponse(w, req.apiVersion, {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      endpointType: body.endpointType,
      clusterId: KAFKA_CLUSTER_ID,
      controllerId: KAFKA_NODE_ID,
      brokers: [{ brokerId: KAFKA_NODE_ID, host, port, rack: null }],
    }),
  );
};
