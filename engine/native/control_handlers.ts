// The broker's own control apis (MessagePack bodies), registered on the
// dispatcher: ApiVersions, Metadata, ListOffsets, CreateTopics, DeleteTopics,
// AlterConfigs, CreatePartitions, ElectLeaders, DescribeTopics, InitProducerId, and (reassignment_handlers.ts)
// AlterPartitionReassignments, ListPartitionReassignments, DescribeCluster, ProposeReassignment,
// BalanceByLoad. Each validates its body with
// the schema in protocol/messages/control.ts and maps it onto the engine.

import { ApiKey } from "../../protocol/api_keys.ts";
import { ErrorCode, SluiceError } from "../../protocol/errors.ts";
import {
  AlterConfigsRequestSchema,
  ApiVersionsRequestSchema,
  CreatePartitionsRequestSchema,
  CreateTopicsRequestSchema,
  DeleteTopicsRequestSchema,
  DescribeTopicsRequestSchema,
  type ElectLeadersResponse,
  ElectLeadersRequestSchema,
  InitProducerIdRequestSchema,
  type InitProducerIdResponse,
  ListOffsetsRequestSchema,
  type ListOffsetsResponse,
  MetadataRequestSchema,
  type MetadataResponse,
  parseControlBody,
  type TopicResult,
} from "../../protocol/messages/control.ts";
import type { Engine, ListOffsetsResult } from "../engine.ts";
import type { Dispatcher } from "./dispatch.ts";
import { registerReassignmentHandlers } from "./reassignment_handlers.ts";

export const BROKER_NAME = "sluice";
export const BROKER_VERSION = "0.1.0";
/** A single node: it is node 0, the leader of every partition and the controller. */
export const NODE_ID = 0;

export interface CoreHandlerOptions {
  engine: Engine;
  /** What Metadata tells clients to connect to. */
  advertised: () => { host: string; port: number };
}

/** The outcome of one admin operation as a per-topic result. */
async function topicResult(name: string, op: () => Promise<void>): Promise<TopicResult> {
  try {
    await op();
    return { name, errorCode: ErrorCode.NONE };
  } catch (e) {
    if (e instanceof SluiceError) return { name, errorCode: e.code, message: e.message };
    return { name, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: (e as Error)?.message ?? String(e) };
  }
}

/** Duplicate names in one admin request are refused per topic (as Kafka does). */
function rejectDuplicates<T extends { name: string }>(items: readonly T[]): Set<string> {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const item of items) {
    if (seen.has(item.name)) duplicates.add(item.name);
    seen.add(item.name);
  }
  return duplicates;
}

function duplicateResult(name: string): TopicResult {
  return { name, errorCode: ErrorCode.INVALID_REQUEST, message: `topic '${name}' appears more than once in the request` };
}

