// DescribeConfigs (32), versions 0–4: a topic's effective settings (Kafka
// names: retention.ms, segment.bytes, max.message.bytes, …), all of them or
// the keys asked for. A broker resource answers no settings (they are fixed
// at start: `sluice serve --help`). Synonyms and documentation are not given.

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeDescribeConfigsRequest, encodeDescribeConfigsResponse } from "../../protocol/kafka/messages/describe_configs.ts";
import { CONFIG_SOURCE_DEFAULT, ConfigResourceType } from "./config_resource.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleDescribeConfigs: KafkaHandler = (req) => {
  const body = decodeDescribeConfigsRequest(req.reader, req.apiVersion);
  const engine = req.conn.host.engine;
  const results = body.resources.map((r) => {
    const base = { resourceType: r.resourceType, resourceName: r.resourceName };
    if (r.resourceType === ConfigResourceType.Broker) return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: [] };
    if (r.resourceType !== ConfigResourceType.Topic) {
      return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `resource type ${r.resourceType} has no configs here`, configs: [] };
    }
    const d = engine.describeTopics([r.resourceName])[0];
    if (d.errorCode !== ErrorCode.NONE) return { ...base, errorCode: d.errorCode, errorMessage: d.message ?? null, configs: [] };
    const wanted = r.configurationKeys === null ? null : new Set(r.configurationKeys);
    const configs = Object.entries(d.configs)
      .filter(([name]) => wanted === null || wanted.has(name))
      .map(([name, value]) => ({ name, value, readOnly: false, isDefault: true, configSource: CONFIG_SOURCE_DEFAULT, isSensitive: false, synonyms: [], documentation: null }));
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs };
  });
  req.conn.reply(req, (w) => encodeDescribeConfigsResponse(w, req.apiVersion, { throttleTimeMs: 0, results }));
};
