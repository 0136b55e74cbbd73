// Minimal answers to Kafka requests, built with the protocol/kafka encoders,
// so a real client (kcat, kafkajs, @platformatic/kafka) talking to the capture
// server keeps going and sends its next requests. Every answer says success:
// one broker (this server), every topic asked about exists with one
// partition, batches produced are kept in memory and served back from their
// offsets, and a group has one member who is its leader. This is not a broker; it is
// just enough of one for a client to show every request it would send.

import { ErrorCode } from "../../protocol/errors.ts";
import { BATCH_HEADER_BYTES, BATCH_OVERHEAD_BYTES, patchBaseOffset, readBatchHeader } from "../../protocol/record_batch.ts";
import { beginResponseFrame, endFrame } from "../../protocol/kafka/header.ts";
import * as m from "../../protocol/kafka/messages/mod.ts";
import type { KafkaReader } from "../../protocol/kafka/reader.ts";
import { isVersionSupported, KafkaApiKey } from "../../protocol/kafka/versions.ts";
import type { KafkaWriter } from "../../protocol/kafka/writer.ts";

export const CAPTURE_TOPIC = "capture";
const NODE_ID = 1;
const NO_RECORDS = new Uint8Array(0);
const PRODUCER_ID = 4000n;
/** How long an empty fetch is held before it is answered (the client's max wait, up to this). */
export const EMPTY_FETCH_HOLD_MS_MAX = 200;

export interface ResponderState {
  host: string;
  port: number;
  /** Batches produced per "topic/partition", their base offsets patched in as a log would. */
  logs: Map<string, { batches: Uint8Array[]; bases: number[]; end: number }>;
  /** Assignments the group leader sent, per group. */
  assignments: Map<string, Uint8Array>;
  nextMemberId: number;
  /** Bytes held in `logs`, at most LOG_BYTES_MAX. */
  logBytes: number;
}

/** Bytes of produced batches the responder keeps; past it a produce gets KAFKA_STORAGE_ERROR. */
export const LOG_BYTES_MAX = 16 * 1024 * 1024;

export function newResponderState(host: string, port: number): ResponderState {
  return { host, port, logs: new Map(), assignments: new Map(), nextMemberId: 1, logBytes: 0 };
}

/** Appends the v2 batches of `records` to a partition's log; returns the first one's base offset, or -1 when full. */
function append(s: ResponderState, key: string, records: Uint8Array): number {
  if (s.logBytes + records.length > LOG_BYTES_MAX) return -1;
  s.logBytes += records.length;
  let log = s.logs.get(key);
  if (log === undefined) s.logs.set(key, (log = { batches: [], bases: [], end: 0 }));
  const first = log.end;
  const copy = records.slice();
  let pos = 0;
  while (pos + BATCH_HEADER_BYTES <= copy.length) {
    const h = readBatchHeader(copy, pos);
    const size = BATCH_OVERHEAD_BYTES + h.batchLength;
    patchBaseOffset(copy, pos, log.end);
    log.batches.push(copy.subarray(pos, pos + size));
    log.bases.push(log.end);
    log.end += h.lastOffsetDelta + 1;
    pos += size;
  }
  return first;
}

/** The stored batches holding offsets at or after `from`, as one byte string (empty at the end). */
function readFrom(s: ResponderState, key: string, from: bigint): { records: Uint8Array; end: number } {
  const log = s.logs.get(key);
  if (log === undefined) return { records: NO_RECORDS, end: 0 };
  const parts: Uint8Array[] = [];
  for (let i = 0; i < log.batches.length; i++) {
    const last = (log.bases[i + 1] ?? log.end) - 1;
    if (BigInt(last) >= from) parts.push(log.batches[i]);
  }
  return { records: parts.length === 0 ? NO_RECORDS : Buffer.concat(parts), end: log.end };
}

/** Topics to describe: null asks for all (and so does an empty list in v0); from v1 an empty list asks for none. */
function topicNames(req: m.MetadataRequest, version: number): string[] {
  if (req.topics === null || (req.topics.length === 0 && version === 0)) return [CAPTURE_TOPIC];
  return req.topics.map((t) => t.name ?? CAPTURE_TOPIC);
}

export interface Answer {
  /** Milliseconds to hold the answer (an empty long-poll fetch). */
  delayMs: number;
  /** False for Produce acks=0, which gets no response. */
  respond: boolean;
}

/**
 * Decodes the body of a request of `apiKey`/`version` and writes the whole
 * response frame into `w`. Throws (a KafkaDecodeError) when the body does not
 * decode: the capture server then records the failure and closes.
 */