export function registerCoreHandlers(dispatcher: Dispatcher, options: CoreHandlerOptions): void {
  const { engine } = options;

  dispatcher.register(ApiKey.ApiVersions, (body) => {
    parseControlBody(ApiVersionsRequestSchema, body);
    return { apis: dispatcher.apiVersions(), broker: BROKER_NAME, version: BROKER_VERSION };
  });

  dispatcher.register(ApiKey.Metadata, async (body): Promise<MetadataResponse> => {
    const req = parseControlBody(MetadataRequestSchema, body);
    const topics = await engine.metadata(req.topics, req.allowAutoCreate ?? false);
    const { host, port } = options.advertised();
    const cluster = engine.cluster;
    return {
      // Cluster mode: every live broker and the controller as etcd says.
      brokers: cluster?.brokers().map(({ nodeId, host, port, kafkaPort }) => ({ nodeId, host, port, kafkaPort })) ?? [{ nodeId: NODE_ID, host, port }],
      controllerId: cluster?.controllerId ?? NODE_ID,
      topics: topics.map((t) => ({
        name: t.name,
        errorCode: t.errorCode,
        internal: false,
        partitions: t.partitions.map((p) => ({
          partition: p.partition,
          errorCode: p.errorCode,
          leader: p.leader ?? NODE_ID,
          leaderEpoch: p.leaderEpoch ?? 0,
          logStartOffset: p.logStartOffset,
          highWatermark: p.highWatermark,
          ...(p.replicas !== undefined ? { replicas: p.replicas, isr: p.isr ?? [] } : {}),
        })),
      })),
    };
  });

  dispatcher.register(ApiKey.InitProducerId, async (body): Promise<InitProducerIdResponse> => {
    const req = parseControlBody(InitProducerIdRequestSchema, body);
    return engine.initProducerId(req);
  });

  dispatcher.register(ApiKey.ListOffsets, async (body): Promise<ListOffsetsResponse> => {
    const req = parseControlBody(ListOffsetsRequestSchema, body);
    const topics = await Promise.all(
      req.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(
          t.partitions.map(async (p) => {
            const r = await new Promise<ListOffsetsResult>((resolve) => engine.listOffsets(t.name, p.partition, p.timestamp, resolve));
            // By timestamp: the found record's own timestamp; earliest/latest and not found: -1.
            return { partition: p.partition, errorCode: r.errorCode, timestamp: r.timestampMs, offset: r.offset };
          }),
        ),
      })),
    );
    return { topics };
  });

  dispatcher.register(ApiKey.CreateTopics, async (body) => {
    const req = parseControlBody(CreateTopicsRequestSchema, body);
    const duplicates = rejectDuplicates(req.topics);
    const topics = await Promise.all(
      req.topics.map((t) =>
        duplicates.has(t.name)
          ? duplicateResult(t.name)
          : topicResult(t.name, () =>
              engine.createTopic(t.name, {
                partitions: t.partitions,
                configs: t.configs ?? {},
                validateOnly: req.validateOnly ?? false,
                replicationFactor: t.replicationFactor,
              }),
            ),
      ),
    );
    return { topics };
  });

  dispatcher.register(ApiKey.DeleteTopics, async (body) => {
    const req = parseControlBody(DeleteTopicsRequestSchema, body);
    const items = req.topics.map((name) => ({ name }));
    const duplicates = rejectDuplicates(items);
    const topics = await Promise.all(
      items.map(({ name }) => (duplicates.has(name) ? duplicateResult(name) : topicResult(name, () => engine.deleteTopic(name)))),
    );
    return { topics };
  });

  dispatcher.register(ApiKey.AlterConfigs, async (body) => {
    const req = parseControlBody(AlterConfigsRequestSchema, body);
    const duplicates = rejectDuplicates(req.topics);
    const topics = await Promise.all(
      req.topics.map((t) =>
        duplicates.has(t.name) ? duplicateResult(t.name) : topicResult(t.name, () => engine.alterTopicConfig(t.name, t.set, t.delete ?? [])),
      ),
    );
    return { topics };
  });

  dispatcher.register(ApiKey.CreatePartitions, async (body) => {
    const req = parseControlBody(CreatePartitionsRequestSchema, body);
    const duplicates = rejectDuplicates(req.topics);
    const topics = await Promise.all(
      req.topics.map((t) =>
        duplicates.has(t.name) ? duplicateResult(t.name) : topicResult(t.name, () => engine.createPartitions(t.name, t.count)),
      ),
    );
    return { topics };
  });

  // Preferred leader elections: the controller's answer per partition (cluster/leader_elections.ts); a refusal of the whole scope is the error code.
  dispatcher.register(ApiKey.ElectLeaders, async (body): Promise<ElectLeadersResponse> => {
    const req = parseControlBody(ElectLeadersRequestSchema, body);
    return await engine.electLeaders({ topic: req.topic ?? undefined, partition: req.partition ?? undefined });
  });

  dispatcher.register(ApiKey.DescribeTopics, (body) => {
    const req = parseControlBody(DescribeTopicsRequestSchema, body);
    return { topics: engine.describeTopics(req.topics) };
  });

  // Partition moves, plans and the cluster's brokers (reassignment_handlers.ts).
  registerReassignmentHandlers(dispatcher, { engine, advertised: options.advertised, nodeId: NODE_ID });
}
