// The Kafka group apis over one GroupCoordinator (engine/groups), added to
// the Kafka listener's handlers by the groups plugin: FindCoordinator is a
// core api (handlers.ts); these need the coordinator.

import { KafkaApiKey } from "../../protocol/kafka/versions.ts";
import type { GroupCoordinator } from "../groups/coordinator.ts";
import { describeGroupsHandler } from "./describe_groups.ts";
import { heartbeatHandler } from "./heartbeat.ts";
import { joinGroupHandler } from "./join_group.ts";
import type { KafkaHandler } from "./kafka_request.ts";
import { leaveGroupHandler } from "./leave_group.ts";
import { listGroupsHandler } from "./list_groups.ts";
import { offsetCommitHandler } from "./offset_commit.ts";
import { offsetFetchHandler } from "./offset_fetch.ts";
import { syncGroupHandler } from "./sync_group.ts";

export function registerKafkaGroupApis(handlers: Map<number, KafkaHandler>, coordinator: GroupCoordinator): void {
  handlers.set(KafkaApiKey.JoinGroup, joinGroupHandler(coordinator));
  handlers.set(KafkaApiKey.SyncGroup, syncGroupHandler(coordinator));
  handlers.set(KafkaApiKey.Heartbeat, heartbeatHandler(coordinator));
  handlers.set(KafkaApiKey.LeaveGroup, leaveGroupHandler(coordinator));
  handlers.set(KafkaApiKey.OffsetCommit, offsetCommitHandler(coordinator));
  handlers.set(KafkaApiKey.OffsetFetch, offsetFetchHandler(coordinator));
  handlers.set(KafkaApiKey.ListGroups, listGroupsHandler(coordinator));
  handlers.set(KafkaApiKey.DescribeGroups, describeGroupsHandler(coordinator));
}
