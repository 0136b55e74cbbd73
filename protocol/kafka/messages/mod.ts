// The Kafka message codecs, one file per api (see each file for its grammar).

export * from "./alter_configs.ts";
export * from "./alter_partition_reassignments.ts";
export * from "./api_versions.ts";
export * from "./create_partitions.ts";
export * from "./create_topics.ts";
export * from "./delete_topics.ts";
export * from "./describe_cluster.ts";
export * from "./describe_configs.ts";
export * from "./describe_groups.ts";
export * from "./elect_leaders.ts";
export * from "./fetch.ts";
export * from "./find_coordinator.ts";
export * from "./heartbeat.ts";
export * from "./incremental_alter_configs.ts";
export * from "./init_producer_id.ts";
export * from "./offset_for_leader_epoch.ts";
export * from "./join_group.ts";
export * from "./leave_group.ts";
export * from "./list_groups.ts";
export * from "./list_offsets.ts";
export * from "./list_partition_reassignments.ts";
export * from "./metadata.ts";
export * from "./offset_commit.ts";
export * from "./offset_fetch.ts";
export * from "./produce.ts";
export * from "./sync_group.ts";

import { AlterConfigsRequestSpec, AlterConfigsResponseSpec } from "./alter_configs.ts";
import { AlterPartitionReassignmentsRequestSpec, AlterPartitionReassignmentsResponseSpec } from "./alter_partition_reassignments.ts";
import { ApiVersionsRequestSpec, ApiVersionsResponseSpec } from "./api_versions.ts";
import { CreatePartitionsRequestSpec, CreatePartitionsResponseSpec } from "./create_partitions.ts";
import { CreateTopicsRequestSpec, CreateTopicsResponseSpec } from "./create_topics.ts";
import { DeleteTopicsRequestSpec, DeleteTopicsResponseSpec } from "./delete_topics.ts";
import { DescribeClusterRequestSpec, DescribeClusterResponseSpec } from "./describe_cluster.ts";
import { DescribeConfigsRequestSpec, DescribeConfigsResponseSpec } from "./describe_configs.ts";
import { DescribeGroupsRequestSpec, DescribeGroupsResponseSpec } from "./describe_groups.ts";
import { ElectLeadersRequestSpec, ElectLeadersResponseSpec } from "./elect_leaders.ts";
import { FetchRequestSpec, FetchResponseSpec } from "./fetch.ts";
import { FindCoordinatorRequestSpec, FindCoordinatorResponseSpec } from "./find_coordinator.ts";
import { HeartbeatRequestSpec, HeartbeatResponseSpec } from "./heartbeat.ts";
import { IncrementalAlterConfigsRequestSpec, IncrementalAlterConfigsResponseSpec } from "./incremental_alter_configs.ts";
import { InitProducerIdRequestSpec, InitProducerIdResponseSpec } from "./init_producer_id.ts";
import { JoinGroupRequestSpec, JoinGroupResponseSpec } from "./join_group.ts";
import { LeaveGroupRequestSpec, LeaveGroupResponseSpec } from "./leave_group.ts";
import { ListGroupsRequestSpec, ListGroupsResponseSpec } from "./list_groups.ts";
import { ListOffsetsRequestSpec, ListOffsetsResponseSpec } from "./list_offsets.ts";
import { ListPartitionReassignmentsRequestSpec, ListPartitionReassignmentsResponseSpec } from "./list_partition_reassignments.ts";
import { MetadataRequestSpec, MetadataResponseSpec } from "./metadata.ts";
import { OffsetCommitRequestSpec, OffsetCommitResponseSpec } from "./offset_commit.ts";
import { OffsetFetchRequestSpec, OffsetFetchResponseSpec } from "./offset_fetch.ts";
import { OffsetForLeaderEpochRequestSpec, OffsetForLeaderEpochResponseSpec } from "./offset_for_leader_epoch.ts";
import { ProduceRequestSpec, ProduceResponseSpec } from "./produce.ts";
import { SyncGroupRequestSpec, SyncGroupResponseSpec } from "./sync_group.ts";
import type { Field, MessageSpec } from "../schema.ts";
import { KafkaDecodeError, KafkaDecodeReason } from "../decode_error.ts";