export function answer(
  s: ResponderState,
  apiKey: number,
  version: number,
  correlationId: number,
  r: KafkaReader,
  w: KafkaWriter,
): Answer {
  const out: Answer = { delayMs: 0, respond: true };
  if (apiKey === KafkaApiKey.ApiVersions) {
    const { version: v, response } = m.apiVersionsAnswer(version);
    if (v === version) m.decodeApiVersionsRequest(r, version);
    const at = beginResponseFrame(w, apiKey, version, correlationId);
    m.encodeApiVersionsResponse(w, v, response);
    endFrame(w, at);
    return out;
  }
  if (!isVersionSupported(apiKey, version)) throw new Error(`unsupported api ${apiKey} v${version}`);
  const at = beginResponseFrame(w, apiKey, version, correlationId);
  const broker = { nodeId: NODE_ID, host: s.host, port: s.port, rack: null };
  switch (apiKey) {
    case KafkaApiKey.Metadata: {
      const req = m.decodeMetadataRequest(r, version);
      m.encodeMetadataResponse(w, version, {
        brokers: [broker],
        clusterId: "capture-cluster",
        controllerId: NODE_ID,
        topics: topicNames(req, version).map((name) => ({
          errorCode: 0,
          name,
          topicId: new Uint8Array(16).fill(1),
          partitions: [{ errorCode: 0, partitionIndex: 0, leaderId: NODE_ID, leaderEpoch: 0, replicaNodes: [NODE_ID], isrNodes: [NODE_ID] }],
        })),
      });
      break;
    }
    case KafkaApiKey.Produce: {
      const req = m.decodeProduceRequest(r, version);
      if (req.acks === 0) out.respond = false;
      m.encodeProduceResponse(w, version, {
        responses: req.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) => {
            const base = p.records === null ? 0 : append(s, `${t.name}/${p.index}`, p.records);
            const errorCode = base < 0 ? ErrorCode.KAFKA_STORAGE_ERROR : ErrorCode.NONE;
            return { index: p.index, errorCode, baseOffset: BigInt(base), logAppendTimeMs: -1n, logStartOffset: 0n };
          }),
        })),
      });
      break;
    }
    case KafkaApiKey.Fetch: {
      const req = m.decodeFetchRequest(r, version);
      let any = false;
      const responses = req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          // Empty when there is nothing, never null: librdkafka 2.0.2 refuses a null records
          // field ("invalid MessageSetSize -1").
          const { records, end } = readFrom(s, `${t.topic}/${p.partition}`, p.fetchOffset);
          if (records.length > 0) any = true;
          const hw = BigInt(end);
          return { partitionIndex: p.partition, errorCode: 0, highWatermark: hw, lastStableOffset: hw, logStartOffset: 0n, records };
        }),
      }));
      if (!any) out.delayMs = Math.min(req.maxWaitMs, EMPTY_FETCH_HOLD_MS_MAX);
      m.encodeFetchResponse(w, version, { errorCode: 0, sessionId: 0, responses });
      break;
    }
    case KafkaApiKey.ListOffsets: {
      const req = m.decodeListOffsetsRequest(r, version);
      m.encodeListOffsetsResponse(w, version, {
        topics: req.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => {
            const end = BigInt(s.logs.get(`${t.name}/${p.partitionIndex}`)?.end ?? 0);
            return { partitionIndex: p.partitionIndex, errorCode: 0, timestamp: -1n, offset: p.timestamp === -2n ? 0n : end, leaderEpoch: 0 };
          }),
        })),
      });
      break;
    }
    case KafkaApiKey.FindCoordinator: {
      const req = m.decodeFindCoordinatorRequest(r, version);
      m.encodeFindCoordinatorResponse(w, version, {
        errorCode: 0,
        nodeId: NODE_ID,
        host: s.host,
        port: s.port,
        coordinators: req.coordinatorKeys.map((key) => ({ key, nodeId: NODE_ID, host: s.host, port: s.port, errorCode: 0 })),
      });
      break;
    }
    case KafkaApiKey.JoinGroup: {
      const req = m.decodeJoinGroupRequest(r, version);
      const memberId = req.memberId !== "" ? req.memberId : `member-${s.nextMemberId++}`;
      const protocol = req.protocols[0];
      m.encodeJoinGroupResponse(w, version, {
        errorCode: 0,
        generationId: 1,
        protocolType: req.protocolType,
        protocolName: protocol?.name ?? "",
        leader: memberId,
        memberId,
        members: [{ memberId, groupInstanceId: req.groupInstanceId, metadata: protocol?.metadata ?? new Uint8Array(0) }],
      });
      break;
    }
    case KafkaApiKey.SyncGroup: {
      const req = m.decodeSyncGroupRequest(r, version);
      const mine = req.assignments.find((a) => a.memberId === req.memberId);
      if (mine !== undefined) s.assignments.set(req.groupId, mine.assignment.slice());
      m.encodeSyncGroupResponse(w, version, {
        errorCode: 0,
        protocolType: req.protocolType,
        protocolName: req.protocolName,
        assignment: s.assignments.get(req.groupId) ?? new Uint8Array(0),
      });
      break;
    }
    case KafkaApiKey.Heartbeat:
      m.decodeHeartbeatRequest(r, version);
      m.encodeHeartbeatResponse(w, version, { errorCode: 0 });
      break;
    case KafkaApiKey.LeaveGroup: {
      const req = m.decodeLeaveGroupRequest(r, version);
      m.encodeLeaveGroupResponse(w, version, {
        errorCode: 0,
        members: req.members.map((x) => ({ memberId: x.memberId, groupInstanceId: x.groupInstanceId, errorCode: 0 })),
      });
      break;
    }
    case KafkaApiKey.OffsetCommit: {
      const req = m.decodeOffsetCommitRequest(r, version);
      m.encodeOffsetCommitResponse(w, version, {
        topics: req.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: 0 })) })),
      });
      break;
    }
    case KafkaApiKey.OffsetFetch: {
      const req = m.decodeOffsetFetchRequest(r, version);
      const answerTopics = (topics: readonly { name: string; partitionIndexes: number[] }[] | null) =>
        (topics ?? []).map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: "",
            errorCode: 0,
          })),
        }));
      m.encodeOffsetFetchResponse(w, version, {
        errorCode: 0,
        topics: answerTopics(req.topics),
        groups: req.groups.map((g) => ({ groupId: g.groupId, topics: answerTopics(g.topics), errorCode: 0 })),
      });
      break;
    }
    case KafkaApiKey.ListGroups:
      m.decodeListGroupsRequest(r, version);
      m.encodeListGroupsResponse(w, version, {
        errorCode: 0,
        groups: [...s.assignments.keys()].map((groupId) => ({ groupId, protocolType: "consumer", groupState: "Stable" })),
      });
      break;
    case KafkaApiKey.DescribeGroups: {
      const req = m.decodeDescribeGroupsRequest(r, version);
      m.encodeDescribeGroupsResponse(w, version, {
        groups: req.groups.map((groupId) => ({ errorCode: 0, groupId, groupState: "Stable", protocolType: "consumer", protocolData: "", members: [] })),
      });
      break;
    }
    case KafkaApiKey.CreateTopics: {
      const req = m.decodeCreateTopicsRequest(r, version);
      m.encodeCreateTopicsResponse(w, version, {
        topics: req.topics.map((t) => ({
          name: t.name,
          topicId: new Uint8Array(16).fill(2),
          errorCode: 0,
          errorMessage: null,
          numPartitions: t.numPartitions,
          replicationFactor: t.replicationFactor,
          configs: [],
        })),
      });
      break;
    }
    case KafkaApiKey.DeleteTopics: {
      const req = m.decodeDeleteTopicsRequest(r, version);
      const names = version >= 6 ? req.topics.map((t) => t.name) : req.topicNames;
      m.encodeDeleteTopicsResponse(w, version, { responses: names.map((name) => ({ name, errorCode: 0 })) });
      break;
    }
    case KafkaApiKey.CreatePartitions: {
      const req = m.decodeCreatePartitionsRequest(r, version);
      m.encodeCreatePartitionsResponse(w, version, { results: req.topics.map((t) => ({ name: t.name, errorCode: 0, errorMessage: null })) });
      break;
    }
    case KafkaApiKey.DescribeConfigs: {
      const req = m.decodeDescribeConfigsRequest(r, version);
      m.encodeDescribeConfigsResponse(w, version, {
        results: req.resources.map((x) => ({
          errorCode: 0,
          errorMessage: null,
          resourceType: x.resourceType,
          resourceName: x.resourceName,
          configs: [{ name: "retention.ms", value: "604800000", readOnly: false, isDefault: true, configSource: 5, isSensitive: false, synonyms: [] }],
        })),
      });
      break;
    }
    case KafkaApiKey.AlterConfigs: {
      const req = m.decodeAlterConfigsRequest(r, version);
      m.encodeAlterConfigsResponse(w, version, {
        responses: req.resources.map((x) => ({ errorCode: 0, errorMessage: null, resourceType: x.resourceType, resourceName: x.resourceName })),
      });
      break;
    }
    case KafkaApiKey.IncrementalAlterConfigs: {
      const req = m.decodeIncrementalAlterConfigsRequest(r, version);
      m.encodeIncrementalAlterConfigsResponse(w, version, {
        responses: req.resources.map((x) => ({ errorCode: 0, errorMessage: null, resourceType: x.resourceType, resourceName: x.resourceName })),
      });
      break;
    }
    case KafkaApiKey.InitProducerId:
      m.decodeInitProducerIdRequest(r, version);
      m.encodeInitProducerIdResponse(w, version, { errorCode: ErrorCode.NONE, producerId: PRODUCER_ID, producerEpoch: 0 });
      break;
    case KafkaApiKey.DescribeCluster:
      m.decodeDescribeClusterRequest(r, version);
      m.encodeDescribeClusterResponse(w, version, {
        errorCode: 0,
        clusterId: "capture-cluster",
        controllerId: NODE_ID,
        brokers: [{ brokerId: NODE_ID, host: s.host, port: s.port, rack: null }],
      });
      break;
    default:
      throw new Error(`no answer for api ${apiKey}`);
  }
  endFrame(w, at);
  return out;
}
