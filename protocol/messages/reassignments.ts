// Cluster admin apis on partition placement: bodies are one MessagePack value,
// as every control api (control.ts, docs/PROTOCOL.md; docs/SCALING.md, "The
// admin API"). Any broker of a cluster serves them; a single node answers
// INVALID_REQUEST (it has no replicas to move), as it does ElectLeaders.
//
//   AlterPartitionReassignments (45)  (Kafka's number; KIP-455 semantics)
//     req  { partitions: [{ topic, partition, replicas: [brokerId] | null }],   (null cancels that partition's move)
//            throttleBytesPerSec?: int | null }                                 (what each leader sends to adding replicas)
//     resp { partitions: [{ topic, partition, errorCode, message: string | null }] }   (request order)
//   ListPartitionReassignments (46)
//     req  { topics: [{ name, partitions: [int] }] | null, progress?: bool }    (null = every move; [] = all of a topic)
//     resp { progress: bool, partitions: [{ topic, partition, replicas, target, adding, removing, leader, isr,
//            throttleBytesPerSec: int | null, bytesTotal: int | null, bytesCopied: int | null, bytesRemaining: int | null }] }
//   DescribeCluster (60)
//     req  { }
//     resp { clusterName: string | null, controllerId, brokers: [{ nodeId, host, port, kafkaPort: int | null,
//            httpPort: int | null, rack: string | null }] }                      (a single node: itself, clusterName null)
//   ProposeReassignment (1005)   (`sluice partitions reassign --generate`)
//     req  { brokers: [brokerId], topics: [string] | null }
//     resp { plan: { version: 1, partitions: [{ topic, partition, replicas }] }, moves, leaderChanges,
//            before: [{ broker, replicas, leaders }], after: [same] }
//   BalanceByLoad (1006)         (`sluice cluster balance --by-load`)
//     req  { }
//     resp { plan, moves, leaderChanges, bytesToCopy, before: [{ broker, bytesPerSec }], after: [same], silentBrokers: [brokerId] }

import { z } from "zod";
import { ARRAY_LENGTH_MAX, REASSIGNMENT_REQUEST_PARTITIONS_MAX, REPLICA_LIST_LENGTH_MAX, STRING_BYTES_MAX } from "../limits.ts";

const int = z.number().int();
const int32 = int.min(-0x80000000).max(0x7fffffff);
const brokerId = int.min(0).max(0x7fffffff);
const count = int.min(0);
const errorCode = int.min(-0x8000).max(0x7fff);
const name = z.string().max(STRING_BYTES_MAX);
const port = int.min(0).max(65535);
const array = <T extends z.ZodType>(item: T) => z.array(item).max(ARRAY_LENGTH_MAX);
const replicaList = z.array(brokerId).max(REPLICA_LIST_LENGTH_MAX);

// ---------------------------------------------------------------- AlterPartitionReassignments

export const AlterPartitionReassignmentsRequestSchema = z.object({
  partitions: z.array(z.object({ topic: name, partition: int32.min(0), replicas: replicaList.nullable() })).max(REASSIGNMENT_REQUEST_PARTITIONS_MAX),
  throttleBytesPerSec: int.min(1).max(Number.MAX_SAFE_INTEGER).nullish(),
});
export type AlterPartitionReassignmentsRequest = z.infer<typeof AlterPartitionReassignmentsRequestSchema>;
export const ReassignmentOutcomeSchema = z.object({ topic: name, partition: int32, errorCode, message: z.string().nullable() });
export type ReassignmentOutcome = z.infer<typeof ReassignmentOutcomeSchema>;
export const AlterPartitionReassignmentsResponseSchema = z.object({ partitions: array(ReassignmentOutcomeSchema) });
export type AlterPartitionReassignmentsResponse = z.infer<typeof AlterPartitionReassignmentsResponseSchema>;

// ---------------------------------------------------------------- ListPartitionReassignments