/** Every api's request and response spec, for tests and tools that walk all of them. */
export const KAFKA_MESSAGE_SPECS: readonly { request: MessageSpec<readonly Field[]>; response: MessageSpec<readonly Field[]> }[] = [
  { request: AlterConfigsRequestSpec, response: AlterConfigsResponseSpec },
  { request: AlterPartitionReassignmentsRequestSpec, response: AlterPartitionReassignmentsResponseSpec },
  { request: ApiVersionsRequestSpec, response: ApiVersionsResponseSpec },
  { request: CreatePartitionsRequestSpec, response: CreatePartitionsResponseSpec },
  { request: CreateTopicsRequestSpec, response: CreateTopicsResponseSpec },
  { request: DeleteTopicsRequestSpec, response: DeleteTopicsResponseSpec },
  { request: DescribeClusterRequestSpec, response: DescribeClusterResponseSpec },
  { request: DescribeConfigsRequestSpec, response: DescribeConfigsResponseSpec },
  { request: DescribeGroupsRequestSpec, response: DescribeGroupsResponseSpec },
  { request: ElectLeadersRequestSpec, response: ElectLeadersResponseSpec },
  { request: FetchRequestSpec, response: FetchResponseSpec },
  { request: FindCoordinatorRequestSpec, response: FindCoordinatorResponseSpec },
  { request: HeartbeatRequestSpec, response: HeartbeatResponseSpec },
  { request: IncrementalAlterConfigsRequestSpec, response: IncrementalAlterConfigsResponseSpec },
  { request: InitProducerIdRequestSpec, response: InitProducerIdResponseSpec },
  { request: JoinGroupRequestSpec, response: JoinGroupResponseSpec },
  { request: LeaveGroupRequestSpec, response: LeaveGroupResponseSpec },
  { request: ListGroupsRequestSpec, response: ListGroupsResponseSpec },
  { request: ListOffsetsRequestSpec, response: ListOffsetsResponseSpec },
  { request: ListPartitionReassignmentsRequestSpec, response: ListPartitionReassignmentsResponseSpec },
  { request: MetadataRequestSpec, response: MetadataResponseSpec },
  { request: OffsetCommitRequestSpec, response: OffsetCommitResponseSpec },
  { request: OffsetFetchRequestSpec, response: OffsetFetchResponseSpec },
  { request: OffsetForLeaderEpochRequestSpec, response: OffsetForLeaderEpochResponseSpec },
  { request: ProduceRequestSpec, response: ProduceResponseSpec },
  { request: SyncGroupRequestSpec, response: SyncGroupResponseSpec },
];

import { decodeMessage } from "../schema.ts";
import type { KafkaReader } from "../reader.ts";
import { decodeFetchRequest } from "./fetch.ts";
import { decodeProduceRequest } from "./produce.ts";

/**
 * Decodes the body of any supported request (a tool or a test that does not
 * know the api in advance; the listener calls each api's own decoder). Throws
 * KafkaDecodeError(UNSUPPORTED_VERSION) for an api or version not in the table.
 */
export function decodeAnyRequest(apiKey: number, r: KafkaReader, version: number): unknown {
  if (apiKey === ProduceRequestSpec.apiKey) return decodeProduceRequest(r, version);
  if (apiKey === FetchRequestSpec.apiKey) return decodeFetchRequest(r, version);
  const m = KAFKA_MESSAGE_SPECS.find((s) => s.request.apiKey === apiKey);
  if (m === undefined) throw new KafkaDecodeError(KafkaDecodeReason.UNSUPPORTED_VERSION, "request", `api key ${apiKey} is not supported`);
  return decodeMessage(m.request, r, version);
}
