// FindCoordinator (10), versions 0–4: the coordinator of every group is this
// broker (one node). Transaction coordinators (keyType 1) do not exist yet:
// COORDINATOR_NOT_AVAILABLE, which clients treat as retriable. v4 asks for
// several keys at once and is answered per key.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeFindCoordinatorRequest, encodeFindCoordinatorResponse } from "../../protocol/kafka/messages/find_coordinator.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_NODE_ID } from "./kafka_node.ts";

const KEY_TYPE_GROUP = 0;

export const handleFindCoordinator: KafkaHandler = (req) => {
  const body = decodeFindCoordinatorRequest(req.reader, req.apiVersion);
  const { host, port } = req.conn.host.advertised();
  const isGroup = body.keyType === KEY_TYPE_GROUP;
  const errorCode = isGroup ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE;
  const errorMessage = isGroup ? null : "transactions are not supported";
  // Groups are still each broker's own in cluster mode (docs/CLUSTER.md): the coordinator is the broker asked.
  const nodeId = isGroup ? (req.conn.host.engine.cluster?.brokerId ?? KAFKA_NODE_ID) : -1;
  const version = req.apiVersion;
  req.conn.reply(req, (w) =>
    encodeFindCoordinatorResponse(w, version, {
      throttleTimeMs: 0,
      errorCode,
      errorMessage,
      nodeId,
      host: isGroup ? host : "",
      port: isGroup ? port : -1,
      coordinators: body.coordinatorKeys.map((key) => ({ key, nodeId, host: isGroup ? host : "", port: isGroup ? port : -1, errorCode, errorMessage })),
    }),
  );
};
