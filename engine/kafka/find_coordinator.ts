// FindCoordinator (10), versions 0–4. Groups: on a single node the broker
// asked; in a cluster the leader of the group's `__consumer_offsets`
// partition (engine/groups/coordinator_locator.ts: COORDINATOR_NOT_AVAILABLE,
// retriable, while it has none or the topic is being created). Transaction
// coordinators (keyType 1) do not exist yet: COORDINATOR_NOT_AVAILABLE. v4
// asks for several keys at once and is answered per key.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeFindCoordinatorRequest, encodeFindCoordinatorResponse } from "../../protocol/kafka/messages/find_coordinator.ts";
import { type CoordinatorAddress, locateCoordinator } from "../groups/coordinator_locator.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { KAFKA_NODE_ID } from "./kafka_node.ts";

const KEY_TYPE_GROUP = 0;

interface Answer {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

const NO_TRANSACTIONS: Answer = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: "transactions are not supported", nodeId: -1, host: "", port: -1 };

export const handleFindCoordinator: KafkaHandler = (req) => {
  const body = decodeFindCoordinatorRequest(req.reader, req.apiVersion);
  const version = req.apiVersion;
  const host = req.conn.host;
  const engine = host.engine;
  const isGroup = body.keyType === KEY_TYPE_GROUP;
  const reply = (answers: Answer[]): void => {
    const first = answers[0] ?? NO_TRANSACTIONS;
    req.conn.reply(req, (w) =>
      encodeFindCoordinatorResponse(w, version, {
        throttleTimeMs: 0,
        errorCode: first.errorCode,
        errorMessage: first.errorMessage,
        nodeId: first.nodeId,
        host: first.host,
        port: first.port,
        coordinators: body.coordinatorKeys.map((key, i) => ({ key, ...answers[i] })),
      }),
    );
  };
  // v0–3 ask for one key (`key`); v4 for several (`coordinatorKeys`).
  const keys = version >= 4 ? body.coordinatorKeys : [body.key];
  if (!isGroup) return reply(keys.map(() => NO_TRANSACTIONS));
  const cluster = engine.cluster;
  if (cluster === undefined) {
    if (engine.config.clusterEtcd !== undefined) {
      const notJoined: Answer = { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: "this broker has not joined its cluster yet", nodeId: -1, host: "", port: -1 };
      return reply(keys.map(() => notJoined));
    }
    const { host: h, port } = host.advertised();
    return reply(keys.map(() => ({ errorCode: ErrorCode.NONE, errorMessage: null, nodeId: KAFKA_NODE_ID, host: h, port })));
  }
  const log = host.log.bind(host);
  void Promise.all(keys.map((k) => locateCoordinator(cluster, k, log))).then(
    (found) => reply(found.map(toAnswer)),
    (e) => {
      log(`sluice: kafka FindCoordinator failed: ${(e as Error)?.stack ?? e}`);
      reply(keys.map(() => ({ errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: "no coordinator", nodeId: -1, host: "", port: -1 })));
    },
  );
};

function toAnswer(a: CoordinatorAddress): Answer {
  // A coordinator without a Kafka listener cannot serve a Kafka client.
  if (a.errorCode === ErrorCode.NONE && a.kafkaPort < 0) {
    return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: `broker ${a.nodeId} has no Kafka listener`, nodeId: -1, host: "", port: -1 };
  }
  return { errorCode: a.errorCode, errorMessage: a.message, nodeId: a.nodeId, host: a.host, port: a.kafkaPort };
}
