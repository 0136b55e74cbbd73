// AlterConfigs (33), versions 0–2, and IncrementalAlterConfigs (44), versions
// 0–1: a topic's own settings through the engine (checked there: an unknown
// name or bad value is INVALID_CONFIG). AlterConfigs sets the settings it
// names (a null value removes one); unlike Kafka it leaves the topic's other
// own settings as they are. IncrementalAlterConfigs: SET (0) and DELETE (1);
// APPEND and SUBTRACT (list settings) are refused. validateOnly checks that
// the topic exists and changes nothing. Broker settings are fixed at start.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeAlterConfigsRequest, encodeAlterConfigsResponse } from "../../protocol/kafka/messages/alter_configs.ts";
import { decodeIncrementalAlterConfigsRequest, encodeIncrementalAlterConfigsResponse } from "../../protocol/kafka/messages/incremental_alter_configs.ts";
import type { Engine } from "../engine.ts";
import { ADMIN_OK, type AdminResult, adminResult, refused } from "./admin_result.ts";
import { ConfigResourceType } from "./config_resource.ts";
import type { KafkaHandler } from "./kafka_request.ts";

const OP_SET = 0;
const OP_DELETE = 1;

function alter(
  engine: Engine,
  log: (line: string) => void,
  r: { resourceType: number; resourceName: string },
  set: Record<string, string>,
  remove: string[],
  validateOnly: boolean,
): Promise<AdminResult> {
  if (r.resourceType !== ConfigResourceType.Topic) {
    return Promise.resolve(refused(ErrorCode.INVALID_REQUEST, "only topic settings can be altered; the broker's are fixed at start"));
  }
  if (validateOnly) {
    const d = engine.describeTopics([r.resourceName])[0];
    return Promise.resolve(d.errorCode === ErrorCode.NONE ? ADMIN_OK : refused(d.errorCode, d.message ?? ""));
  }
  return adminResult(() => engine.alterTopicConfig(r.resourceName, set, remove), log);
}

export const handleAlterConfigs: KafkaHandler = (req) => {
  const body = decodeAlterConfigsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const log = conn.host.log.bind(conn.host);
  Promise.all(
    body.resources.map((r) => {
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const c of r.configs) {
        if (c.value === null) remove.push(c.name);
        else set[c.name] = c.value;
      }
      return alter(conn.host.engine, log, r, set, remove, body.validateOnly);
    }),
  ).then((rs) => {
    const responses = body.resources.map((r, i) => ({ ...rs[i], resourceType: r.resourceType, resourceName: r.resourceName }));
    conn.reply(req, (w) => encodeAlterConfigsResponse(w, apiVersion, { throttleTimeMs: 0, responses }));
  });
};

export const handleIncrementalAlterConfigs: KafkaHandler = (req) => {
  const body = decodeIncrementalAlterConfigsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const log = conn.host.log.bind(conn.host);
  Promise.all(
    body.resources.map((r) => {
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const c of r.configs) {
        if (c.configOperation === OP_SET && c.value !== null) set[c.name] = c.value;
        else if (c.configOperation === OP_DELETE) remove.push(c.name);
        else return Promise.resolve(refused(ErrorCode.INVALID_REQUEST, `config operation ${c.configOperation} on ${c.name} is not supported (SET and DELETE are)`));
      }
      return alter(conn.host.engine, log, r, set, remove, body.validateOnly);
    }),
  ).then((rs) => {
    const responses = body.resources.map((r, i) => ({ ...rs[i], resourceType: r.resourceType, resourceName: r.resourceName }));
    conn.reply(req, (w) => encodeIncrementalAlterConfigsResponse(w, apiVersion, { throttleTimeMs: 0, responses }));
  });
};
