// The cluster's public face: what engine/ and cli/ may import of cluster/.

export * from "./cluster_limits.ts";
export * from "./etcd_errors.ts";
export { EtcdClient, parseEndpoint, parseEndpointList, type EtcdClientOptions, type RangeResult, type TxnRequest, type TxnResult } from "./etcd_client.ts";
export { EtcdWatch, type WatchEvent, type WatchHandlers, type WatchStats } from "./etcd_watch.ts";
export { cmp, op, type Compare, type KeyValue, type TxnOp, type TxnOpResult } from "./etcd_wire.ts";
export { LeaseKeeper, type LeaseKeeperOptions } from "./lease_keeper.ts";
export { ClusterKeys, checkBrokerId } from "./cluster_keys.ts";
export { BROKER_ID_TAKEN, BrokerInfoSchema, DuplicateBrokerIdError, listBrokers, registerBroker, type BrokerInfo, type Registration } from "./broker_registration.ts";
export { CONTROLLER_FENCED, ControllerElection, ControllerFencedError, type ControllerElectionOptions, type ControllerInfo } from "./controller_election.ts";
export { ClusterMember, type ClusterMemberOptions, type ControlledShutdownResult, type SessionChange } from "./cluster_member.ts";
export { announceShutdown, handOffProgress, type HandOffProgress, parseShutdownKey, type ShutdownRecord } from "./controlled_shutdown.ts";
export { readClusterStatus, type ClusterStatus } from "./cluster_status.ts";
export { placeReplicas, type PlacementInput } from "./replica_placement.ts";
export { NO_LEADER, PartitionStateSchema, readTopics, TopicRecordSchema, type PartitionState, type TopicRecord, type TopicView, type VersionedPartitionState } from "./topic_metadata.ts";
export { addPartitions, createTopic, deleteTopic, updatePartitionState, type ControllerContext, type CreateTopicRequest, type PartitionStateUpdate } from "./controller_topics.ts";
export { ClusterView, type LiveBroker } from "./cluster_view.ts";
export { decidePartition, PARTITION_UPDATES_IN_FLIGHT_MAX, PartitionController, type PartitionControllerStats } from "./partition_controller.ts";
export { parseTopicRequest, submitTopicRequest, type TopicRequest, type TopicRequestResult, TopicRequestServer } from "./topic_requests.ts";
export { alterPartition, type AlterPartitionRequest, type AlterPartitionResult } from "./alter_partition.ts";
export { electPreferredLeaders, type ElectLeadersResult, type ElectLeadersScope, type PartitionElection } from "./leader_elections.ts";
export { LeaderBalancer, type LeaderBalancerStats } from "./leader_balancer.ts";
export { encodeLoadReport, type LoadReport, LoadReporter, LoadWindow, type PartitionCounters, type PartitionLoad, publishLoadReport, readLoadReports } from "./load_reports.ts";
export { type BrokerByteLoad, type LoadPlan, planByLoad } from "./load_balance_planner.ts";
export { cancelMoves, decideMoveCancel, decideMoveCompletion, MoveController, type MoveControllerStats, MOVES_PER_TXN_MAX, startMoves } from "./reassignment_controller.ts";
export { leadsAsThisIncarnation, moveOf, PartitionMoveSchema, type PartitionMove } from "./topic_metadata.ts";
export { type MoveMetrics, moveStatus, type MoveStatus, type MoveStatusInput, MOVE_METRICS_READ_TIMEOUT_MS, parseMoveMetrics, readMetrics } from "./move_status.ts";
export {
  alterReassignments,
  balanceByLoad,
  listReassignments,
  proposeFromView,
  proposeReassignment,
  type ReassignmentChange,
  type ReassignmentHost,
  type ReassignmentOutcome,
} from "./reassignment_admin.ts";
export { type GeneratedPlan, type BrokerLoad } from "./reassignment_generator.ts";
export { type PartitionAssignment } from "./reassignment_plan.ts";