export const ListPartitionReassignmentsRequestSchema = z.object({
  topics: array(z.object({ name, partitions: array(int32.min(0)) })).nullable(),
  progress: z.boolean().optional(),
});
export type ListPartitionReassignmentsRequest = z.infer<typeof ListPartitionReassignmentsRequestSchema>;
const bytes = count.max(Number.MAX_SAFE_INTEGER).nullable();
export const PartitionReassignmentSchema = z.object({
  topic: name,
  partition: int32,
  /** The replica list while moving: the old replicas, then the adding ones. */
  replicas: replicaList,
  target: replicaList,
  adding: replicaList,
  removing: replicaList,
  leader: int32,
  isr: replicaList,
  throttleBytesPerSec: count.nullable(),
  /** From the leader (progress asked and its `/metrics` read); null otherwise. */
  bytesTotal: bytes,
  bytesCopied: bytes,
  bytesRemaining: bytes,
});
export type PartitionReassignment = z.infer<typeof PartitionReassignmentSchema>;
export const ListPartitionReassignmentsResponseSchema = z.object({ progress: z.boolean(), partitions: array(PartitionReassignmentSchema) });
export type ListPartitionReassignmentsResponse = z.infer<typeof ListPartitionReassignmentsResponseSchema>;

// ---------------------------------------------------------------- DescribeCluster

export const DescribeClusterRequestSchema = z.object({});
export type DescribeClusterRequest = z.infer<typeof DescribeClusterRequestSchema>;
export const ClusterBrokerSchema = z.object({ nodeId: brokerId, host: z.string(), port, kafkaPort: port.nullable(), httpPort: port.nullable(), rack: z.string().nullable() });
export type ClusterBroker = z.infer<typeof ClusterBrokerSchema>;
export const DescribeClusterResponseSchema = z.object({ clusterName: z.string().nullable(), controllerId: int32, brokers: array(ClusterBrokerSchema) });
export type DescribeClusterResponse = z.infer<typeof DescribeClusterResponseSchema>;

// ---------------------------------------------------------------- ProposeReassignment, BalanceByLoad

const PlanSchema = z.object({
  version: z.literal(1),
  partitions: array(z.object({ topic: name, partition: int32.min(0), replicas: replicaList })),
});
export type ReassignmentPlanBody = z.infer<typeof PlanSchema>;

export const ProposeReassignmentRequestSchema = z.object({ brokers: array(brokerId).min(1), topics: array(name).nullable() });
export type ProposeReassignmentRequest = z.infer<typeof ProposeReassignmentRequestSchema>;
const BrokerCountsSchema = z.object({ broker: brokerId, replicas: count, leaders: count });
export const ProposeReassignmentResponseSchema = z.object({
  plan: PlanSchema,
  /** Replicas that land on a broker that did not hold them (data to copy). */
  moves: count,
  leaderChanges: count,
  before: array(BrokerCountsSchema),
  after: array(BrokerCountsSchema),
});
export type ProposeReassignmentResponse = z.infer<typeof ProposeReassignmentResponseSchema>;

export const BalanceByLoadRequestSchema = z.object({});
export type BalanceByLoadRequest = z.infer<typeof BalanceByLoadRequestSchema>;
const BrokerBytesSchema = z.object({ broker: brokerId, bytesPerSec: z.number().min(0) });
export const BalanceByLoadResponseSchema = z.object({
  plan: PlanSchema,
  moves: count,
  leaderChanges: count,
  bytesToCopy: count.max(Number.MAX_SAFE_INTEGER),
  /** Predicted bytes per second per broker (in + out), now and after the plan. */
  before: array(BrokerBytesSchema),
  after: array(BrokerBytesSchema),
  /** Registered brokers without a load report yet (their partitions count as idle). */
  silentBrokers: array(brokerId),
});
export type BalanceByLoadResponse = z.infer<typeof BalanceByLoadResponseSchema>;
