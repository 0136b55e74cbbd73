// The Kafka apis this listener serves: api key → handler (one file per api).
// ApiVersions answers from this map, so a client is told of exactly these;
// a key missing here closes the connection, as Kafka does for an api it
// does not know (docs/KAFKA.md lists them).

import { KafkaApiKey } from "../../protocol/kafka/versions.ts";
import { handleAlterConfigs, handleIncrementalAlterConfigs } from "./alter_configs.ts";
import { handleAlterPartitionReassignments } from "./alter_partition_reassignments.ts";
import { handleApiVersions } from "./api_versions.ts";
import { handleCreatePartitions } from "./create_partitions.ts";
import { handleCreateTopics } from "./create_topics.ts";
import { handleDeleteTopics } from "./delete_topics.ts";
import { handleDescribeCluster } from "./describe_cluster.ts";
import { handleDescribeConfigs } from "./describe_configs.ts";
import { handleElectLeaders } from "./elect_leaders.ts";
import { handleFetch } from "./fetch.ts";
import { handleFindCoordinator } from "./find_coordinator.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { handleInitProducerId } from "./init_producer_id.ts";
import { handleListOffsets } from "./list_offsets.ts";
import { handleListPartitionReassignments } from "./list_partition_reassignments.ts";
import { handleMetadata } from "./metadata.ts";
import { handleOffsetForLeaderEpoch } from "./offset_for_leader_epoch.ts";
import { handleProduce } from "./produce.ts";

export function kafkaHandlers(): Map<number, KafkaHandler> {
  return new Map<number, KafkaHandler>([
    [KafkaApiKey.Produce, handleProduce],
    [KafkaApiKey.Fetch, handleFetch],
    [KafkaApiKey.ListOffsets, handleListOffsets],
    [KafkaApiKey.Metadata, handleMetadata],
    [KafkaApiKey.FindCoordinator, handleFindCoordinator],
    [KafkaApiKey.ApiVersions, handleApiVersions],
    [KafkaApiKey.CreateTopics, handleCreateTopics],
    [KafkaApiKey.DeleteTopics, handleDeleteTopics],
    [KafkaApiKey.DescribeConfigs, handleDescribeConfigs],
    [KafkaApiKey.AlterConfigs, handleAlterConfigs],
    [KafkaApiKey.CreatePartitions, handleCreatePartitions],
    [KafkaApiKey.IncrementalAlterConfigs, handleIncrementalAlterConfigs],
    [KafkaApiKey.DescribeCluster, handleDescribeCluster],
    [KafkaApiKey.InitProducerId, handleInitProducerId],
    [KafkaApiKey.OffsetForLeaderEpoch, handleOffsetForLeaderEpoch],
    [KafkaApiKey.ElectLeaders, handleElectLeaders],
    [KafkaApiKey.AlterPartitionReassignments, handleAlterPartitionReassignments],
    [KafkaApiKey.ListPartitionReassignments, handleListPartitionReassignments],
  ]);
}
