// DeleteTopics (20), versions 1–6: by name (v6 may name topics by id: not
// served, UNKNOWN_TOPIC_ID).

import { ErrorCode } from "../../protocol/errors.ts";
import { decodeDeleteTopicsRequest, encodeDeleteTopicsResponse } from "../../protocol/kafka/messages/delete_topics.ts";
import { adminResult, DUPLICATE, duplicates, refused } from "./admin_result.ts";
import type { KafkaHandler } from "./kafka_request.ts";

export const handleDeleteTopics: KafkaHandler = (req) => {
  const body = decodeDeleteTopicsRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const log = conn.host.log.bind(conn.host);
  const names: (string | null)[] = apiVersion >= 6 ? body.topics.map((t) => t.name) : body.topicNames;
  const dup = duplicates(names.filter((n): n is string => n !== null));
  Promise.all(
    names.map((name) => {
      if (name === null) return Promise.resolve(refused(ErrorCode.UNKNOWN_TOPIC_ID, "topics are deleted by name"));
      if (dup.has(name)) return Promise.resolve(DUPLICATE(name));
      return adminResult(() => conn.host.engine.deleteTopic(name), log);
    }),
  ).then((rs) => {
    const responses = names.map((name, i) => ({ name, errorCode: rs[i].errorCode, errorMessage: rs[i].errorMessage }));
    conn.reply(req, (w) => encodeDeleteTopicsResponse(w, apiVersion, { throttleTimeMs: 0, responses }));
  });
};
