// ElectLeaders (43), versions 0–2: preferred leader elections in a cluster,
// asked of the controller as the native ElectLeaders is
// (engine.electLeaders → cluster/leader_elections.ts). Per partition:
// NONE (moved to its first replica), ELECTION_NOT_NEEDED (it leads already),
// PREFERRED_LEADER_NOT_AVAILABLE (not registered, shutting down or not in the
// ISR; the message says which), UNKNOWN_TOPIC_OR_PARTITION.
//
// Unclean elections (type 1) are refused with POLICY_VIOLATION: a replica
// outside the ISR may lack acknowledged records, and Sluice never elects one.
// A single node refuses with INVALID_REQUEST (it leads every partition), as
// its native ElectLeaders does. From v1 such a refusal is the top-level error
// code; v0 has none, so it is every named partition's.
//
// A null topic list is every partition (one controller request). A topic
// named with all its partitions is one request; other named partitions one
// each, at most KAFKA_ELECT_LEADERS_PARALLEL_MAX at once and
// KAFKA_ELECT_LEADERS_PARTITIONS_MAX in a request. An answer for "every
// partition" lists at most ELECT_LEADERS_RESULTS_MAX outcomes (the rest are
// counted by the controller, not listed).

import type { ElectLeadersResult } from "../../cluster/mod.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import { decodeElectLeadersRequest, encodeElectLeadersResponse, KafkaElectionType } from "../../protocol/kafka/messages/elect_leaders.ts";
import { clusterMemberOf } from "../cluster_admin.ts";
import type { Engine } from "../engine.ts";
import { KAFKA_ELECT_LEADERS_PARALLEL_MAX, KAFKA_ELECT_LEADERS_PARTITIONS_MAX } from "../engine_limits.ts";
import type { KafkaHandler } from "./kafka_request.ts";

interface Outcome {
  partitionId: number;
  errorCode: number;
  errorMessage: string | null;
}

function outcomeOf(p: { errorCode: number; reason: string; partition: number }): Outcome {
  return { partitionId: p.partition, errorCode: p.errorCode, errorMessage: p.errorCode === ErrorCode.NONE ? null : p.reason };
}

/** Runs `tasks` with at most `parallel` at once. */
async function bounded<T>(tasks: readonly (() => Promise<T>)[], parallel: number): Promise<T[]> {
  const out = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      out[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, tasks.length) }, worker));
  return out;
}

/** One scope's election, its refusal as every named partition's outcome. */
async function elect(engine: Engine, topic: string, partitions: readonly number[], whole: boolean): Promise<Outcome[]> {
  try {
    const r: ElectLeadersResult = await engine.electLeaders(whole ? { topic } : { topic, partition: partitions[0] });
    const byPartition = new Map(r.partitions.filter((p) => p.topic === topic).map((p) => [p.partition, outcomeOf(p)]));
    return partitions.map((p) => byPartition.get(p) ?? { partitionId: p, errorCode: ErrorCode.ELECTION_NOT_NEEDED, errorMessage: "already leader" });
  } catch (e) {
    const code = e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR;
    return partitions.map((p) => ({ partitionId: p, errorCode: code, errorMessage: (e as Error)?.message ?? String(e) }));
  }
}

export const handleElectLeaders: KafkaHandler = (req) => {
  const body = decodeElectLeadersRequest(req.reader, req.apiVersion);
  const { conn, apiVersion } = req;
  const engine = conn.host.engine;
  const named = body.topicPartitions?.map((t) => ({ topic: t.topic, partitions: [...new Set(t.partitions)] })) ?? null;
  const reply = (errorCode: number, results: { topic: string; partitionResult: Outcome[] }[]) =>
    conn.reply(req, (w) => encodeElectLeadersResponse(w, apiVersion, { throttleTimeMs: 0, errorCode, replicaElectionResults: results }));
  const refuse = (code: number, message: string) => {
    // v1+: the top-level code says it; every named partition carries it too (v0 has only those).
    reply(code, (named ?? []).map((t) => ({ topic: t.topic, partitionResult: t.partitions.map((p) => ({ partitionId: p, errorCode: code, errorMessage: message })) })));
  };
  if (body.electionType !== KafkaElectionType.PREFERRED) {
    const what = body.electionType === KafkaElectionType.UNCLEAN ? "unclean leader elections are refused: a replica outside the ISR may lack acknowledged records" : `election type ${body.electionType} is unknown`;
    return refuse(body.electionType === KafkaElectionType.UNCLEAN ? ErrorCode.POLICY_VIOLATION : ErrorCode.INVALID_REQUEST, what);
  }
  try {
    clusterMemberOf(engine, "leader to elect");
  } catch (e) {
    return refuse((e as SluiceError).code, (e as Error).message);
  }
  const total = named?.reduce((n, t) => n + t.partitions.length, 0) ?? 0;
  if (total > KAFKA_ELECT_LEADERS_PARTITIONS_MAX) {
    return refuse(ErrorCode.INVALID_REQUEST, `${total} partitions named; at most ${KAFKA_ELECT_LEADERS_PARTITIONS_MAX} per ElectLeaders request (null names every partition)`);
  }
  if (named === null) {
    engine.electLeaders({}).then(
      (r) => {
        const byTopic = new Map<string, Outcome[]>();
        for (const p of r.partitions) {
          const list = byTopic.get(p.topic) ?? [];
          list.push(outcomeOf(p));
          byTopic.set(p.topic, list);
        }
        reply(ErrorCode.NONE, [...byTopic].map(([topic, partitionResult]) => ({ topic, partitionResult })));
      },
      (e) => refuse(e instanceof SluiceError ? e.code : ErrorCode.UNKNOWN_SERVER_ERROR, (e as Error)?.message ?? String(e)),
    );
    return;
  }
  const view = engine.clusterMember!.view;
  const tasks: (() => Promise<{ topic: string; outcomes: Outcome[] }>)[] = [];
  for (const t of named) {
    const record = view.topics.get(t.topic);
    const whole = record !== undefined && t.partitions.length === record.partitions && t.partitions.every((p) => p >= 0 && p < record.partitions);
    if (whole) tasks.push(async () => ({ topic: t.topic, outcomes: await elect(engine, t.topic, t.partitions, true) }));
    else for (const p of t.partitions) tasks.push(async () => ({ topic: t.topic, outcomes: await elect(engine, t.topic, [p], false) }));
  }
  void bounded(tasks, KAFKA_ELECT_LEADERS_PARALLEL_MAX).then((done) => {
    const byTopic = new Map<string, Outcome[]>();
    for (const d of done) byTopic.set(d.topic, [...(byTopic.get(d.topic) ?? []), ...d.outcomes]);
    reply(ErrorCode.NONE, [...byTopic].map(([topic, partitionResult]) => ({ topic, partitionResult })));
  });
};
